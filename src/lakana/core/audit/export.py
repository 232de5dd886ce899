"""Export a range of the ledger with its proof (see :mod:`proof` for the offline check)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.audit import proof, signing
from lakana.core.audit.ledger import now_iso
from lakana.core.audit.models import AuditEntry, LedgerCheckpoint, LedgerHead
from lakana.core.errors import Conflict, Invalid

#: The largest range one export may hold (keeps a request's memory bounded).
MAX_EXPORT_ENTRIES = 200_000


def build_export(*, session: Session, key: Ed25519PrivateKey, from_seq: int, to_seq: int,
                 known_keys: Mapping[str, Ed25519PublicKey] | None = None,
                 disclose: Callable[[Mapping[str, Any]], bool] | None = None
                 ) -> dict[str, Any]:
    """The proof document for entries ``from_seq`` to ``to_seq`` (inclusive), signed by ``key``.

    ``known_keys`` supplies the public keys of retired keys that signed checkpoints in the
    range, so that they travel with the export. With ``disclose``, the entries it refuses
    keep only their place in the chain (sequence and hashes), and the document gets a second
    signature over the exported entries.
    """
    head_seq = session.scalar(select(LedgerHead.seq).where(LedgerHead.id == 1)) or 0
    if from_seq < 1 or to_seq < from_seq:
        raise Invalid("The range %(first)s to %(last)s is not valid.", first=from_seq,
                      last=to_seq)
    if to_seq > head_seq:
        raise Invalid("The ledger ends at entry %(head)s.", head=head_seq)
    if to_seq - from_seq + 1 > MAX_EXPORT_ENTRIES:
        raise Invalid("An export holds at most %(max)s entries.", max=MAX_EXPORT_ENTRIES)
    columns = [getattr(AuditEntry, name) for name in proof.ENTRY_KEYS]
    entries = [dict(zip(proof.ENTRY_KEYS, row, strict=True)) for row in session.execute(
        select(*columns).where(AuditEntry.seq.between(from_seq, to_seq))
        .order_by(AuditEntry.seq))]
    if len(entries) != to_seq - from_seq + 1:
        raise Conflict("Entries are missing in this range: verify the ledger.")
    if disclose is not None:
        entries = [e if disclose(e) else proof.redact(e) for e in entries]
    checkpoints: list[dict[str, Any]] = [
        {"seq": c.seq, "hash": c.hash, "ts": c.ts, "key_id": c.key_id, "signature": c.signature}
        for c in session.scalars(select(LedgerCheckpoint).where(
            LedgerCheckpoint.seq.between(from_seq, to_seq))
            .order_by(LedgerCheckpoint.seq, LedgerCheckpoint.id))]
    public_keys = {cp["key_id"]: signing.public_pem(known_keys[cp["key_id"]])
                   for cp in checkpoints if known_keys and cp["key_id"] in known_keys}
    return proof.build_document(entries=entries, checkpoints=checkpoints, key=key,
                                exported_at=now_iso(), public_keys=public_keys)
