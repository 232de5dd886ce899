"""The export proof document: building its signed statement and checking it offline.

This module needs no database and no settings, only :mod:`chain` and :mod:`signing`, so an
auditor can check an export on a machine that has nothing but Lakana installed
(``lakana audit verify-export FILE --public-key platform.pem``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lakana.core.audit import signing
from lakana.core.audit.chain import HASHED_FIELDS, chain_hash

FORMAT = "lakana-ledger-export/1"
ENTRY_KEYS: tuple[str, ...] = (*HASHED_FIELDS, "prev_hash", "hash")
#: What a redacted entry keeps: its place in the chain, not its content.
REDACTED_KEYS: tuple[str, ...] = ("seq", "prev_hash", "hash")


def redact(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry reduced to its place in the chain, for an export that discloses only some
    entries (the data protection authority's export of the registry's entries)."""
    return {**{k: entry[k] for k in REDACTED_KEYS}, "redacted": True}


def entries_digest(entries: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of the entries as exported (canonical JSON): what a redacted export's second
    signature covers, since redacted entries cannot be rehashed by the reader."""
    return hashlib.sha256(json.dumps(list(entries), sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def build_document(*, entries: Sequence[Mapping[str, Any]],
                   checkpoints: Sequence[Mapping[str, Any]], key: Ed25519PrivateKey,
                   exported_at: str, public_keys: Mapping[str, str]) -> dict[str, Any]:
    """Assemble the export of consecutive ``entries`` and sign its statement with ``key``.

    ``public_keys`` maps key ids to PEM text for the keys that signed the ``checkpoints``;
    the export key's own public key is always added.
    """
    first, last = entries[0], entries[-1]
    first_seq, last_seq = int(first["seq"]), int(last["seq"])
    anchor, last_hash = str(first["prev_hash"]), str(last["hash"])
    statement = {"first_seq": first_seq, "last_seq": last_seq, "anchor": anchor,
                 "last_hash": last_hash, "exported_at": exported_at}
    message = signing.export_message(first_seq, last_seq, anchor, last_hash, exported_at)
    keys = dict(public_keys)
    keys[signing.key_id(key)] = signing.public_pem(key)
    exported = [dict(e) if e.get("redacted") else {k: e[k] for k in ENTRY_KEYS}
                for e in entries]
    redacted = sum(1 for e in exported if e.get("redacted"))
    extra: dict[str, Any] = {}
    if redacted:
        digest = entries_digest(exported)
        extra = {"redacted": redacted, "entries_digest": digest,
                 "entries_signature": signing.sign(key, _entries_message(digest))}
    return {
        "format": FORMAT,
        **statement,
        **extra,
        "hashed_fields": list(HASHED_FIELDS),
        "entries": exported,
        "checkpoints": [{k: c[k] for k in ("seq", "hash", "ts", "key_id", "signature")}
                        for c in checkpoints],
        "statement": {"key_id": signing.key_id(key), "signature": signing.sign(key, message)},
        "key_id": signing.key_id(key),
        "public_key": signing.public_pem(key),
        "public_keys": keys,
    }


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of checking an export: valid or not, why, and what it covered."""

    ok: bool
    reason: str
    entries: int = 0
    checkpoints: int = 0
    trusted_embedded_key: bool = False


class _Bad(Exception):
    """An export that does not verify; the message is the one-line reason."""


def verify_document(document: Any,
                    trusted: Sequence[Ed25519PublicKey] | None = None) -> ProofCheck:
    """Check an export offline: the chain inside it, its statement and its checkpoints.

    With ``trusted`` keys (the platform's published public keys) only they are accepted;
    without, the key embedded in the document is used, which proves integrity but not origin.
    """
    try:
        return _verify(document, trusted)
    except _Bad as exc:
        return ProofCheck(ok=False, reason=str(exc))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return ProofCheck(ok=False, reason=f"malformed export: {exc.__class__.__name__} {exc}")


def _verify(document: Any, trusted: Sequence[Ed25519PublicKey] | None) -> ProofCheck:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _Bad(f"not a Lakana ledger export (expected format {FORMAT})")
    entries = document["entries"]
    if not isinstance(entries, list) or not entries:
        raise _Bad("the export holds no entries")
    hashes = _check_entries(document, entries)
    keys = _keys(document, trusted)
    statement = document["statement"]
    public = keys.get(statement["key_id"])
    if public is None:
        raise _Bad(f"the statement is signed by an untrusted key ({statement['key_id']})")
    redacted = sum(1 for e in entries if e.get("redacted"))
    if redacted:
        # Redacted entries cannot be rehashed: the platform's signature over the exported
        # entries is what binds them (and the disclosed ones) to the statement.
        digest = entries_digest(entries)
        if document.get("entries_digest") != digest or not signing.verify(
                public, _entries_message(digest), str(document.get("entries_signature"))):
            raise _Bad("the signature over the redacted entries is invalid")
    message = signing.export_message(int(document["first_seq"]), int(document["last_seq"]),
                                     str(document["anchor"]), str(document["last_hash"]),
                                     str(document["exported_at"]))
    if not signing.verify(public, message, statement["signature"]):
        raise _Bad("the signature of the export statement is invalid")
    for cp in document["checkpoints"]:
        seq = int(cp["seq"])
        cp_key = keys.get(cp["key_id"])
        if cp_key is None:
            raise _Bad(f"the checkpoint at seq {seq} is signed by an untrusted key "
                       f"({cp['key_id']})")
        if not signing.verify(cp_key, signing.checkpoint_message(seq, cp["hash"], cp["ts"]),
                              cp["signature"]):
            raise _Bad(f"the signature of the checkpoint at seq {seq} is invalid")
        if hashes.get(seq) != cp["hash"]:
            raise _Bad(f"entry {seq} does not match its signed checkpoint")
    return ProofCheck(ok=True, reason=(
        f"export valid: entries {document['first_seq']} to {document['last_seq']}, "
        f"{len(document['checkpoints'])} checkpoints"
        + (f", {redacted} entries of other domains redacted" if redacted else "")),
        entries=len(entries), checkpoints=len(document["checkpoints"]),
        trusted_embedded_key=trusted is None)


def _check_entries(document: dict[str, Any], entries: list[dict[str, Any]]) -> dict[int, str]:
    """Recompute the chain inside the export; return each entry's hash by sequence."""
    prev = document["anchor"]
    expected = int(document["first_seq"])
    hashes: dict[int, str] = {}
    for entry in entries:
        seq = entry["seq"]
        if seq != expected:
            raise _Bad(f"entry {expected} is missing (found {seq})")
        if entry["prev_hash"] != prev:
            raise _Bad(f"entry {seq} does not link to the previous entry")
        if entry.get("redacted"):
            digest = str(entry["hash"])
            hashes[seq] = digest
            prev = digest
            expected += 1
            continue
        digest = chain_hash(prev, tuple(entry[f] for f in HASHED_FIELDS))
        if digest != entry["hash"]:
            raise _Bad(f"entry {seq} was altered: its content does not match its hash")
        hashes[seq] = digest
        prev = digest
        expected += 1
    if expected - 1 != int(document["last_seq"]) or prev != document["last_hash"]:
        raise _Bad("the entries do not end where the statement says")
    return hashes


def _entries_message(digest: str) -> bytes:
    return f"lakana-ledger-export-entries\n{digest}".encode()


def _keys(document: dict[str, Any],
          trusted: Sequence[Ed25519PublicKey] | None) -> dict[str, Ed25519PublicKey]:
    if trusted is not None:
        return {signing.key_id(k): k for k in trusted}
    keys: dict[str, Ed25519PublicKey] = {}
    for claimed, pem in dict(document.get("public_keys") or {}).items():
        public = signing.load_public_pem(pem)
        if signing.key_id(public) != claimed:
            raise _Bad(f"embedded key {claimed} does not match its fingerprint")
        keys[claimed] = public
    return keys
