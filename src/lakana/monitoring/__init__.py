"""Monitoring domains: exposure of internet-facing services, and (later) intrusion detection."""
