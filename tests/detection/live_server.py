"""A real Lakana server for the ingestion tests: uvicorn in a subprocess on loopback, on the
test database (SQLite file, or PostgreSQL when the suite runs against it), with two
institutions whose focal points hold API tokens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.conftest import Factory

INGEST = "/api/v1/detection/ingest"


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Live:
    """A running server, its process and the tokens of institutions A and B."""

    url: str
    process: subprocess.Popen[bytes]
    token_a: str
    token_b: str
    a: int
    b: int
    log: Path

    def output(self) -> str:
        """What the server printed (for failure messages)."""
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def start_server(settings: Settings, tmp_path: Path, **env: str) -> tuple[
        subprocess.Popen[bytes], str, Path]:
    """Start uvicorn on the app factory with the test database; wait until it answers."""
    port = free_port()
    log = tmp_path / "server.log"
    environ = dict(os.environ, LAKANA_HOME=str(settings.home),
                   LAKANA_DATABASE_URL=settings.effective_database_url,
                   LAKANA_SECRET_KEY=settings.secret_key or "x" * 32, **env)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "lakana.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=environ, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return process, url, log
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server (if still running) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def live(settings: Settings, engine: Engine, factory: Factory,
         tmp_path: Path) -> Iterator[Callable[..., Live]]:
    """Start a server (environment overrides as keyword arguments); stopped at the end,
    before the test database is emptied."""
    started: list[subprocess.Popen[bytes]] = []

    def _start(**env: str) -> Live:
        a, b = factory.institution("FLOOD"), factory.institution("CALME")
        token_a = factory.token(factory.user(Role.FOCAL_POINT, institution_id=a))
        token_b = factory.token(factory.user(Role.FOCAL_POINT, institution_id=b))
        process, url, log = start_server(settings, tmp_path, **env)
        started.append(process)
        return Live(url, process, token_a, token_b, a, b, log)

    yield _start
    for process in started:
        stop(process)
