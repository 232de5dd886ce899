"""The MOSIP ABIS API: Insert, Identify, Delete as durable jobs, Ping / PendingJobs /
ReferenceCount at once, replays, failure reasons, permissions, sealing and the ledger.
Biometric data are generated synthetic fingers, labelled as such."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry.abis import service
from lakana.biometry.models import AbisReference, AbisRequest, AbisSample, SealedObject
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.jobs.models import Job
from tests.biometry.abis_support import cbeff_of, drain, inline, iso_template, message
from tests.conftest import Factory

URL = "/api/v1/abis/requests"


def _response(client: TestClient, request_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/abis/responses/{request_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["requestId"] == request_id
    return body


def _count(session_factory: sessionmaker[Session], model: type[Any]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_insert_identify_delete_round_trip(api_as: Callable[[User], TestClient],
                                           factory: Factory, settings: Settings,
                                           session_factory: sessionmaker[Session]) -> None:
    client = api_as(factory.user(Role.REGISTRY_ADMIN))
    # Given three references inserted (inline CBEFF, synthetic fingers 100, 200, 300)
    inserts = [message("insert", referenceId=f"ref-{seed}", lakanaCbeff=inline(cbeff_of(seed)))
               for seed in (100, 200, 300)]
    for body in inserts:
        queued = client.post(URL, json=body)
        assert queued.status_code == 202, queued.text
        assert queued.json() == {"id": "mosip.abis.insert", "requestId": body["requestId"],
                                 "lakanaState": "queued"}
    pending = client.get(f"/api/v1/abis/responses/{inserts[0]['requestId']}")
    assert pending.status_code == 202 and "returnValue" not in pending.json()
    jobs = client.post(URL, json=message("pendingJobs")).json()
    assert jobs["returnValue"] == "1" and jobs["jobscount"] == "3"
    # When the worker runs
    assert drain(settings, session_factory) == 3
    # Then each Insert succeeded, and the count says 3
    for body in inserts:
        done = _response(client, body["requestId"])
        assert done["id"] == "mosip.abis.insert" and done["returnValue"] == "1"
        assert done["responsetime"].endswith("Z") and "failureReason" not in done
    count = client.post(URL, json=message("referenceCount")).json()
    assert count["count"] == "3" and count["returnValue"] == "1"

    # When a second impression of finger 200 is identified (referenceURL-less probe)
    probe = message("identify", lakanaCbeff=inline(cbeff_of(200, impression=1)),
                    flags={"maxResults": "5"})
    assert client.post(URL, json=probe).status_code == 202
    # and the reference of 100 is identified by its referenceId within a gallery
    by_ref = message("identify", referenceId="ref-100", referenceURL="",
                     gallery={"referenceIds": [{"referenceId": "ref-100"},
                                               {"referenceId": "ref-300"}]})
    assert client.post(URL, json=by_ref).status_code == 202
    drain(settings, session_factory)
    # Then finger 200 is the one candidate, with analytics; 100 matches nobody but itself
    found = _response(client, probe["requestId"])
    assert found["returnValue"] == "1"
    candidates = found["candidateList"]["candidates"]
    assert found["candidateList"]["count"] == "1"
    assert candidates[0]["referenceId"] == "ref-200"
    assert int(candidates[0]["analytics"]["internalScore"]) >= 40
    assert candidates[0]["modalities"][0]["biometricType"] == "FIR"
    alone = _response(client, by_ref["requestId"])
    assert alone["candidateList"] == {"count": "0", "candidates": [], "analytics": {
        "threshold": "40", "gallerySize": "1"}}

    # When ref-200 is deleted, then its sealed samples go with it
    removal = message("delete", referenceId="ref-200")
    client.post(URL, json=removal)
    drain(settings, session_factory)
    assert _response(client, removal["requestId"])["returnValue"] == "1"
    assert _count(session_factory, AbisReference) == 2
    assert _count(session_factory, AbisSample) == 2
    with session_factory() as session:
        kinds = session.scalars(select(SealedObject.kind)).all()
    assert sorted(kinds) == ["abis.finger", "abis.finger"]  # inline CBEFFs are gone too
    # and deleting it again says the referenceId is not found
    again = message("delete", referenceId="ref-200")
    client.post(URL, json=again)
    drain(settings, session_factory)
    assert _response(client, again["requestId"])["failureReason"] == "12"


def test_replay_duplicate_and_failure_reasons(api_as: Callable[[User], TestClient],
                                              factory: Factory, settings: Settings,
                                              session_factory: sessionmaker[Session]
                                              ) -> None:
    client = api_as(factory.user(Role.REGISTRY_ADMIN))
    first = message("insert", referenceId="dup", lakanaCbeff=inline(cbeff_of(400)))
    assert client.post(URL, json=first).status_code == 202
    # A replay of the same requestId is recognised: same answer, no second job
    assert client.post(URL, json=first).status_code == 202
    assert _count(session_factory, Job) == 1
    drain(settings, session_factory)
    replay = client.post(URL, json=first)
    assert replay.status_code == 200 and replay.json()["returnValue"] == "1"
    assert _count(session_factory, Job) == 1
    # The same requestId with other content is a conflict
    changed = dict(first, referenceId="other")
    assert client.post(URL, json=changed).status_code == 409
    # A second Insert of the same referenceId fails with reason 10
    second = message("insert", referenceId="dup", lakanaCbeff=inline(cbeff_of(500)))
    client.post(URL, json=second)
    drain(settings, session_factory)
    assert _response(client, second["requestId"])["failureReason"] == "10"
    assert _count(session_factory, AbisReference) == 1

    # Malformed requests are answered at once with the specification's code
    cases: list[tuple[Any, str]] = [
        ([1, 2], "4"),
        (message("insert", lakanaCbeff="x"), "5"),
        ({k: v for k, v in message("ping").items() if k != "requestId"}, "6"),
        (message("insert", referenceId="r"), "8"),
        ({k: v for k, v in message("ping").items() if k != "requesttime"}, "9"),
        (message("ping", version="0.1"), "13"),
        (message("enrol"), "14"),
        (message("ping", requesttime="yesterday"), "15"),
        (message("identify", referenceId="r", flags={"maxResults": "many"}), "4"),
    ]
    for body, reason in cases:
        answer = client.post(URL, json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["returnValue"] == "2"
        assert answer.json()["failureReason"] == reason, (body, answer.json())
    # Bad data fails in the job with its reason, never a crashed worker
    bad = {"not-xml": (b"hello", "16"), "no-bdb": (b"<BIR><BIRInfo/></BIR>", "11"),
           "dtd": (b'<!DOCTYPE BIR [<!ENTITY a "aaaa">]><BIR>&a;</BIR>', "16"),
           "bad-minutiae": (cbeff_of(600).replace(b"<BDB>Rk1S", b"<BDB>AAAA"), "18")}
    sent = {}
    for name, (document, _) in bad.items():
        body = message("insert", referenceId=name, lakanaCbeff=inline(document))
        client.post(URL, json=body)
        sent[name] = body["requestId"]
    unknown = message("identify", referenceId="nobody")
    client.post(URL, json=unknown)
    url_refused = message("insert", referenceId="url", referenceURL="https://evil.example/x")
    client.post(URL, json=url_refused)
    drain(settings, session_factory)
    for name, (_, reason) in bad.items():
        assert _response(client, sent[name])["failureReason"] == reason, name
    assert _response(client, unknown["requestId"])["failureReason"] == "12"
    assert _response(client, url_refused["requestId"])["failureReason"] == "7"
    with session_factory() as session:
        states = session.scalars(select(Job.status)).all()
    assert set(states) == {"succeeded"}
    assert client.get("/api/v1/abis/responses/never-sent").status_code == 404


def test_permissions(client: TestClient, api_as: Callable[[User], TestClient],
                     factory: Factory) -> None:
    ping = message("ping")
    assert client.post(URL, json=ping).status_code == 401
    assert client.get(f"/api/v1/abis/responses/{ping['requestId']}").status_code == 401
    agent = api_as(factory.user(Role.ENROLMENT_AGENT))
    assert agent.post(URL, json=ping).status_code == 403
    assert agent.get(f"/api/v1/abis/responses/{ping['requestId']}").status_code == 403
    # A token scoped to the ABIS permission alone is enough
    admin = factory.user(Role.REGISTRY_ADMIN)
    scoped = TestClient(client.app, headers={
        "Authorization": f"Bearer {factory.token(admin, scopes=['biometry:abis:operate'])}"})
    answer = scoped.post(URL, json=ping)
    assert answer.status_code == 200 and answer.json()["returnValue"] == "1"
    assert answer.json()["id"] == "mosip.abis.ping"


def test_nothing_biometric_in_clear_and_ledgered(api_as: Callable[[User], TestClient],
                                                 factory: Factory, settings: Settings,
                                                 session_factory: sessionmaker[Session]
                                                 ) -> None:
    client = api_as(factory.user(Role.REGISTRY_ADMIN))
    document = cbeff_of(700)
    body = message("insert", referenceId="secret-ref", lakanaCbeff=inline(document))
    client.post(URL, json=body)
    template = iso_template(702, 0, 2)
    with session_factory() as session:
        queued = session.scalar(select(AbisRequest))
        assert queued is not None and "lakanaCbeff" not in queued.request_json
        payload = json.dumps(session.scalar(select(Job.payload)))
    assert "BIR" not in payload and inline(document)[:40] not in payload
    drain(settings, session_factory)
    with session_factory() as session:
        tables = ["biometry_abis_request", "biometry_abis_reference", "biometry_abis_sample",
                  "core_job", "core_audit_entry", "biometry_sealed_object"]
        dump = " ".join(str(session.execute(text(f"SELECT * FROM {t}")).all())
                        for t in tables if _exists(session, t))
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("biometry.abis.%"))).all()
    assert "FMR" not in dump and template[:40].hex() not in dump
    assert inline(template)[:40] not in dump and inline(document)[40:80] not in dump
    actions = [e.action for e in entries]
    assert actions == ["biometry.abis.request", "biometry.abis.insert"]
    assert all(body["requestId"] in json.dumps(e.details) for e in entries)
    assert "BDB" not in json.dumps([e.details for e in entries])


def _exists(session: Session, table: str) -> bool:
    from sqlalchemy import inspect

    return inspect(session.get_bind()).has_table(table)


def test_target_fpir_maps_to_a_threshold() -> None:
    from lakana.biometry import runtime

    engine = runtime.engine()
    assert service.threshold_for(None, 10, engine) == engine.match_threshold
    assert service.threshold_for(30, 10, engine) >= engine.match_threshold
    assert service.threshold_for(30, 0, engine) == engine.match_threshold
