"""Exposure monitoring: scans of the registered internet-facing endpoints, findings owned by
institutions, scores, and the loop from finding to owner to fix to compliance evidence."""
