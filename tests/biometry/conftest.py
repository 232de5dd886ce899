"""Fixtures of the biometry tests: a keystore file and a real SoftHSM2 token."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakana.biometry.protection.keystore import FileKeyStore, Pkcs11KeyStore

PASSPHRASE = "correct horse battery staple"
SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
HSM_PIN = "5678"


@pytest.fixture
def keystore_path(tmp_path: Path) -> Path:
    """Where the test keystore file lives."""
    return tmp_path / "keys" / "keystore.json"


@pytest.fixture
def file_store(keystore_path: Path) -> FileKeyStore:
    """A fresh keystore file with one master key."""
    return FileKeyStore(keystore_path, PASSPHRASE)


@pytest.fixture
def softhsm_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SoftHSM2 token labelled ``lakana`` in a temporary token folder; skipped only
    when SoftHSM2 is absent outside CI."""
    util = shutil.which("softhsm2-util")
    if util is None or not SOFTHSM_MODULE.exists():
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is required in CI (apt-get install softhsm2)")
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    tokens = tmp_path / "softhsm" / "tokens"
    tokens.mkdir(parents=True)
    conf = tmp_path / "softhsm" / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run([util, "--init-token", "--free", "--label", "lakana", "--so-pin", "1234",
                    "--pin", HSM_PIN], check=True, capture_output=True)
    # python-pkcs11 keeps the library initialised per process; SoftHSM2 reads its
    # configuration (the token folder) only when initialised, so start it afresh.
    import pkcs11

    pkcs11.lib(str(SOFTHSM_MODULE)).reinitialize()
    return SOFTHSM_MODULE


@pytest.fixture
def hsm_store(softhsm_token: Path) -> Iterator[Pkcs11KeyStore]:
    """A PKCS#11 store on the fresh SoftHSM2 token."""
    store = Pkcs11KeyStore(softhsm_token, "lakana", HSM_PIN)
    yield store
    store.close()
