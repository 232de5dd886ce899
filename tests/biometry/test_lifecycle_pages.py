"""The lifecycle's pages: the queue, the side-by-side view and its decision form, the capture
image (permission, ledger, no-store), the search by number and the person record with its
death and deletion forms."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import enrollment as intake
from lakana.biometry import lifecycle, runtime
from lakana.biometry.matching.faces import DlibFaceEncoder
from lakana.biometry.models import Adjudication, Capture, Person
from lakana.biometry.nbis_engine import NbisEngine
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.auth.service import actor_for
from lakana.core.config import Settings
from tests.biometry.test_enrollment import face_png, finger_png, finger_wsq, packet
from tests.biometry.test_lifecycle_api import _pair
from tests.conftest import Factory, csrf_from


def test_adjudication_pages_and_decision(login_as: Callable[[User], TestClient],
                                         factory: Factory, settings: Settings,
                                         session_factory: sessionmaker[Session]) -> None:
    issued, pending, adjudication_id = _pair(session_factory, settings)
    browser = login_as(factory.user(Role.ADJUDICATOR))
    queue = browser.get("/biometry/adjudications")
    assert queue.status_code == 200 and "Arbitrages" in queue.text
    assert f'href="/biometry/adjudications/{adjudication_id}"' in queue.text
    page = browser.get(f"/biometry/adjudications/{adjudication_id}")
    assert page.status_code == 200 and "Captures de l" in page.text
    with session_factory() as session:
        captures = session.scalars(select(Capture).where(
            Capture.person_id.in_((issued, pending)))).all()
    for capture in captures:
        assert f"/biometry/captures/{capture.id}/image" in page.text
    path = f"/biometry/adjudications/{adjudication_id}/decision"
    refused = browser.post(path, data={"csrf_token": csrf_from(page.text),
                                       "decision": "distinct", "reason": ""})
    assert refused.status_code == 422 and "doit être motivée" in refused.text
    done = browser.post(path, data={"csrf_token": csrf_from(page.text), "decision": "distinct",
                                    "reason": "Jumeaux, actes vérifiés"},
                        follow_redirects=False)
    assert done.status_code == 303
    after = browser.get(done.headers["location"])
    assert "La décision a été enregistrée." in after.text
    with session_factory() as session:
        person = session.get(Person, pending)
        assert person is not None and person.status == "active"


def _face_and_thumb_duplicate(factory: Factory, settings: Settings,
                              session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    """A person enrolled with the real thumb and portrait, then the same thumb (cropped) and
    face (mirrored) under another number, deduplicated by an engine comparing faces too:
    (issued person, pending person, adjudication)."""
    engine = NbisEngine(face_encoder=DlibFaceEncoder())
    store = runtime.keystore(settings)
    agent = actor_for(factory.user(Role.ENROLMENT_AGENT))
    results = []
    for data in (packet(packet_id="pkt-side-1", nin="ML-1990-00001",
                        fingers={1: finger_wsq()}, face=face_png()),
                 packet(packet_id="pkt-side-2", nin="ML-1990-00002",
                        fingers={1: finger_png(crop=(20, 20, 520, 500))},
                        face=face_png(360, 480))):
        with session_factory.begin() as session:
            results.append(intake.submit_packet(session=session, actor=agent, store=store,
                                                engine=engine, packet=data))
    first, second = results
    assert (first.state, second.state) == ("issued", "adjudication")
    with session_factory() as session:
        adjudication_id = session.scalars(select(Adjudication.id)).one()
    return first.person_id, second.person_id, adjudication_id


def _figures(cards: str) -> dict[str, str]:
    """Each capture of a ``cards`` block: its image address (or "") by its caption's text."""
    found = {}
    for figure in re.findall(r"<figure>(.*?)</figure>", cards, re.S):
        image = re.search(r'<img src="([^"]+)"', figure)
        caption = re.search(r"<figcaption>(.*?)</figcaption>", figure, re.S)
        assert caption is not None
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", caption.group(1))).split())
        found[text] = image.group(1) if image else ""
    return found


def test_adjudication_shows_the_candidates_side_by_side_with_their_scores(
        login_as: Callable[[User], TestClient], factory: Factory, settings: Settings,
        session_factory: sessionmaker[Session]) -> None:
    # Given a possible duplicate found by both the thumb and the face
    issued, pending, adjudication_id = _face_and_thumb_duplicate(factory, settings,
                                                                 session_factory)
    with session_factory() as session:
        adjudication = session.get(Adjudication, adjudication_id)
        assert adjudication is not None
        candidate, = lifecycle.candidates_of(adjudication)
        captures = {(c.person_id, c.modality): (c.id, c.quality) for c in session.scalars(
            select(Capture).where(Capture.person_id.in_((issued, pending))))}
    assert candidate["person_id"] == issued
    assert set(candidate["scores"]) == {"finger:1", "face"}
    thumb, face = (round(candidate["scores"][k]) for k in ("finger:1", "face"))
    best = round(candidate["score"])
    # When the adjudicator opens the queue, then the adjudication
    browser = login_as(factory.user(Role.ADJUDICATOR))
    queue = browser.get("/biometry/adjudications")
    row, = re.findall(r"<tr>\s*<td><a href=\"/biometry/adjudications/\d+\">.*?</tr>",
                      queue.text, re.S)
    assert f">{adjudication_id}</a>" in row and f"<td>{best}</td>" in row
    page = browser.get(f"/biometry/adjudications/{adjudication_id}")
    assert page.status_code == 200
    # Then the enrollment's captures and the candidate's are laid out one block each, in
    # the same order (face, then the thumb), every image shown
    blocks = re.findall(r'<div class="cards">(.*?)</div>', page.text, re.S)
    assert len(blocks) == 2
    mine, theirs = (_figures(b) for b in blocks)
    for person, shown in ((pending, mine), (issued, theirs)):
        assert list(shown.values()) == [
            f"/biometry/captures/{captures[(person, m)][0]}/image" for m in ("face", "finger")]
    assert list(mine) == [f"Visage · Qualité {captures[(pending, 'face')][1]}",
                          f"Doigt 1 · Qualité {captures[(pending, 'finger')][1]}"]
    # And the candidate's heading names the person and the fused score, and each capture
    # its own score (the thumb's Bozorth3 score, the face's)
    heading = re.search(r"<h2>Candidat : (.*?)</h2>", page.text, re.S)
    assert heading is not None
    assert f'<a href="/biometry/persons/{issued}">{issued}</a>' in heading.group(1)
    assert f"Score {best} · active" in html.unescape(heading.group(1))
    assert list(theirs) == [
        f"Visage · Qualité {captures[(issued, 'face')][1]} · Score {face}",
        f"Doigt 1 · Qualité {captures[(issued, 'finger')][1]} · Score {thumb}"]
    # And the decision form offers the candidate with the score
    assert f'<option value="{issued}" >personne {issued} ({best})</option>' in page.text


