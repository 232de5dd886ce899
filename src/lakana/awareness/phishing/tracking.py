"""Signed tracking tokens: ``<target id>.<HMAC-SHA256>``, keyed by a key derived from the
platform's secret key. A token names one target; the route names the event. A forged or
altered token is simply unknown (the routes answer a neutral 404 and record nothing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from lakana.core.config import Settings

_CONTEXT = b"lakana.awareness.phishing.tracking v1"


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.effective_secret_key(), _CONTEXT, hashlib.sha256).digest()


def _signature(key: bytes, target_id: int) -> str:
    digest = hmac.new(key, f"target:{target_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def make_token(settings: Settings, target_id: int) -> str:
    """The tracking token of a target."""
    return f"{target_id}.{_signature(_key(settings), target_id)}"


def make_tokens(settings: Settings, target_ids: list[int]) -> dict[int, str]:
    """Tracking tokens of many targets (the key derived once)."""
    key = _key(settings)
    return {ident: f"{ident}.{_signature(key, ident)}" for ident in target_ids}


def read_token(settings: Settings, token: str) -> int | None:
    """The target a token names, or ``None`` when it is malformed or its signature is wrong."""
    ident, dot, signature = token.partition(".")
    if not dot or not ident.isdigit() or len(ident) > 12 or len(signature) != 24:
        return None
    expected = _signature(_key(settings), int(ident))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    return int(ident)
