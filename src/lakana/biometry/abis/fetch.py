"""Getting the CBEFF document behind a request's ``referenceURL`` (MOSIP's data share).

Lakana fetches only URLs that start with one of the configured prefixes
(``biometry_abis_url_prefixes``; none by default, so nothing is fetched), without following
redirects, within a timeout and a size limit. MOSIP answers functional errors with HTTP 200
and a JSON ``errors`` list: an expired share maps to failure reason 17, anything else to 7.
The body is the CBEFF XML itself, its base64, or MOSIP's encrypted data share (decrypted
with the ABIS partner's RSA key, ``biometry_abis_partner_key``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lakana.biometry.abis.messages import AbisFailure, FailureReason
from lakana.core.config import Settings

log = logging.getLogger("lakana.biometry.abis")

KEY_SPLITTER = b"#KEY_SPLITTER#"
_VERSION_BYTES = b"VER_R2"
_THUMBPRINT_BYTES = 32
_AAD_BYTES = 32
_NONCE_BYTES = 12


def url_allowed(url: str, prefixes: list[str]) -> bool:
    """Whether ``url`` is http(s), has no user part or dot segment, and lies under one of
    ``prefixes``: same scheme, host and port, and a path under the prefix's path. A prefix
    whose path does not end with ``/`` is ignored, so ``https://share.example`` can never
    let ``https://share.example.evil.test/`` through."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        return False
    segments = parts.path.split("/")
    if ".." in segments or "." in segments or "%2e" in parts.path.lower():
        return False
    for prefix in prefixes:
        allowed = urlsplit(prefix)
        if not allowed.path.endswith("/") or "@" in allowed.netloc:
            continue
        if (allowed.scheme, allowed.netloc.lower()) == (parts.scheme, parts.netloc.lower()) \
                and parts.path.startswith(allowed.path) and url.startswith(prefix):
            return True
    return False


def fetch_reference(url: str, *, settings: Settings) -> bytes:
    """The CBEFF XML document behind ``url``; :class:`AbisFailure` 7 (or 17) if not had."""
    if not url_allowed(url, list(settings.biometry_abis_url_prefixes)):
        raise AbisFailure(FailureReason.UNABLE_TO_FETCH, "referenceURL outside the allowed "
                          "prefixes")
    limit = settings.biometry_abis_fetch_max_bytes
    headers = {"Accept": "*/*"}
    if settings.biometry_abis_datashare_token:
        headers["Cookie"] = f"Authorization={settings.biometry_abis_datashare_token}"
    try:
        with httpx.Client(timeout=settings.biometry_abis_fetch_timeout, follow_redirects=False,
                          trust_env=False) as client, \
                client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise AbisFailure(FailureReason.UNABLE_TO_FETCH,
                                  f"data share answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise AbisFailure(FailureReason.UNABLE_TO_FETCH,
                                      f"data share body over {limit} bytes")
    except httpx.HTTPError as exc:
        raise AbisFailure(FailureReason.UNABLE_TO_FETCH,
                          f"data share unreachable: {type(exc).__name__}") from None
    return decode_share(bytes(body), settings=settings)


def decode_share(body: bytes, *, settings: Settings) -> bytes:
    """The CBEFF XML in a data share body: plain XML, base64 of it, a MOSIP error, or
    MOSIP's encrypted share."""
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return text
    if text.startswith(b"{"):
        raise _share_error(text)
    try:
        decoded = base64.urlsafe_b64decode(text.strip() + b"=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise AbisFailure(FailureReason.INVALID_CBEFF, "data share is neither XML nor "
                          "base64") from None
    if decoded.lstrip().startswith(b"<"):
        return decoded.lstrip()
    if KEY_SPLITTER in decoded:
        return decrypt_share(decoded, settings=settings)
    raise AbisFailure(FailureReason.INVALID_CBEFF, "data share holds no CBEFF XML")


def _share_error(body: bytes) -> AbisFailure:
    try:
        errors = json.loads(body).get("errors") or []
        messages = " ".join(f"{e.get('errorCode', '')} {e.get('message', '')}"
                            for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        messages = ""
    if "expired" in messages.lower():
        return AbisFailure(FailureReason.DATASHARE_EXPIRED, messages[:200])
    return AbisFailure(FailureReason.UNABLE_TO_FETCH, f"data share error: {messages[:200]}")


def decrypt_share(data: bytes, *, settings: Settings) -> bytes:
    """Open MOSIP 1.2's encrypted data share: ``VER_R2`` ‖ certificate thumbprint (32) ‖
    RSA-OAEP-SHA256 wrapped AES key, ``#KEY_SPLITTER#``, then 32 bytes of AAD (its first 12
    the GCM nonce) ‖ AES-GCM ciphertext. MOSIP 1.1.5's layout (no version bytes, a 32-byte
    nonce after the ciphertext, no AAD) is tried too."""
    path = settings.biometry_abis_partner_key
    if path is None:
        raise AbisFailure(FailureReason.UNABLE_TO_FETCH, "data share is encrypted and no "
                          "ABIS partner key is configured")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise AbisFailure(FailureReason.UNABLE_TO_FETCH, "the ABIS partner key cannot be "
                          "read") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AbisFailure(FailureReason.UNABLE_TO_FETCH, "the ABIS partner key is not RSA")
    block1, _, block2 = data.partition(KEY_SPLITTER)
    wrapped = block1[len(_VERSION_BYTES) + _THUMBPRINT_BYTES:] \
        if block1.startswith(_VERSION_BYTES) else block1[_THUMBPRINT_BYTES:]
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=None)
    try:
        aes_key = key.decrypt(wrapped, oaep)
        if block1.startswith(_VERSION_BYTES):
            aad = block2[:_AAD_BYTES]
            plain = AESGCM(aes_key).decrypt(aad[:_NONCE_BYTES], block2[_AAD_BYTES:], aad)
        else:
            plain = AESGCM(aes_key).decrypt(block2[-_AAD_BYTES:], block2[:-_AAD_BYTES], None)
    except (ValueError, InvalidTag):
        raise AbisFailure(FailureReason.UNABLE_TO_FETCH, "the data share does not decrypt "
                          "with the ABIS partner key") from None
    plain = plain.lstrip()
    if not plain.startswith(b"<"):
        try:
            plain = base64.urlsafe_b64decode(plain + b"=" * (-len(plain) % 4)).lstrip()
        except (binascii.Error, ValueError):
            raise AbisFailure(FailureReason.INVALID_CBEFF, "decrypted share is not XML"
                              ) from None
    return plain
