"""Compliance reports: trends across campaigns, peer comparison, exports and printable PDFs."""
