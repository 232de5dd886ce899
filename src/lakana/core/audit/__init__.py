"""Tamper-evident audit ledger: hash-chained entries and Ed25519-signed checkpoints."""

from lakana.core.audit.ledger import record, record_read

__all__ = ["record", "record_read"]
