"""Master keys of the biometric registry: a keystore file or an HSM through PKCS#11.

A master key never encrypts biometric data itself: it only wraps the per-record data keys
(envelope encryption, see :mod:`lakana.biometry.protection.envelope`). Each store also holds
one separate, stable secret for the blind indexes of encrypted demographic fields.

The file backend wraps with AES key wrap with padding (RFC 5649) rather than AES-GCM: it is
the standard built for wrapping keys, deterministic (no nonce to draw, so no nonce-reuse risk
over millions of re-wraps) and integrity-protected, and it is the same construction HSMs
offer as ``CKM_AES_KEY_WRAP_PAD``.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap_with_padding,
)

from lakana.core.errors import LakanaError

if TYPE_CHECKING:
    from lakana.core.config import Settings

#: Master keys and data keys are AES-256.
KEY_BYTES = 32
#: Token labels of master keys start with this; the rest is the key id.
HSM_LABEL_PREFIX = "lakana-mk-"
HSM_LOOKUP_LABEL = "lakana-lookup"
_FORMAT = "lakana-biometry-keystore"
_FORMAT_VERSION = 1
#: scrypt cost: about 0.1 s and 32 MiB per opening, paid once per process.
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1


class KeystoreError(LakanaError):
    """The master keys cannot be used: keystore missing, unreadable, too open, wrong
    passphrase or PIN, unknown key."""

    status = 503
    title = "Keystore unavailable"
    type_slug = "keystore-unavailable"


class UnwrapError(LakanaError):
    """A wrapped data key does not unwrap under its master key (tampered or mismatched)."""

    status = 422
    title = "Tampered data"
    type_slug = "tampered"


def new_key_id() -> str:
    """A fresh master key id; ids sort in creation order (UTC time first)."""
    now = dt.datetime.now(dt.UTC)
    return f"mk-{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"


class MasterKeyStore(ABC):
    """Where master keys live; data keys are wrapped and unwrapped through it."""

    #: Backend name recorded beside each master key (``file``, ``pkcs11``).
    backend: ClassVar[str]

    @abstractmethod
    def current_key_id(self) -> str:
        """The id of the master key new seals use."""

    @abstractmethod
    def key_ids(self) -> list[str]:
        """Every master key id the store holds, oldest first."""

    @abstractmethod
    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        """Wrap ``data_key`` under master key ``key_id``."""

    @abstractmethod
    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        """The data key wrapped in ``wrapped`` under master key ``key_id``; raises
        :class:`UnwrapError` if it was altered, :class:`KeystoreError` for an unknown key."""

    @abstractmethod
    def create_key(self) -> str:
        """Create a master key, make it the current one at once, and return its id."""

    @abstractmethod
    def lookup_mac(self, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under the store's lookup key (for blind indexes).

        A method rather than a key getter: in an HSM the lookup key never leaves the token.
        """