def test_capture_image_needs_image_read(login_as: Callable[[User], TestClient],
                                        factory: Factory, settings: Settings,
                                        session_factory: sessionmaker[Session]) -> None:
    issued, _, _ = _pair(session_factory, settings)
    with session_factory() as session:
        finger, face = (session.scalars(select(Capture.id).where(
            Capture.person_id == issued, Capture.modality == m)).one()
            for m in ("finger", "face"))
    agent = login_as(factory.user(Role.ENROLMENT_AGENT))
    assert agent.get(f"/biometry/captures/{finger}/image").status_code == 403
    adjudicator = login_as(factory.user(Role.ADJUDICATOR))
    image = adjudicator.get(f"/biometry/captures/{finger}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "no-store"
    assert image.content.startswith(b"\x89PNG")
    photo = adjudicator.get(f"/biometry/captures/{face}/image")
    assert photo.headers["content-type"] == "image/jpeg"
    assert adjudicator.get("/biometry/captures/999999/image").status_code == 404
    with session_factory() as session:
        reads = session.scalars(select(AuditEntry.object_id).where(
            AuditEntry.action == "biometry.capture.read")).all()
        assert sorted(reads) == sorted([str(finger), str(face)])


def test_search_and_person_record(login_as: Callable[[User], TestClient], factory: Factory,
                                  settings: Settings,
                                  session_factory: sessionmaker[Session]) -> None:
    issued, _, _ = _pair(session_factory, settings)
    # Given a relying service that verified the person once
    from lakana.biometry import relying
    from lakana.biometry.models import ServiceAccess
    from lakana.core.auth.rbac import system_actor

    with session_factory.begin() as session:
        service = relying.create_service(
            session=session, actor=system_actor("tests"), data=relying.ServiceIn(
                code="aige", name="Autorité électorale fictive", legal_basis="Loi",
                purposes=["voter_verification"]))
        session.add(ServiceAccess(service_id=service.id, person_id=issued, operation="verify",
                                  purpose="voter_verification", outcome="match",
                                  score_band="high"))
    admin = login_as(factory.user(Role.REGISTRY_ADMIN))
    search = admin.get("/biometry/persons")
    assert search.status_code == 200 and "Personnes" in search.text
    found = admin.post("/biometry/persons", data={"csrf_token": csrf_from(search.text),
                                                  "nin": "ML100001"})
    assert f'href="/biometry/persons/{issued}"' in found.text
    missing = admin.post("/biometry/persons", data={"csrf_token": csrf_from(search.text),
                                                    "nin": "ML999999"})
    assert "Aucune personne" in missing.text
    # A number in the address is ignored: it would sit in proxy logs and the history
    assert "Aucune personne" not in admin.get("/biometry/persons?nin=ML999999").text
    record = admin.get(f"/biometry/persons/{issued}")
    assert record.status_code == 200
    assert "ML100001" in record.text and "Identité délivrée" in record.text
    # The access history names the service and the purpose, not their codes
    assert "Autorité électorale fictive" in record.text
    assert "électeur au bureau de vote" in record.text and "voter_verification" not in record.text
    died = admin.post(f"/biometry/persons/{issued}/death",
                      data={"csrf_token": csrf_from(record.text), "date_of_death": "2999-01-01"})
    assert died.status_code == 422 and "futur" in died.text
    died = admin.post(f"/biometry/persons/{issued}/death",
                      data={"csrf_token": csrf_from(record.text), "date_of_death": "2026-01-01"},
                      follow_redirects=False)
    assert died.status_code == 303
    deleted = admin.post(f"/biometry/persons/{issued}/deletion",
                         data={"csrf_token": csrf_from(record.text), "reason": "Ordonnance 4"},
                         follow_redirects=False)
    assert deleted.status_code == 303
    page = admin.get(deleted.headers["location"])
    assert "Données supprimées" in page.text and "Décès enregistré" in page.text
    assert "ML100001" not in page.text
    analyst = login_as(factory.user(Role.CSIRT_ANALYST))
    assert analyst.get(f"/biometry/persons/{issued}").status_code == 403
    assert analyst.get("/biometry/persons").status_code == 403
    with session_factory() as session:
        searches = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.person.search")).all()
        assert len(searches) == 2 and not any("ML1" in s.details for s in searches)
