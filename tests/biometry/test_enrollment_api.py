"""The enrollment API: packets as a registration client sends them, replays, refusals with a
clear reason (French by default, English on request), size cap, permissions, template
export."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry.api_enrollment import MAX_PACKET_BYTES
from lakana.biometry.models import Capture, Enrollment, Person, SealedObject
from lakana.biometry.nbis_engine import NbisEngine
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.biometry.test_enrollment import NIN, b64, face_png, finger_wsq, packet_dict
from tests.conftest import Factory

URL = "/api/v1/biometry/enrollments"
EN = {"Accept-Language": "en"}


def _rows(session_factory: sessionmaker[Session]) -> tuple[int, ...]:
    with session_factory() as session:
        return tuple(session.scalar(select(func.count()).select_from(m)) or 0
                     for m in (Person, Enrollment, Capture, SealedObject))


def test_submit_replay_conflict_and_status(api_as: Callable[[User], TestClient],
                                           factory: Factory,
                                           session_factory: sessionmaker[Session]) -> None:
    client = api_as(factory.user(Role.ENROLMENT_AGENT))
    data = packet_dict(face=face_png())
    created = client.post(URL, json=data)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["replayed"] is False and body["state"] in ("issued", "adjudication")
    assert created.headers["location"] == f"{URL}/{body['enrollment_id']}"
    assert {(q["modality"], q["position"]) for q in body["quality"]} == {("face", 0),
                                                                         ("finger", 1)}
    again = client.post(URL, json=data)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["enrollment_id"] == body["enrollment_id"]
    data["device"] = "Station-08"
    conflict = client.post(URL, json=data, headers=EN)
    assert conflict.status_code == 409
    assert "already received with other content" in conflict.json()["detail"]

    status = client.get(f"{URL}/{body['enrollment_id']}")
    assert status.status_code == 200
    shown = status.json()
    assert shown["state"] == body["state"] and shown["person_id"] == body["person_id"]
    assert len(shown["quality"]) == 2
    text = status.text
    assert NIN not in text and "base64" not in text and "FMR" not in text
    assert client.get(f"{URL}/999999").status_code == 404
    with session_factory() as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "biometry.enrollment.submit" in actions and "biometry.enrollment.replay" in actions
    assert "biometry.enrollment.refused" in actions


def test_refusals_are_clear_ledgered_and_leave_nothing(
        api_as: Callable[[User], TestClient], factory: Factory,
        session_factory: sessionmaker[Session]) -> None:
    client = api_as(factory.user(Role.ENROLMENT_AGENT))
    before = _rows(session_factory)
    corrupt = packet_dict(fingers={1: finger_wsq(), 7: b"\x89PNG\r\n\x1a\n" + b"\x00" * 300})
    answer = client.post(URL, json=corrupt)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("Doigt 7 : ")  # French by default
    answer = client.post(URL, json=corrupt, headers=EN)
    assert answer.json()["detail"] == ("Finger 7: The fingerprint image is corrupt, "
                                       "truncated or not an image.")
    bad = packet_dict(packet_id="pkt-bad-b64")
    bad["captures"][0]["image_base64"] = "%%%not-base64%%%"
    answer = client.post(URL, json=bad, headers=EN)
    assert answer.status_code == 422
    assert answer.json()["detail"] == "The data of finger 1 is not valid base64."
    assert client.post(URL, content=b"{not json", headers={
        "Content-Type": "application/json"}).status_code == 422
    invalid = packet_dict(packet_id="pkt-invalid")
    invalid["demographics"]["nin"] = "ML 1985 SECRET"
    answer = client.post(URL, json=invalid)
    assert answer.status_code == 422 and "ML 1985 SECRET" not in answer.text
    assert _rows(session_factory) == before
    with session_factory() as session:
        refused = list(session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.enrollment.refused")))
    assert len(refused) == 5
    assert all(NIN not in e.details and "ML 1985 SECRET" not in e.details for e in refused)
    assert "Finger 7" in refused[0].details


def test_oversized_packet(api_as: Callable[[User], TestClient], factory: Factory,
                          session_factory: sessionmaker[Session]) -> None:
    # Given a packet padded past the size cap
    client = api_as(factory.user(Role.ENROLMENT_AGENT))
    before = _rows(session_factory)
    body = json.dumps(packet_dict()).encode()
    body = body[:-1] + b', "padding": "' + b"A" * MAX_PACKET_BYTES + b'"}'
    # When it is sent with its length declared, then streamed without one (chunked)
    answer = client.post(URL, content=body, headers={"Content-Type": "application/json",
                                                     **EN})
    streamed = client.post(URL, content=iter([body[:1024], body[1024:]]),
                           headers={"Content-Type": "application/json", **EN})
    # And one past the application's own body limit (10 MiB), which the global size check
    # would have refused before the route could ledger it
    huge = body[:-2] + b"A" * (11 * 1024 * 1024) + b'"}'
    beyond = client.post(URL, content=huge, headers={"Content-Type": "application/json",
                                                     **EN})
    # Then all are refused with a clear reason, ledgered, and nothing is stored
    for refused in (answer, streamed, beyond):
        assert refused.status_code == 413
        assert "enrollment packet is larger than" in refused.json()["detail"]
    assert "content-length" not in streamed.request.headers
    assert _rows(session_factory) == before
    with session_factory() as session:
        entries = list(session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.enrollment.refused")))
    assert len(entries) == 3
    for entry in entries:
        details = json.loads(entry.details)
        assert details["status"] == 413 and details["packet_id"] is None
        assert details["reason"] == (f"The enrollment packet is larger than "
                                     f"{MAX_PACKET_BYTES} bytes.")
        # The ledger keeps why, never what the packet held
        assert NIN not in entry.details and "AAAA" not in entry.details


def test_permissions(api_as: Callable[[User], TestClient], factory: Factory) -> None:
    focal = api_as(factory.user(Role.FOCAL_POINT))
    assert focal.post(URL, json=packet_dict()).status_code == 403
    agent = api_as(factory.user(Role.ENROLMENT_AGENT))
    created = agent.post(URL, json=packet_dict()).json()
    assert focal.get(f"{URL}/{created['enrollment_id']}").status_code == 403
    path = f"/api/v1/biometry/persons/{created['person_id']}/fingers/1/template"
    assert agent.get(path).status_code == 403
    assert focal.get(path).status_code == 403


def test_template_export_reimports(api_as: Callable[[User], TestClient],
                                   factory: Factory) -> None:
    agent = api_as(factory.user(Role.ENROLMENT_AGENT))
    created = agent.post(URL, json=packet_dict()).json()
    adjudicator = api_as(factory.user(Role.ADJUDICATOR))
    path = f"/api/v1/biometry/persons/{created['person_id']}/fingers/1/template"
    answer = adjudicator.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    record = answer.content
    assert record.startswith(b"FMR\x00 20\x00") and record[24] == 1
    assert NbisEngine().finger_from_template(record, position=1).minutiae == 150
    assert adjudicator.get(path.replace("/fingers/1/", "/fingers/2/")).status_code == 404
    assert adjudicator.get(path.replace("/fingers/1/", "/fingers/11/")).status_code == 422
    # The record re-imports as a template capture: under another number it is the same
    # finger, so deduplication sends it to adjudication.
    data = packet_dict(packet_id="pkt-import-02", nin="ML-2001-777", fingers={},
                       templates={1: record})
    again = agent.post(URL, json=data)
    assert again.status_code == 201, again.text
    assert again.json()["state"] == "adjudication"
    data["captures"][0]["iso_template_base64"] = b64(record[:-4])
    data["packet_id"] = "pkt-import-03"
    data["demographics"]["nin"] = "ML-2001-778"
    answer = agent.post(URL, json=data, headers=EN)
    assert answer.status_code == 422 and "truncated" in answer.json()["detail"]


def test_registry_reads_are_in_the_registrys_ledger(
        api_as: Callable[[User], TestClient], factory: Factory, settings: Settings,
        session_factory: sessionmaker[Session]) -> None:
    # Given an enrollment, read back and whose template is exported
    admin = api_as(factory.user(Role.REGISTRY_ADMIN))
    created = admin.post("/api/v1/biometry/enrollments", json=packet_dict()).json()
    assert admin.get(f"/api/v1/biometry/enrollments/{created['enrollment_id']}").is_success
    assert admin.get(f"/api/v1/biometry/persons/{created['person_id']}/fingers/1/"
                     "template").is_success
    # Then every entry is named under "biometry." (what the authority's export discloses)
    # and the template export appears in the person's history
    from lakana.biometry import lifecycle, runtime
    from lakana.core.auth.rbac import system_actor

    with session_factory() as session:
        actions = set(session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type.like("biometry%"))))
        assert {"biometry.enrollment.read", "biometry.template.export"} <= actions
        assert all(a.startswith("biometry.") for a in actions), actions
        view = lifecycle.view_person(session=session, actor=system_actor("tests"),
                                     store=runtime.keystore(settings),
                                     person_id=created["person_id"])
        assert "biometry.template.export" in {e.action for e in view.history}
