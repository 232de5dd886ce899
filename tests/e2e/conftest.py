"""A real Lakana server (uvicorn in a subprocess, loopback) and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine

from lakana.core.audit.signing import create_key
from lakana.core.auth import service as auth_service
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.db import make_session_factory
from lakana.models import metadata

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ADMIN_EMAIL = "admin@e2e.example.ml"
ADMIN_PASSWORD = "E2e-Browser-Pass-77!"

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    """A running Lakana server and the first administrator's credentials."""

    url: str
    admin_email: str
    admin_password: str
    admin_totp_secret: str
    database_url: str


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Prepare a database with an administrator (MFA enrolled) and serve it on loopback."""
    home = tmp_path_factory.mktemp("e2e-home")
    database_url = os.environ.get("LAKANA_TEST_DATABASE_URL") or f"sqlite:///{home / 'lakana.db'}"
    create_key(home / "keys" / "ledger-ed25519.pem")
    (home / "secret.key").write_text(secrets.token_urlsafe(32))
    engine = create_engine(database_url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    totp_secret = pyotp.random_base32()
    with make_session_factory(engine).begin() as session:
        user = auth_service.create_user(
            session=session, actor=system_actor("e2e"), email=ADMIN_EMAIL,
            full_name="Kadiatou Touré", role=Role.PLATFORM_ADMIN, password=ADMIN_PASSWORD)
        user.mfa_secret = totp_secret
        user.mfa_enabled = True
    engine.dispose()
    port = _free_port()
    # Jobs (exposure scans) run in a thread of the server; scans may reach the loopback
    # sites the tests start, with short timeouts.
    env = dict(os.environ, LAKANA_HOME=str(home), LAKANA_DATABASE_URL=database_url,
               LAKANA_JOBS_INLINE="true", LAKANA_EXPOSURE_ALLOW_PRIVATE="true",
               LAKANA_EXPOSURE_TIMEOUT="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "lakana.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        out = proc.stdout.read().decode() if proc.stdout else ""
        raise RuntimeError(f"server did not start:\n{out}")
    yield LiveServer(url, ADMIN_EMAIL, ADMIN_PASSWORD, totp_secret, database_url)
    proc.terminate()
    proc.wait(timeout=10)
    if os.environ.get("LAKANA_TEST_DATABASE_URL"):
        engine = create_engine(database_url)
        metadata.drop_all(engine)
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (done by .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


_USED_STEPS: dict[str, int] = {}


def fresh_code(secret: str) -> str:
    """A TOTP code the server will accept: not about to expire, and not one already used
    by an earlier test (a code is valid once), waiting for the next period if needed."""
    while True:
        now = time.time()
        step = int(now // 30)
        if 30 - (now % 30) >= 3 and step > _USED_STEPS.get(secret, -1):
            _USED_STEPS[secret] = step
            return pyotp.TOTP(secret).at(step * 30)
        time.sleep(30 - (now % 30) + 0.2)


def log_in(page: Any, live_server: LiveServer) -> None:
    """Log the administrator in (password, then TOTP) from the French log-in page.

    From the second step on, pages are in the user's own language, which an earlier test
    may have changed: that step is found by its field, not its wording."""
    page.goto(f"{live_server.url}/login")
    assert page.locator("h1").inner_text() == "Se connecter"
    page.get_by_label("Adresse e-mail").fill(live_server.admin_email)
    page.get_by_label("Mot de passe").fill(live_server.admin_password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/login/mfa**")
    page.locator("#code").fill(fresh_code(live_server.admin_totp_secret))
    page.locator("form[action='/login/mfa'] button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")
