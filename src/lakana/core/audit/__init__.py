"""Tamper-evident audit ledger: hash-chained entries and Ed25519-signed checkpoints."""

from lakana.core.audit.ledger import configure_ledger, record, record_read

__all__ = ["configure_ledger", "record", "record_read"]
