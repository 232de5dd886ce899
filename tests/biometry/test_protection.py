"""Envelope encryption, blind indexes and the two keystores (file and real SoftHSM2)."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from lakana.biometry.protection.blind_index import blind_index, normalise
from lakana.biometry.protection.envelope import (
    Sealed,
    TamperedError,
    open_sealed,
    record_aad,
    seal,
)
from lakana.biometry.protection.keystore import (
    FileKeyStore,
    KeystoreError,
    MasterKeyStore,
    Pkcs11KeyStore,
    keystore_from_settings,
)
from lakana.core.config import Settings
from tests.biometry.conftest import HSM_PIN, PASSPHRASE

SAMPLE = b"FAKE-WSQ\xff\xa0" + os.urandom(2000)
AAD = record_aad("fingerprint_wsq", "person:42")


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]


def _check_round_trip_and_tamper(store: MasterKeyStore) -> None:
    sealed = seal(store, SAMPLE, AAD)
    assert sealed.key_id == store.current_key_id()
    assert SAMPLE not in sealed.ciphertext
    assert open_sealed(store, sealed, AAD) == SAMPLE
    for name in ("ciphertext", "nonce", "wrapped_key"):
        altered = dataclasses.replace(sealed, **{name: _flip(getattr(sealed, name), 3)})
        with pytest.raises(TamperedError):
            open_sealed(store, altered, AAD)
    with pytest.raises(TamperedError):
        open_sealed(store, sealed, record_aad("fingerprint_wsq", "person:43"))
    # A blob swapped between two records does not open either.
    other = seal(store, b"other", record_aad("face_image", "person:7"))
    with pytest.raises(TamperedError):
        open_sealed(store, dataclasses.replace(sealed, wrapped_key=other.wrapped_key), AAD)


def test_file_store_round_trip_and_tamper(file_store: FileKeyStore) -> None:
    # Given a keystore file, when a sample is sealed and altered, then only the intact
    # record opens.
    _check_round_trip_and_tamper(file_store)


def test_unknown_and_wrong_key(file_store: FileKeyStore, tmp_path: Path) -> None:
    sealed = seal(file_store, SAMPLE, AAD)
    with pytest.raises(KeystoreError, match="not in the biometric keystore"):
        open_sealed(file_store, dataclasses.replace(sealed, key_id="mk-unknown"), AAD)
    # Another keystore (another master key under the same id would be a different key).
    other = FileKeyStore(tmp_path / "other.json", PASSPHRASE)
    with pytest.raises(KeystoreError):
        open_sealed(other, sealed, AAD)
    # The old key still opens rows after a new current key is created.
    old = file_store.current_key_id()
    new = file_store.create_key()
    assert new != old and file_store.current_key_id() == new
    assert open_sealed(file_store, sealed, AAD) == SAMPLE


def test_keystore_file_mode_reload_and_passphrase(file_store: FileKeyStore,
                                                  keystore_path: Path) -> None:
    # Given a new keystore file: owner-only, no key in clear.
    assert stat.S_IMODE(keystore_path.stat().st_mode) == 0o600
    doc = json.loads(keystore_path.read_text())
    assert doc["kdf"]["name"] == "scrypt" and len(doc["keys"]) == 1
    sealed = seal(file_store, SAMPLE, AAD)
    second = file_store.create_key()
    assert stat.S_IMODE(keystore_path.stat().st_mode) == 0o600
    # When reloaded from disk, then both keys and the lookup key are back.
    again = FileKeyStore(keystore_path, PASSPHRASE, create=False)
    assert again.current_key_id() == second
    assert open_sealed(again, sealed, AAD) == SAMPLE
    assert blind_index(again, "nin", "X1") == blind_index(file_store, "nin", "X1")
    # A wrong passphrase is refused with a clear message.
    with pytest.raises(KeystoreError, match="passphrase does not open"):
        FileKeyStore(keystore_path, "wrong passphrase")
    with pytest.raises(KeystoreError, match="passphrase is not set"):
        FileKeyStore(keystore_path, "")
    # A group- or world-readable file is refused.
    keystore_path.chmod(0o644)
    with pytest.raises(KeystoreError, match="open to other users"):
        FileKeyStore(keystore_path, PASSPHRASE)


def test_missing_keystore_without_create(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="does not exist"):
        FileKeyStore(tmp_path / "absent.json", PASSPHRASE, create=False)


def test_other_process_rotation_seen(file_store: FileKeyStore, keystore_path: Path) -> None:
    # Given two processes on one keystore file, when one creates a key, then the other
    # seals under it (its file changed on disk).
    other = FileKeyStore(keystore_path, PASSPHRASE)
    new = other.create_key()
    assert file_store.current_key_id() == new


def test_blind_index(file_store: FileKeyStore, tmp_path: Path) -> None:
    assert normalise("  Aïssata\u00a0 TRAORÉ ") == "aïssata traoré"
    assert blind_index(file_store, "name", "AÏSSATA  Traoré") == blind_index(
        file_store, "name", "aïssata traoré")
    assert blind_index(file_store, "name", "x") != blind_index(file_store, "place", "x")
    other = FileKeyStore(tmp_path / "other.json", PASSPHRASE)
    assert blind_index(other, "name", "x") != blind_index(file_store, "name", "x")


def test_keystore_from_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, biometry_keystore_passphrase=PASSPHRASE,
                        _env_file=None)  # type: ignore[call-arg]
    store = keystore_from_settings(settings)
    assert isinstance(store, FileKeyStore)
    assert store.path == tmp_path.resolve() / "keystore.json"


def test_pkcs11_round_trip_tamper_and_rotation(hsm_store: Pkcs11KeyStore,
                                               softhsm_token: Path) -> None:
    # Given a real SoftHSM2 token: the store created a first key and a lookup key.
    _check_round_trip_and_tamper(hsm_store)
    sealed = seal(hsm_store, SAMPLE, AAD)
    old = hsm_store.current_key_id()
    new = hsm_store.create_key()
    assert hsm_store.current_key_id() == new and hsm_store.key_ids() == [old, new]
    assert open_sealed(hsm_store, sealed, AAD) == SAMPLE
    mac = blind_index(hsm_store, "nin", "ML-123")
    # The keys are non-extractable: a second session finds them, never their value.
    again = keystore_from_settings(Settings(
        biometry_pkcs11_module=softhsm_token, biometry_pkcs11_pin=HSM_PIN,
        _env_file=None))  # type: ignore[call-arg]
    assert isinstance(again, Pkcs11KeyStore)
    try:
        assert again.key_ids() == [old, new]
        assert open_sealed(again, sealed, AAD) == SAMPLE
        assert blind_index(again, "nin", "ml-123 ") == mac
        import pkcs11

        key = again._handle(new)
        assert key[pkcs11.Attribute.EXTRACTABLE] is False
        assert key[pkcs11.Attribute.SENSITIVE] is True
        with pytest.raises(KeystoreError, match="not on the HSM token"):
            open_sealed(again, dataclasses.replace(sealed, key_id="mk-unknown"), AAD)
    finally:
        again.close()


def test_pkcs11_wrong_pin(softhsm_token: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot be opened.*PinIncorrect"):
        Pkcs11KeyStore(softhsm_token, "lakana", "0000")
    with pytest.raises(KeystoreError, match="cannot be opened.*NoSuchToken"):
        Pkcs11KeyStore(softhsm_token, "absent", HSM_PIN)


def test_sealed_is_frozen() -> None:
    sealed = Sealed(key_id="k", wrapped_key=b"", nonce=b"", ciphertext=b"")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sealed.key_id = "x"  # type: ignore[misc]
