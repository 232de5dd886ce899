"""The platform's Ed25519 ledger key: creation, loading, signing, verification."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def create_key(path: Path) -> Ed25519PrivateKey:
    """Create a new private key at ``path`` (mode 0600); refuse to overwrite one."""
    if path.exists():
        raise FileExistsError(f"ledger key already exists: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load the private key from a PEM file."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 private key: {path}")
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as PEM text."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_pem(text: str) -> Ed25519PublicKey:
    """Parse a PEM public key."""
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short fingerprint of the public key (SHA-256 of its raw bytes, 16 hex digits)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_message(seq: int, chain_hash: str, ts: str) -> bytes:
    """The exact bytes a checkpoint signs."""
    return f"lakana-ledger-checkpoint\n{seq}\n{chain_hash}\n{ts}".encode()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Sign and return the signature in base64."""
    return base64.b64encode(key.sign(message)).decode()


def verify(public: Ed25519PublicKey, message: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` is a valid signature of ``message``."""
    try:
        public.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def export_message(first_seq: int, last_seq: int, anchor: str, last_hash: str,
                   exported_at: str) -> bytes:
    """The exact bytes an export's statement signs."""
    return (f"lakana-ledger-export\n{first_seq}\n{last_seq}\n{anchor}\n{last_hash}\n"
            f"{exported_at}").encode()


def retired_public_keys(private_key_path: Path) -> list[Path]:
    """Public keys of retired ledger keys, kept next to the current key as ``*.pub.pem``."""
    folder = private_key_path.parent
    return sorted(folder.glob("*.pub.pem")) if folder.is_dir() else []


def trusted_keys(private_key_path: Path,
                 extra_public_pems: list[str] | None = None) -> dict[str, Ed25519PublicKey]:
    """Public keys a verifier trusts, by key id: the current key, retired keys, and extras.

    Retired keys stay trusted so checkpoints signed before a rotation still verify.
    """
    keys: dict[str, Ed25519PublicKey] = {}
    if private_key_path.exists():
        public = load_private_key(private_key_path).public_key()
        keys[key_id(public)] = public
    pems = [p.read_text() for p in retired_public_keys(private_key_path)]
    for pem in [*pems, *(extra_public_pems or [])]:
        public = load_public_pem(pem)
        keys[key_id(public)] = public
    return keys
