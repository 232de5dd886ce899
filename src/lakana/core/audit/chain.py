"""Pure hash-chain arithmetic shared by the ledger, verification and offline export checks.

No database here: ``lakana audit verify-export`` uses only this module and ``signing``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64

#: Entry fields covered by the hash, in order. Changing this breaks every existing chain.
HASHED_FIELDS: tuple[str, ...] = (
    "seq", "ts", "actor_id", "actor", "via", "action", "object_type", "object_id",
    "object_repr", "institution_id", "source_ip", "before_digest", "after_digest", "details",
)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept, unknown types as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def state_digest(state: dict[str, Any] | None) -> str | None:
    """SHA-256 of an object's state as canonical JSON (``None`` for no state)."""
    if state is None:
        return None
    return hashlib.sha256(canonical_json(state).encode()).hexdigest()


def entry_payload(fields: tuple[Any, ...]) -> bytes:
    """The canonical bytes of an entry given its :data:`HASHED_FIELDS` values in order."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, fields: tuple[Any, ...]) -> str:
    """The hash of an entry: SHA-256 over the previous hash and the entry's canonical bytes."""
    digest = hashlib.sha256(prev_hash.encode())
    digest.update(entry_payload(fields))
    return digest.hexdigest()
