"""The ABIS Identify on the worker-resident sharded gallery (``biometry_abis_shards``): the
same responses as the sealed-gallery search, and never stale: every Insert and Delete,
made by whichever worker process, is seen by the next Identify. Biometric data are
generated synthetic fingers, labelled as such."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import runtime
from lakana.biometry.abis import service
from lakana.biometry.abis.resident import (
    ResidentGallery,
    reset_resident_galleries,
    resident_gallery,
)
from lakana.biometry.engine import Probe
from lakana.biometry.models import AbisReference
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.biometry.abis_support import cbeff_of, drain, inline, iso_template, message
from tests.conftest import Factory

URL = "/api/v1/abis/requests"


@pytest.fixture(autouse=True)
def _resident() -> Iterator[None]:
    """No worker process outlives a test."""
    reset_resident_galleries()
    yield
    reset_resident_galleries()


def _run(client: TestClient, settings: Settings, session_factory: sessionmaker[Session],
         body: dict[str, Any], worker_id: str = "tests") -> dict[str, Any]:
    assert client.post(URL, json=body).status_code == 202
    drain(settings, session_factory, worker_id=worker_id)
    answer = client.get(f"/api/v1/abis/responses/{body['requestId']}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    assert found["returnValue"] == "1", found
    return found


def _identify(client: TestClient, settings: Settings, session_factory: sessionmaker[Session],
              seed: int, **fields: Any) -> dict[str, Any]:
    """The candidate list of an Identify of synthetic finger ``seed``'s second impression."""
    body = message("identify", lakanaCbeff=inline(cbeff_of(seed, impression=1)), **fields)
    return dict(_run(client, settings, session_factory, body)["candidateList"])


def _ids(candidates: dict[str, Any]) -> list[str]:
    return [c["referenceId"] for c in candidates["candidates"]]


def test_resident_identify_matches_the_sealed_search_and_follows_every_change(
        api_as: Callable[[User], TestClient], factory: Factory, settings: Settings,
        session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    client = api_as(factory.user(Role.REGISTRY_ADMIN))
    settings.biometry_abis_shards = 2
    # Given three references (synthetic fingers 100, 200, 300)
    for seed in (100, 200, 300):
        _run(client, settings, session_factory,
             message("insert", referenceId=f"ref-{seed}", lakanaCbeff=inline(cbeff_of(seed))))
    # When finger 200 is identified on the resident gallery, and on the sealed gallery
    resident = _identify(client, settings, session_factory, 200, flags={"maxResults": "5"})
    gallery = resident_gallery(settings.effective_database_url, 2)
    assert len(gallery) == 3
    settings.biometry_abis_shards = 0
    sealed = _identify(client, settings, session_factory, 200, flags={"maxResults": "5"})
    settings.biometry_abis_shards = 2
    # Then the responses are the same: one candidate, ref-200, with its analytics
    assert resident == sealed
    assert resident["count"] == "1" and _ids(resident) == ["ref-200"]
    assert int(resident["candidates"][0]["analytics"]["internalScore"]) >= 40
    assert resident["analytics"] == {"threshold": "40", "gallerySize": "3"}
    # And an Identify by referenceId leaves the probe's own reference out, as before
    by_ref = _run(client, settings, session_factory,
                  message("identify", referenceId="ref-100", referenceURL=""))
    assert by_ref["candidateList"] == {"count": "0", "candidates": [], "analytics": {
        "threshold": "40", "gallerySize": "2"}}

    # From here the short list is the one best candidate: a stale gallery would show.
    monkeypatch.setattr(service, "SHORTLIST", 1)
    one = {"maxResults": "1"}
    assert _ids(_identify(client, settings, session_factory, 300, flags=one)) == ["ref-300"]
    # When ref-200 is deleted, then the next Identify no longer finds it
    _run(client, settings, session_factory, message("delete", referenceId="ref-200"))
    assert _identify(client, settings, session_factory, 200, flags=one)["count"] == "0"
    assert len(gallery) == 2
    # When ref-300 (the highest row id) is deleted and another worker inserts finger 200
    # again (the insert path never touches this process's gallery; on SQLite the new row
    # may even take the deleted row's id)
    _run(client, settings, session_factory, message("delete", referenceId="ref-300"))
    _run(client, settings, session_factory,
         message("insert", referenceId="ref-again", lakanaCbeff=inline(cbeff_of(200))),
         worker_id="another-worker")
    # Then the next Identify finds the new reference, and not the deleted 300
    again = _identify(client, settings, session_factory, 200, flags=one)
    assert _ids(again) == ["ref-again"]
    assert _identify(client, settings, session_factory, 300, flags=one)["count"] == "0"
    with session_factory() as session:
        assert len(gallery) == len(session.scalars(select(AbisReference.id)).all()) == 2


def test_a_reference_replaced_under_the_same_id_is_reloaded(
        settings: Settings) -> None:
    """The sync key is (row id, insert requestId): a reused row id is not taken as held."""
    engine = runtime.engine()
    gallery = ResidentGallery(1)
    try:
        templates = {7: {2: iso_template(702)}, 8: {2: iso_template(802)}}
        loads: list[list[int]] = []

        def load(pks: list[int]) -> Iterator[tuple[int, Probe]]:
            loads.append(list(pks))
            for pk in pks:
                yield pk, Probe(fingers=templates[pk])

        probe = Probe(fingers={2: iso_template(802, 1)})
        first = gallery.search(probe, current={7: "a", 8: "b"}, load=load, engine=engine, k=1)
        assert [c.reference_id for c in first] == [8]
        # Row 8 now holds another person (finger 702), inserted by another request
        templates[8] = {2: iso_template(702)}
        second = gallery.search(probe, current={7: "a", 8: "c"}, load=load, engine=engine,
                                k=2)
        assert loads == [[7, 8], [8]]
        assert all(c.finger_score is not None and c.finger_score < 0.65 for c in second)
        # And an empty gallery answers nothing
        assert gallery.search(probe, current={}, load=load, engine=engine, k=1) == []
        assert len(gallery) == 0
    finally:
        gallery.close()