# --- the keystore file ------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class FileKeyStore(MasterKeyStore):
    """Master keys in a JSON file, each encrypted (AES-256-GCM) under a key derived from a
    passphrase with scrypt. The file is written atomically, mode 0600, and refused when
    group or others may read it."""

    backend = "file"

    def __init__(self, path: Path, passphrase: str, *, create: bool = True) -> None:
        if not passphrase:
            raise KeystoreError("The biometric keystore passphrase is not set "
                                "(LAKANA_BIOMETRY_KEYSTORE_PASSPHRASE).")
        self.path = path
        self._passphrase = passphrase.encode("utf-8")
        self._keys: dict[str, bytes] = {}
        self._current = ""
        self._lookup = b""
        self._doc: dict[str, Any] = {}
        self._stamp = (0, 0)
        if path.exists():
            self._load()
        elif create:
            self._initialise()
        else:
            raise KeystoreError("The biometric keystore file %(path)s does not exist.",
                                path=str(path))

    # public API

    def current_key_id(self) -> str:
        """The current key id, reloading the file if another process rotated meanwhile."""
        self._reload_if_changed()
        return self._current

    def key_ids(self) -> list[str]:
        """Every key id in the file, oldest first."""
        self._reload_if_changed()
        return sorted(self._keys)

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        """RFC 5649 wrap of ``data_key`` under master key ``key_id``."""
        return aes_key_wrap_with_padding(self._key(key_id), data_key)

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        """RFC 5649 unwrap; the integrity check fails on any altered byte."""
        try:
            return aes_key_unwrap_with_padding(self._key(key_id), wrapped)
        except InvalidUnwrap:
            raise UnwrapError("The wrapped data key does not match its master key %(key_id)s: "
                              "it was altered or belongs elsewhere.", key_id=key_id) from None

    def create_key(self) -> str:
        """Add a fresh random master key, make it current and rewrite the file."""
        key_id = new_key_id()
        key = secrets.token_bytes(KEY_BYTES)
        # An exclusive lock beside the file: two processes adding a key at once would
        # otherwise each rewrite the file without the other's key.
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600), "rb") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            self._reload_if_changed()
            kek = self._kek()
            doc = dict(self._doc)
            doc["keys"] = {**doc["keys"], key_id: self._encrypt_entry(kek, key_id, key)}
            doc["current"] = key_id
            self._write(doc)
        self._keys[key_id] = key
        self._current = key_id
        return key_id

    def lookup_mac(self, message: bytes) -> bytes:
        """HMAC-SHA256 under the lookup key held in the file."""
        return hmac.new(self._lookup, message, hashlib.sha256).digest()

    # private helpers

    def _key(self, key_id: str) -> bytes:
        key = self._keys.get(key_id)
        if key is None:
            self._reload_if_changed()
            key = self._keys.get(key_id)
        if key is None:
            raise KeystoreError("The master key %(key_id)s is not in the biometric keystore.",
                                key_id=key_id)
        return key

    def _kek(self, salt: bytes | None = None, params: dict[str, int] | None = None) -> bytes:
        kdf = self._doc.get("kdf", {}) if params is None else params
        salt = salt if salt is not None else _unb64(self._doc["kdf"]["salt"])
        return Scrypt(salt=salt, length=KEY_BYTES, n=int(kdf.get("n", _SCRYPT_N)),
                      r=int(kdf.get("r", _SCRYPT_R)), p=int(kdf.get("p", _SCRYPT_P))
                      ).derive(self._passphrase)

    @staticmethod
    def _encrypt_entry(kek: bytes, name: str, secret: bytes) -> dict[str, str]:
        nonce = os.urandom(12)
        # The entry's name is the AAD, so two entries cannot be swapped in the file.
        sealed = AESGCM(kek).encrypt(nonce, secret, name.encode())
        return {"nonce": _b64(nonce), "ciphertext": _b64(sealed)}

    @staticmethod
    def _decrypt_entry(kek: bytes, name: str, entry: dict[str, str]) -> bytes:
        return AESGCM(kek).decrypt(_unb64(entry["nonce"]), _unb64(entry["ciphertext"]),
                                   name.encode())

    def _initialise(self) -> None:
        salt = os.urandom(16)
        params = {"n": _SCRYPT_N, "r": _SCRYPT_R, "p": _SCRYPT_P}
        kek = self._kek(salt, params)
        key_id = new_key_id()
        key = secrets.token_bytes(KEY_BYTES)
        lookup = secrets.token_bytes(KEY_BYTES)
        doc: dict[str, Any] = {
            "format": _FORMAT, "version": _FORMAT_VERSION,
            "kdf": {"name": "scrypt", "salt": _b64(salt), **params},
            "current": key_id,
            "lookup": self._encrypt_entry(kek, "lookup", lookup),
            "keys": {key_id: self._encrypt_entry(kek, key_id, key)},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write(doc)
        self._doc, self._keys, self._current, self._lookup = doc, {key_id: key}, key_id, lookup

    def _check_mode(self) -> os.stat_result:
        info = self.path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeystoreError("The biometric keystore file %(path)s is open to other users "
                                "(mode %(mode)s): restrict it to its owner (chmod 600).",
                                path=str(self.path), mode=oct(stat.S_IMODE(info.st_mode)))
        return info

    def _load(self) -> None:
        info = self._check_mode()
        try:
            doc = json.loads(self.path.read_text("utf-8"))
            if doc.get("format") != _FORMAT or doc.get("version") != _FORMAT_VERSION:
                raise ValueError("format")
        except (OSError, ValueError) as exc:
            raise KeystoreError("The biometric keystore file %(path)s is not a readable "
                                "Lakana keystore.", path=str(self.path)) from exc
        self._doc = doc
        kek = self._kek()
        try:
            lookup = self._decrypt_entry(kek, "lookup", doc["lookup"])
            keys = {kid: self._decrypt_entry(kek, kid, entry)
                    for kid, entry in doc["keys"].items()}
        except InvalidTag:
            raise KeystoreError("The passphrase does not open the biometric keystore "
                                "%(path)s.", path=str(self.path)) from None
        if doc["current"] not in keys:
            raise KeystoreError("The biometric keystore %(path)s names a current key it "
                                "does not hold.", path=str(self.path))
        self._keys, self._current, self._lookup = keys, doc["current"], lookup
        self._stamp = (info.st_ino, info.st_mtime_ns)

    def _reload_if_changed(self) -> None:
        try:
            info = self.path.stat()
            # The file is only ever replaced by a rename: a new inode or time means a change.
            changed = (info.st_ino, info.st_mtime_ns) != self._stamp
        except FileNotFoundError:
            raise KeystoreError("The biometric keystore file %(path)s has disappeared.",
                                path=str(self.path)) from None
        if changed:
            self._load()

    def _write(self, doc: dict[str, Any]) -> None:
        # Write a 0600 temporary file beside the keystore, then rename it over: a crash
        # leaves the old file or the new one, never half of one, and it is never readable
        # by others even for a moment.
        fd, tmp = tempfile.mkstemp(prefix=".keystore-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._doc = doc
        info = self.path.stat()
        self._stamp = (info.st_ino, info.st_mtime_ns)


# --- PKCS#11 (HSM) ----------------------------------------------------------------------------


class Pkcs11KeyStore(MasterKeyStore):
    """Master keys as non-extractable AES-256 keys on an HSM token, labelled by key id.

    Data keys are wrapped by AES-GCM encryption inside the token (SoftHSM2 offers
    ``CKM_AES_KEY_WRAP_PAD`` only for key objects, which would put every data key on the
    token): the wrapped form is nonce (12 bytes) then ciphertext and tag, with the key id as
    AAD. The lookup key is a non-extractable generic secret used through
    ``CKM_SHA256_HMAC``.
    """

    backend = "pkcs11"

    def __init__(self, module: Path, token_label: str, pin: str) -> None:
        try:
            import pkcs11
        except ImportError as exc:  # pragma: no cover - python-pkcs11 is a dependency
            raise KeystoreError("python-pkcs11 is not installed: the HSM backend is "
                                "unavailable.") from exc
        if not pin:
            raise KeystoreError("The HSM user PIN is not set (LAKANA_BIOMETRY_PKCS11_PIN).")
        self._p11 = pkcs11
        try:
            lib = pkcs11.lib(str(module))
            token = lib.get_token(token_label=token_label)
            try:
                self._session = token.open(user_pin=pin, rw=True)
            except pkcs11.UserAlreadyLoggedIn:
                # PKCS#11 logins are per process: another store here already logged in.
                self._session = token.open(rw=True)
        except (pkcs11.PKCS11Error, RuntimeError) as exc:
            raise KeystoreError("The HSM token %(token)s cannot be opened with the module "
                                "%(module)s: %(reason)s.", token=token_label,
                                module=str(module), reason=type(exc).__name__) from exc
        self._handles: dict[str, Any] = {}
        self._lookup = self._find_or_create_lookup()
        if not self.key_ids():
            self.create_key()

    def close(self) -> None:
        """Close the session on the token."""
        self._session.close()

    def current_key_id(self) -> str:
        """The newest master key on the token (ids sort by creation time)."""
        ids = self.key_ids()
        if not ids:
            raise KeystoreError("The HSM token holds no biometric master key.")
        return ids[-1]

    def key_ids(self) -> list[str]:
        """Ids of every master key on the token, oldest first."""
        p11 = self._p11
        found = self._session.get_objects({p11.Attribute.CLASS: p11.ObjectClass.SECRET_KEY,
                                           p11.Attribute.KEY_TYPE: p11.KeyType.AES})
        labels = [str(obj[p11.Attribute.LABEL]) for obj in found]
        return sorted(label[len(HSM_LABEL_PREFIX):] for label in labels
                      if label.startswith(HSM_LABEL_PREFIX))

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        """AES-GCM encryption of ``data_key`` inside the token, the key id as AAD."""
        nonce = os.urandom(12)
        params = self._p11.GCMParams(nonce, key_id.encode(), 128)
        sealed = self._handle(key_id).encrypt(data_key, mechanism=self._p11.Mechanism.AES_GCM,
                                              mechanism_param=params)
        return nonce + bytes(sealed)

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        """AES-GCM decryption inside the token; fails on any altered byte."""
        p11 = self._p11
        params = p11.GCMParams(wrapped[:12], key_id.encode(), 128)
        try:
            return bytes(self._handle(key_id).decrypt(
                wrapped[12:], mechanism=p11.Mechanism.AES_GCM, mechanism_param=params))
        except p11.PKCS11Error:
            raise UnwrapError("The wrapped data key does not match its master key %(key_id)s: "
                              "it was altered or belongs elsewhere.", key_id=key_id) from None

    def create_key(self) -> str:
        """Generate a non-extractable AES-256 key on the token; it is current at once."""
        p11 = self._p11
        key_id = new_key_id()
        self._session.generate_key(
            p11.KeyType.AES, KEY_BYTES * 8, label=HSM_LABEL_PREFIX + key_id, store=True,
            template={p11.Attribute.EXTRACTABLE: False, p11.Attribute.SENSITIVE: True,
                      p11.Attribute.ENCRYPT: True, p11.Attribute.DECRYPT: True,
                      p11.Attribute.WRAP: False, p11.Attribute.UNWRAP: False})
        return key_id

    def lookup_mac(self, message: bytes) -> bytes:
        """HMAC-SHA256 computed inside the token."""
        return bytes(self._lookup.sign(message, mechanism=self._p11.Mechanism.SHA256_HMAC))

    def _handle(self, key_id: str) -> Any:
        handle = self._handles.get(key_id)
        if handle is None:
            p11 = self._p11
            try:
                handle = self._session.get_key(object_class=p11.ObjectClass.SECRET_KEY,
                                               label=HSM_LABEL_PREFIX + key_id)
            except p11.NoSuchKey:
                raise KeystoreError("The master key %(key_id)s is not on the HSM token.",
                                    key_id=key_id) from None
            self._handles[key_id] = handle
        return handle

    def _find_or_create_lookup(self) -> Any:
        p11 = self._p11
        try:
            return self._session.get_key(object_class=p11.ObjectClass.SECRET_KEY,
                                         label=HSM_LOOKUP_LABEL)
        except p11.NoSuchKey:
            return self._session.generate_key(
                p11.KeyType.GENERIC_SECRET, KEY_BYTES * 8, label=HSM_LOOKUP_LABEL, store=True,
                template={p11.Attribute.EXTRACTABLE: False, p11.Attribute.SENSITIVE: True,
                          p11.Attribute.SIGN: True, p11.Attribute.VERIFY: True})


def keystore_from_settings(settings: Settings) -> MasterKeyStore:
    """The HSM store when a PKCS#11 module is configured, else the keystore file (created
    with a first master key when missing)."""
    if settings.biometry_pkcs11_module is not None:
        return Pkcs11KeyStore(settings.biometry_pkcs11_module, settings.biometry_pkcs11_token,
                              settings.biometry_pkcs11_pin or "")
    path = settings.biometry_keystore or settings.resolved_home / "keystore.json"
    return FileKeyStore(path, settings.biometry_keystore_passphrase or "")
