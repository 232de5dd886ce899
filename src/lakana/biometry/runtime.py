"""The registry's process-wide objects: the master keystore and the matching engine, built
once per process from the settings (opening a keystore file costs a scrypt derivation)."""

from __future__ import annotations

import hashlib
import hmac
import threading

from lakana.biometry.engine import MatchingEngine
from lakana.biometry.protection.keystore import MasterKeyStore, keystore_from_settings
from lakana.core.config import Settings

_lock = threading.Lock()
_stores: dict[tuple[object, ...], MasterKeyStore] = {}
_engine: MatchingEngine | None = None


def _store_key(settings: Settings) -> tuple[object, ...]:
    return (settings.biometry_pkcs11_module, settings.biometry_pkcs11_token,
            settings.biometry_keystore or settings.resolved_home / "keystore.json")


def keystore(settings: Settings) -> MasterKeyStore:
    """The master keystore these settings name, opened once per process.

    Without a configured passphrase the keystore file is protected by the secret key, which
    suits the embedded default and the demo; production sets its own passphrase (or an HSM).
    """
    key = _store_key(settings)
    with _lock:
        store = _stores.get(key)
        if store is None:
            if settings.biometry_pkcs11_module is None \
                    and not settings.biometry_keystore_passphrase:
                derived = hmac.new(settings.effective_secret_key(), b"lakana.biometry.keystore",
                                   hashlib.sha256).hexdigest()
                settings = settings.model_copy(update={"biometry_keystore_passphrase": derived})
            store = keystore_from_settings(settings)
            _stores[key] = store
        return store


def engine() -> MatchingEngine:
    """The matching engine of this process (the built-in NBIS engine)."""
    global _engine
    with _lock:
        if _engine is None:
            from lakana.biometry.nbis_engine import NbisEngine

            _engine = NbisEngine()
        return _engine


def forget_stores() -> None:
    """Drop the opened keystores (tests that create a fresh home each time)."""
    with _lock:
        _stores.clear()
