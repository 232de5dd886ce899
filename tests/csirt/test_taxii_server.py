"""The TAXII 2.1 server against the OASIS client library (taxii2-client) and a real uvicorn
server on loopback: discovery, collections per sharing group, paged objects with
``added_after``, Basic and token authentication, and every refusal as a TAXII error.

One server and one database serve the whole module; tests that change state use their own
group, case or account so that the order of the tests does not matter.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from taxii2client.common import TokenAuth
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages
from typer.testing import CliRunner

from lakana.core.audit.signing import create_key
from lakana.core.auth import sharing
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.db import make_engine, make_session_factory
from lakana.csirt import observable_service, service, sharing_service
from lakana.csirt.models import Case
from lakana.csirt.sharing_models import SharedObject
from lakana.models import metadata
from tests.conftest import PASSWORD, Factory, _wipe, database_url_for
from tests.csirt.conftest import ADMIN, case_report

MEDIA = "application/taxii+json;version=2.1"
STRICT_IP = "198.51.100.77"
DOMAINS = [f"c2-{n}.example.net" for n in range(6)]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    """A running server and what its database holds."""

    url: str
    home: Path
    database_url: str
    session_factory: sessionmaker[Session]
    factory: Factory
    groups: dict[str, int]
    token_a: str
    analyst_token: str
    green_case: int
    raise_case: int

    @property
    def discovery(self) -> str:
        """The discovery URL."""
        return f"{self.url}/taxii2/"

    def collection_url(self, group: str) -> str:
        """A group's collection URL."""
        return (f"{self.url}/taxii2/api/collections/"
                f"{sharing_service.collection_id(self.groups[group])}/")


def _group(session_factory: sessionmaker[Session], name: str) -> int:
    with session_factory.begin() as session:
        return sharing.create_group(session=session, actor=ADMIN, name=name).id


def _partner(world_factory: Factory, session_factory: sessionmaker[Session], group_id: int,
             email: str) -> User:
    user = world_factory.user(Role.PARTNER, email=email, mfa=False)
    with session_factory.begin() as session:
        group = session.get(sharing.SharingGroup, group_id)
        member = session.get(User, user.id)
        assert group is not None and member is not None
        sharing.add_member(session=session, actor=ADMIN, group=group, user=member)
    return user


def _case(session_factory: sessionmaker[Session], institution_id: int, tlp: str, title: str,
          observables: list[tuple[str, str]]) -> int:
    with session_factory.begin() as session:
        case = service.report_case(session=session, actor=ADMIN,
                                   data=case_report(institution_id, title=title, tlp=tlp))
        for value, label in observables:
            observable_service.add_to_case(session=session, actor=ADMIN, case_id=case.id,
                                           kind=None, value=value, tlp=label)
        return case.id


def _share(session_factory: sessionmaker[Session], case_id: int, group_id: int) -> None:
    with session_factory.begin() as session:
        sharing_service.share_case(session=session, actor=ADMIN, case_id=case_id,
                                   group_id=group_id)


def _serve(home: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = dict(os.environ, LAKANA_HOME=str(home), LAKANA_DATABASE_URL=database_url,
               LAKANA_SECRET_KEY=secrets.token_urlsafe(32))
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "lakana.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    # importing every domain takes a while on a loaded machine (schemas, PDF, STIX)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start:\n" + (proc.stdout.read().decode()
                                                    if proc.stdout else ""))


