"""Shared fixtures: a real database (SQLite file, or PostgreSQL when LAKANA_TEST_DATABASE_URL
is set), the application, browsers-free HTTP clients, and factories for users and institutions.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from lakana.app import core_plugins, create_app, domains, register_all
from lakana.core.audit.signing import create_key
from lakana.core.auth import passwords
from lakana.core.auth import service as auth_service
from lakana.core.auth.models import User
from lakana.core.auth.rbac import INSTITUTION_ROLES, Role, system_actor
from lakana.core.config import Settings
from lakana.core.db import make_engine, make_session_factory
from lakana.models import metadata

PASSWORD = "Correct-Horse-42!"
register_all([*core_plugins(), *domains()])
# Hashing at the production cost dominated the suite's time; argon2id stays the algorithm.
passwords.use_cheap_hashing_for_tests()


_WORKER_DATABASES: dict[str, str] = {}


def _worker_database(url: str, worker: str) -> str:
    """Each pytest-xdist worker gets its own PostgreSQL database, created on first use."""
    if worker not in _WORKER_DATABASES:
        from sqlalchemy.engine import make_url

        name = f"lakana_test_{re.sub(r'[^a-z0-9]', '_', worker.lower())}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        _WORKER_DATABASES[worker] = make_url(url).set(database=name).render_as_string(
            hide_password=False)
    return _WORKER_DATABASES[worker]


def database_url_for(tmp_path: Path) -> str:
    """PostgreSQL when the suite runs against it (one database per xdist worker), else a
    fresh SQLite file."""
    import os

    url = os.environ.get("LAKANA_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'lakana.db'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _worker_database(url, worker) if worker else url


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a temporary home and the test database."""
    home = tmp_path / "home"
    home.mkdir()
    create_key(home / "keys" / "ledger-ed25519.pem")
    return Settings(home=home, database_url=database_url_for(tmp_path),
                    secret_key=secrets.token_urlsafe(32), _env_file=None)


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database with every table, created once and copied for each test
    (copying a file is ~100 times cheaper than creating 50 tables)."""
    path = tmp_path_factory.mktemp("schema") / "schema.db"
    template = create_engine(f"sqlite:///{path}")
    metadata.create_all(template)
    template.dispose()
    return path


@pytest.fixture
def engine(settings: Settings, sqlite_schema: Path) -> Iterator[Engine]:
    """An engine on a clean schema (created once, emptied after each test)."""
    url = settings.effective_database_url
    copied = url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()
    if copied:
        shutil.copyfile(sqlite_schema, url.removeprefix("sqlite:///"))
    engine = make_engine(settings)
    if not copied:
        metadata.create_all(engine)
    yield engine
    _wipe(engine)
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory on the test database."""
    return make_session_factory(engine)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and checking data; commit explicitly when the app must see it."""
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    """The application on the test database."""
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An anonymous HTTP client (cookies kept between calls)."""
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


class Factory:
    """Creates users and institutions committed to the test database."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self._counter = 0

    def institution(self, acronym: str | None = None, **fields: Any) -> int:
        """Create an institution through the registry service; return its id."""
        from lakana.registry import service as registry_service
        from lakana.registry.schemas import InstitutionCreate

        self._counter += 1
        acronym = acronym or f"INST{self._counter}"
        data: dict[str, Any] = {"name": f"Institution {acronym}", "acronym": acronym,
                                "kind": "ministry", "region": "bamako", "sector": "government",
                                "criticality_tier": 2}
        data.update(fields)
        with self.session_factory.begin() as session:
            inst = registry_service.create_institution(
                session=session, actor=system_actor("tests"), data=InstitutionCreate(**data))
            return inst.id

    def user(self, role: Role = Role.PLATFORM_ADMIN, *, institution_id: int | None = None,
             email: str | None = None, mfa: bool | None = None, language: str = "fr") -> User:
        """Create a user; agency roles get MFA with a known secret (``user.mfa_secret``)."""
        self._counter += 1
        if role in INSTITUTION_ROLES and institution_id is None:
            institution_id = self.institution()
        email = email or f"{role.value}.{self._counter}@example.ml"
        with self.session_factory.begin() as session:
            user = auth_service.create_user(
                session=session, actor=system_actor("tests"), email=email,
                full_name=f"Test {role.value} {self._counter}", role=role, password=PASSWORD,
                institution_id=institution_id, language=language)
            if mfa if mfa is not None else role not in INSTITUTION_ROLES:
                user.mfa_secret = pyotp.random_base32()
                user.mfa_enabled = True
        return user

    def token(self, user: User, scopes: list[str] | None = None) -> str:
        """An API token secret for ``user``."""
        with self.session_factory.begin() as session:
            fresh = session.get(User, user.id)
            assert fresh is not None
            _, secret = auth_service.create_token(
                session=session, actor=system_actor("tests"), user=fresh, name="test",
                scopes=scopes, expires_in_days=30)
        return secret


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> Factory:
    """Factories for users and institutions."""
    return Factory(session_factory)


def csrf_from(html: str) -> str:
    """The CSRF token rendered in a page."""
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in page"
    return found.group(1)


def totp_now(secret: str, offset_steps: int = 0) -> str:
    """The current TOTP code for a secret."""
    import time

    return pyotp.TOTP(secret).at(int(time.time()) + 30 * offset_steps)


def login(client: TestClient, user: User, password: str = PASSWORD) -> TestClient:
    """Log ``user`` in through the real forms (password, then TOTP when enabled)."""
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": password,
                                           "csrf_token": csrf_from(page.text), "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    if response.headers["location"].startswith("/login/mfa"):
        assert user.mfa_secret
        mfa_page = client.get(response.headers["location"])
        response = client.post("/login/mfa", data={"code": totp_now(user.mfa_secret),
                                                   "csrf_token": csrf_from(mfa_page.text),
                                                   "next": "/"}, follow_redirects=False)
        assert response.status_code == 303, response.text[:500]
    return client


@pytest.fixture
def login_as(app: FastAPI) -> Iterator[Callable[[User], TestClient]]:
    """Open a new browser-like client logged in as a given user."""
    clients: list[TestClient] = []

    def _login(user: User) -> TestClient:
        test_client = TestClient(app, base_url="http://testserver")
        test_client.__enter__()
        clients.append(test_client)
        return login(test_client, user)

    yield _login
    for test_client in clients:
        test_client.__exit__(None, None, None)


@pytest.fixture
def api_as(app: FastAPI, factory: Factory) -> Iterator[Callable[[User], TestClient]]:
    """Open a client that calls the API with a bearer token of a given user."""
    clients: list[TestClient] = []

    def _api(user: User) -> TestClient:
        test_client = TestClient(app, base_url="http://testserver",
                                 headers={"Authorization": f"Bearer {factory.token(user)}"})
        clients.append(test_client)
        return test_client

    yield _api
    for test_client in clients:
        test_client.close()
