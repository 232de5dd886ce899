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
_engines: dict[str, MatchingEngine] = {}


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


def engine(settings: Settings | None = None) -> MatchingEngine:
    """The matching engine of this process: the built-in NBIS engine, with the face encoder
    the settings name (``biometry_face_encoder``, an entry point of the
    ``lakana.face_encoders`` group) or none (faces checked and stored, not compared)."""
    name = settings.biometry_face_encoder if settings is not None else ""
    with _lock:
        built = _engines.get(name)
        if built is None:
            from lakana.biometry.nbis_engine import NbisEngine

            encoder = None
            if name:
                from lakana.biometry.matching.encoders import load_face_encoder

                encoder = load_face_encoder(name)
            built = _engines[name] = NbisEngine(face_encoder=encoder)
        return built


def forget_stores() -> None:
    """Drop the opened keystores (tests that create a fresh home each time)."""
    with _lock:
        _stores.clear()