def _database(home: Path) -> tuple[str, Engine]:
    database_url = database_url_for(home)
    settings = Settings(home=home, database_url=database_url,  # type: ignore[call-arg]
                        secret_key="x", _env_file=None)
    engine = make_engine(settings)
    metadata.create_all(engine)
    _wipe(engine)
    return database_url, engine


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Groups a, b, c; partners; a GREEN case (six domains and an AMBER+STRICT address)
    shared with a; an AMBER case shared with b; a GREEN case shared with c (raised to RED by
    a test); a RED case shared with nobody."""
    home = tmp_path_factory.mktemp("taxii-home")
    create_key(home / "keys" / "ledger-ed25519.pem")
    database_url, engine = _database(home)
    session_factory = make_session_factory(engine)
    world_factory = Factory(session_factory)
    institution = world_factory.institution("INSTA")
    groups = {name: _group(session_factory, name) for name in ("group-a", "group-b", "group-c")}
    partner_a = _partner(world_factory, session_factory, groups["group-a"], "cert@a.example.org")
    for email, group in (("cert@b.example.org", "group-b"), ("cert@c.example.org", "group-c"),
                         ("locked@a.example.org", "group-a")):
        _partner(world_factory, session_factory, groups[group], email)
    analyst = world_factory.user(Role.CSIRT_ANALYST, email="analyst@example.ml")
    green = _case(session_factory, institution, "green", "Botnet régional",
                  [(d, "green") for d in DOMAINS] + [(STRICT_IP, "amber+strict")])
    _share(session_factory, green, groups["group-a"])
    amber = _case(session_factory, institution, "amber", "Hameçonnage", [("b-only.example.org",
                                                                           "amber")])
    _share(session_factory, amber, groups["group-b"])
    raised = _case(session_factory, institution, "green", "Fuite bientôt RED",
                   [("soon-red.example.org", "green")])
    _share(session_factory, raised, groups["group-c"])
    _case(session_factory, institution, "red", "Secret", [("red-only.example.org", "red")])
    proc, url = _serve(home, database_url)
    try:
        yield World(url=url, home=home, database_url=database_url,
                    session_factory=session_factory, factory=world_factory, groups=groups,
                    token_a=world_factory.token(partner_a),
                    analyst_token=world_factory.token(analyst), green_case=green,
                    raise_case=raised)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        _wipe(engine)
        engine.dispose()


def _all_objects(collection: Collection, **filters: Any) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for envelope in as_pages(collection.get_objects, per_request=5, **filters):
        objects.extend(envelope.get("objects", []))
    return objects


def _basic(email: str, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}", "Accept": MEDIA}


def test_discovery_api_root_and_collections_with_basic_auth(world: World) -> None:
    # Given the partner of group a, with its e-mail address and password (HTTP Basic)
    server = Server(world.discovery, user="cert@a.example.org", password=PASSWORD)
    # When its TAXII client discovers the server
    assert server.title == "Lakana TAXII"
    root = server.default
    assert isinstance(root, ApiRoot) and root.url == f"{world.url}/taxii2/api/"
    assert root.versions == [MEDIA]
    # Then it sees only group a's collection, read-only
    assert [(c.title, c.can_read, c.can_write) for c in root.collections] == \
        [("group-a", True, False)]
    objects = _all_objects(root.collections[0])
    types = {o["type"] for o in objects}
    assert {"incident", "indicator", "domain-name", "relationship", "identity"} <= types
    assert {o["value"] for o in objects if o["type"] == "domain-name"} == set(DOMAINS)
    # and nothing of group b's case nor the AMBER+STRICT address
    assert "b-only.example.org" not in repr(objects) and STRICT_IP not in repr(objects)


def test_token_pull_pages_and_added_after(world: World) -> None:
    # Given the partner's API token, as taxii2-client sends it (Authorization: Token)
    collection = Collection(world.collection_url("group-a"), auth=TokenAuth(world.token_a))
    first = _all_objects(collection)
    pages = list(as_pages(collection.get_objects, per_request=5))
    assert len(pages) > 3 and all(len(p["objects"]) <= 5 for p in pages)
    assert [o["id"] for p in pages for o in p["objects"]] == [o["id"] for o in first]
    assert len({o["id"] for o in first}) == len(first)  # no object twice across pages
    # When the centre shares one more case after the partner's last pull
    manifest = collection.get_manifest()["objects"]
    last_seen = max(entry["date_added"] for entry in manifest)
    time.sleep(0.01)
    later = _case(world.session_factory, _institution(world), "clear", "Nouveau",
                  [("later.example.org", "clear")])
    _share(world.session_factory, later, world.groups["group-a"])
    # Then added_after the last pull returns only the new case's objects
    fresh = _all_objects(collection, added_after=last_seen)
    assert fresh and {o["type"] for o in fresh} >= {"incident", "indicator"}
    assert "later.example.org" in repr(fresh) and "c2-0.example.net" not in repr(fresh)


def _institution(world: World) -> int:
    with world.session_factory() as session:
        case = session.get(Case, world.green_case)
        assert case is not None and case.institution_id is not None
        return case.institution_id


def test_bearer_token_and_headers(world: World) -> None:
    url = world.collection_url("group-a") + "objects/"
    response = httpx.get(url, params={"limit": 3, "match[type]": "indicator"},
                         headers={"Authorization": f"Bearer {world.token_a}", "Accept": MEDIA})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA
    body = response.json()
    assert body["more"] is True and body["next"] and len(body["objects"]) == 3
    assert {o["type"] for o in body["objects"]} == {"indicator"}
    first, last = (response.headers["X-TAXII-Date-Added-First"],
                   response.headers["X-TAXII-Date-Added-Last"])
    assert first.endswith("Z") and first <= last
    # one object, and its versions
    object_id = body["objects"][0]["id"]
    one = httpx.get(f"{world.collection_url('group-a')}objects/{object_id}/",
                    headers={"Authorization": f"Bearer {world.token_a}"})
    assert one.status_code == 200 and [o["id"] for o in one.json()["objects"]] == [object_id]
    versions = httpx.get(f"{world.collection_url('group-a')}objects/{object_id}/versions/",
                         headers={"Authorization": f"Bearer {world.token_a}"})
    assert versions.status_code == 200 and len(versions.json()["versions"]) == 1


def test_partner_of_a_cannot_reach_group_b(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.token_a}", "Accept": MEDIA}
    for suffix in ("", "objects/", "manifest/"):
        response = httpx.get(world.collection_url("group-b") + suffix, headers=headers)
        # Then another group's collection does not exist for it (TAXII 404, not a page)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == MEDIA
        assert response.json()["http_status"] == "404"
    # nor does an object of b through a's collection
    with world.session_factory() as session:
        b_object = session.query(SharedObject).filter_by(
            group_id=world.groups["group-b"], stix_type="incident").first()
        assert b_object is not None
        b_id = b_object.stix_id
    response = httpx.get(f"{world.collection_url('group-a')}objects/{b_id}/", headers=headers)
    assert response.status_code == 404


def test_the_centre_sees_every_collection_and_nothing_strict_or_red(world: World) -> None:
    # Given an analyst's token (the analyst has MFA: Basic is refused, tokens work)
    root = Server(world.discovery, auth=TokenAuth(world.analyst_token)).default
    titles = sorted(c.title for c in root.collections)
    assert titles == ["group-a", "group-b", "group-c"]
    everything = [o for c in root.collections for o in _all_objects(c)]
    text = repr(everything)
    # Then no AMBER+STRICT or RED information is served anywhere
    assert STRICT_IP not in text and "red-only.example.org" not in text
    assert not any(set(o.get("object_marking_refs", [])) & sharing_service.FORBIDDEN_MARKINGS
                   for o in everything)
    refused = httpx.get(world.discovery, headers=_basic("analyst@example.ml"))
    assert refused.status_code == 401 and "Bearer" in refused.json()["description"]


def test_a_case_raised_to_red_disappears_from_the_feed(world: World) -> None:
    collection = Collection(world.collection_url("group-c"), user="cert@c.example.org",
                            password=PASSWORD)
    assert "soon-red.example.org" in repr(_all_objects(collection))
    # When the shared case is raised to RED, without any re-share
    with world.session_factory.begin() as session:
        case = session.get(Case, world.raise_case)
        assert case is not None
        case.tlp = "red"
    # Then the next pull no longer carries anything of it
    after = _all_objects(collection)
    assert "soon-red.example.org" not in repr(after)
    assert {o["type"] for o in after} <= {"identity", "marking-definition"}


def test_red_case_cannot_be_shared(world: World) -> None:
    from lakana.core.errors import Invalid

    red = _case(world.session_factory, _institution(world), "red", "Autre secret", [])
    with pytest.raises(Invalid):
        _share(world.session_factory, red, world.groups["group-a"])


def test_authentication_failures_are_taxii_401_and_count_toward_lockout(world: World) -> None:
    # Without credentials
    anonymous = httpx.get(world.discovery, headers={"Accept": MEDIA})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="Lakana TAXII"'
    assert anonymous.headers["content-type"] == MEDIA
    assert anonymous.json()["http_status"] == "401"
    # With a wrong password, through the OASIS client
    with pytest.raises(requests.HTTPError) as failed:
        _ = Server(world.discovery, user="locked@a.example.org",
                   password="Wrong-Password-1!").title
    assert failed.value.response.status_code == 401
    with world.session_factory() as session:
        user = session.query(User).filter_by(email="locked@a.example.org").one()
        assert user.failed_logins == 1
    # After enough failures the account is locked: even the right password is refused
    for _ in range(5):
        httpx.get(world.discovery, headers=_basic("locked@a.example.org", "Wrong-Password-1!"))
    locked = httpx.get(world.discovery, headers=_basic("locked@a.example.org"))
    assert locked.status_code == 429 and "retry-after" in locked.headers
    assert locked.json()["http_status"] == "429"
    # and a bad token is a TAXII 401 too
    bad = httpx.get(world.discovery, headers={"Authorization": "Bearer lkn_nope_nope"})
    assert bad.status_code == 401 and bad.headers["content-type"] == MEDIA


def test_wrong_accept_is_406(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.token_a}"}
    for accept in ("text/html", "application/taxii+json;version=2.0", "application/json"):
        response = httpx.get(world.discovery, headers={**headers, "Accept": accept})
        assert response.status_code == 406, accept
        assert response.json()["http_status"] == "406"
    for accept in ("application/taxii+json", MEDIA, "*/*"):
        assert httpx.get(world.discovery, headers={**headers, "Accept": accept}
                         ).status_code == 200


@pytest.mark.parametrize("params", [
    {"limit": "-1"}, {"limit": "abc"}, {"limit": "0"}, {"added_after": "not-a-date"},
    {"next": "garbage"}, {"next": "%%%"}, {"match[version]": "someday"},
    {"limit": "99999999999999999999999"}])
def test_garbage_parameters_are_taxii_400(world: World, params: dict[str, str]) -> None:
    response = httpx.get(world.collection_url("group-a") + "objects/", params=params,
                         headers={"Authorization": f"Bearer {world.token_a}", "Accept": MEDIA})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == MEDIA
    body = response.json()
    assert body["http_status"] == "400" and body["title"] and body["description"]


def test_writes_are_refused_as_taxii_errors(world: World) -> None:
    response = httpx.post(world.collection_url("group-a") + "objects/",
                          headers={"Authorization": f"Bearer {world.token_a}",
                                   "Accept": MEDIA, "Content-Type": MEDIA},
                          json={"objects": []})
    assert response.status_code == 403 and response.json()["http_status"] == "403"


def test_cli_onboarded_partner_pulls(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakana.core.auth.cli import user_app

    # Given a partner account created by a script
    monkeypatch.setenv("LAKANA_HOME", str(world.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", world.database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    # (``lakana user create ...``)
    done = CliRunner().invoke(user_app, ["create", "p@x.org", "--role", "partner",
                                    "--sharing-group", "group-b", "--password-stdin"],
                              input="Partner-Onboard-2026!\n")
    assert done.exit_code == 0, done.output
    # When it pulls with its e-mail address and password
    root = Server(world.discovery, user="p@x.org", password="Partner-Onboard-2026!").default
    # Then it reads group b's collection, and only that one
    assert [c.title for c in root.collections] == ["group-b"]
    assert "b-only.example.org" in repr(_all_objects(root.collections[0]))
