"""Blind indexes: a keyed hash of a normalised value, for exact-match lookup of encrypted
demographic fields (national id number, names) without decrypting every row.

The hash is keyed (HMAC-SHA256 under the store's lookup key) because a plain hash of a
national id number is brute-forced in minutes; the lookup key is not a master key, so it
stays the same across rotations and the indexes never need recomputing.
"""

from __future__ import annotations

import unicodedata

from lakana.biometry.protection.keystore import MasterKeyStore

_DOMAIN = b"lakana.biometry.blind-index.v1\x00"


def normalise(value: str) -> str:
    """NFKC, case-folded, with runs of white space collapsed to one space and trimmed."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def blind_index(store: MasterKeyStore, field: str, value: str) -> str:
    """The hex keyed hash of ``value`` for ``field``; the field name is hashed in so equal
    values in two fields (a name and a place) do not share an index."""
    message = _DOMAIN + field.encode() + b"\x00" + normalise(value).encode()
    return store.lookup_mac(message).hex()
