"""The ledger-epoch caches never serve a stale answer after a ledgered change."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth import service as auth_service
from lakana.core.auth.models import ApiToken, User
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.cache import EpochCache
from tests.conftest import Factory

LIST = "/api/v1/registry/institutions?limit=50"


def _warm(client: TestClient) -> None:
    # Two calls: the first validates and caches, the second is served from the caches.
    for _ in range(2):
        assert client.get(LIST).status_code == 200


def test_revoked_token_is_refused_right_after_being_cached(
        factory: Factory, app: object, session_factory: sessionmaker[Session]) -> None:
    """Given a token served from the cache, when it is revoked, the next call gets 401."""
    user = factory.user(Role.AGENCY_OFFICER)
    secret = factory.token(user)
    client = TestClient(app, headers={"Authorization": f"Bearer {secret}"})  # type: ignore[arg-type]
    _warm(client)
    with session_factory.begin() as session:
        token = session.query(ApiToken).filter_by(user_id=user.id).one()
        auth_service.revoke_token(session=session, actor=system_actor("tests"),
                                  token_id=token.id)
    response = client.get(LIST)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"] or "révoqué" in response.json()["detail"]


def test_disabled_account_token_is_refused_after_being_cached(
        factory: Factory, app: object, session_factory: sessionmaker[Session]) -> None:
    """Given a cached token, when its account is disabled, the next call gets 401."""
    user = factory.user(Role.AGENCY_OFFICER)
    client = TestClient(app, headers={"Authorization": f"Bearer {factory.token(user)}"})  # type: ignore[arg-type]
    _warm(client)
    with session_factory.begin() as session:
        auth_service.set_active(session=session, actor=system_actor("tests"),
                                user_id=user.id, active=False)
    assert client.get(LIST).status_code == 401


def test_cached_list_shows_a_new_institution_at_once(
        factory: Factory, api_as: Callable[[User], TestClient]) -> None:
    """Given a cached list, when an institution is created, the next list includes it."""
    client = api_as(factory.user(Role.AGENCY_OFFICER))
    _warm(client)
    before = client.get(LIST).json()["total"]
    factory.institution("NOUVEAU")
    after = client.get(LIST).json()
    assert after["total"] == before + 1
    assert "NOUVEAU" in {i["acronym"] for i in after["items"]}


def test_cached_list_is_never_shared_across_scopes(
        factory: Factory, api_as: Callable[[User], TestClient]) -> None:
    """Given an agency officer's cached list, a focal point asking the same URL sees only theirs."""
    own = factory.institution("MINE")
    factory.institution("OTHER")
    officer = api_as(factory.user(Role.AGENCY_OFFICER))
    _warm(officer)
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=own))
    items = focal.get(LIST).json()["items"]
    assert [i["acronym"] for i in items] == ["MINE"]


def test_no_cache_header_recomputes(factory: Factory,
                                    api_as: Callable[[User], TestClient]) -> None:
    """A client sending Cache-Control: no-cache gets the same, freshly computed answer."""
    client = api_as(factory.user(Role.AGENCY_OFFICER))
    factory.institution("FRESH")
    cached = client.get(LIST).json()
    fresh = client.get(LIST, headers={"Cache-Control": "no-cache"}).json()
    assert fresh == cached


def test_epoch_cache_drops_entries_from_an_older_epoch_and_stays_bounded() -> None:
    """Unit: an entry is returned only at its epoch; the oldest entries are evicted."""
    cache: EpochCache[str] = EpochCache(maxsize=2)
    cache.put("a", 1, "A")
    assert cache.get("a", 1) == "A"
    assert cache.get("a", 2) is None
    assert cache.get("a", 1) is None  # dropped once seen stale
    cache.put("b", 1, "B")
    cache.put("c", 1, "C")
    cache.put("d", 1, "D")
    assert cache.get("b", 1) is None and cache.get("d", 1) == "D"
