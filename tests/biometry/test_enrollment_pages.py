"""The enrollment station: the French form, a double submit recognised, a refused capture
re-rendering the form with the reason and what was typed."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry.models import Capture, Enrollment, Person, SealedObject
from lakana.biometry.pages_enrollment import MAX_FILE_BYTES
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from tests.biometry.test_enrollment import face_png, finger_wsq
from tests.conftest import Factory, csrf_from


def _form(page: str) -> dict[str, str]:
    values = {"csrf_token": csrf_from(page)}
    for name in ("packet_id", "captured_at"):
        found = re.search(rf'name="{name}" value="([^"]+)"', page)
        assert found is not None
        values[name] = found.group(1)
    values.update({"kind": "new", "centre": "Kayes Centre 2", "device": "Station-3",
                   "nin": "ML-1990-55501", "surname": "Diarra", "given_names": "Moussa",
                   "sex": "M", "date_of_birth": "1990-01-02", "place_of_birth": "Kayes",
                   "region": "Kayes", "phone": ""})
    return values


def test_enroll_through_the_station(login_as: Callable[[User], TestClient], factory: Factory,
                                    session_factory: sessionmaker[Session]) -> None:
    client = login_as(factory.user(Role.ENROLMENT_AGENT))
    page = client.get("/biometry/enroll")
    assert page.status_code == 200
    assert "Poste d'enrôlement" in page.text and "Pouce droit" in page.text
    assert "Ségou" in page.text and "<script" not in page.text.split("<main")[-1]
    values = _form(page.text)
    files = {"finger_1": ("thumb.wsq", finger_wsq(), "application/octet-stream"),
             "face": ("face.png", face_png(), "image/png")}
    sent = client.post("/biometry/enroll", data=values, files=files, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    assert re.fullmatch(r"/biometry/enroll/\d+", location)
    result = client.get(location)
    assert result.status_code == 200
    assert "L'enrôlement a été reçu." in html.unescape(result.text) and "Pouce droit" in result.text
    assert "<td>42</td>" in result.text  # NFIQ 2 of the real print
    # The same form sent twice (a double click, a reload): recognised, not enrolled again.
    again = client.post("/biometry/enroll", data=values, files=files, follow_redirects=False)
    assert again.headers["location"] == location + "?replayed=1"
    assert "avait déjà été reçu" in client.get(again.headers["location"]).text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_refused_capture_keeps_what_was_typed(login_as: Callable[[User], TestClient],
                                              factory: Factory,
                                              session_factory: sessionmaker[Session]) -> None:
    client = login_as(factory.user(Role.ENROLMENT_AGENT))
    values = _form(client.get("/biometry/enroll").text)
    files = {"finger_1": ("thumb.wsq", finger_wsq(), "application/octet-stream"),
             "finger_7": ("index.png", b"\x89PNG\r\n\x1a\nbroken", "image/png")}
    answer = client.post("/biometry/enroll", data=values, files=files)
    assert answer.status_code == 422
    assert "Doigt 7 : L'image (empreinte digitale) est corrompue" in html.unescape(answer.text)
    assert 'value="Diarra"' in answer.text and 'value="ML-1990-55501"' in answer.text
    assert f'value="{values["packet_id"]}"' in answer.text
    assert '<option value="Kayes" selected>' in answer.text
    missing = client.post("/biometry/enroll", data=values,
                          files={"face": ("face.png", face_png(), "image/png")})
    assert missing.status_code == 422 and "au moins un doigt" in missing.text
    values["date_of_birth"] = "not a date"
    invalid = client.post("/biometry/enroll", data=values, files=files)
    assert invalid.status_code == 422
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_oversized_file_is_refused_ledgered_and_leaves_nothing(
        login_as: Callable[[User], TestClient], factory: Factory,
        session_factory: sessionmaker[Session]) -> None:
    # Given the station form with a real thumb and a finger file one byte over the limit
    client = login_as(factory.user(Role.ENROLMENT_AGENT))
    values = _form(client.get("/biometry/enroll").text)
    files = {"finger_1": ("thumb.wsq", finger_wsq(), "application/octet-stream"),
             "finger_2": ("index.png", b"\x89PNG" + b"A" * MAX_FILE_BYTES, "image/png")}
    # When it is submitted
    answer = client.post("/biometry/enroll", data=values, files=files)
    # Then the form comes back with the reason and what was typed
    assert answer.status_code == 422
    assert (f"Le fichier index.png dépasse {MAX_FILE_BYTES} octets."
            in html.unescape(answer.text))
    assert 'value="Diarra"' in answer.text
    # And the refusal is ledgered (the reason, not the content), nothing else written
    with session_factory() as session:
        for model in (Person, Enrollment, Capture, SealedObject):
            assert session.scalar(select(func.count()).select_from(model)) == 0
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.enrollment.refused")).one()
    details = json.loads(entry.details)
    assert details["packet_id"] == values["packet_id"] and details["status"] == 422
    assert details["reason"] == f"The file index.png is larger than {MAX_FILE_BYTES} bytes."
    assert "ML-1990-55501" not in entry.details and "AAAA" not in entry.details


def test_station_needs_the_enrol_permission(login_as: Callable[[User], TestClient],
                                            factory: Factory) -> None:
    client = login_as(factory.user(Role.FOCAL_POINT))
    assert client.get("/biometry/enroll").status_code == 403
