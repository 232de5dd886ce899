"""JSON API of phishing exercises: the agency runs them; an institution's managers see
pseudonyms and aggregates of their own exercises only; target lists refused whole with the
line named (bad or duplicate address, wrong encoding)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.phishing.models import PhishingTarget
from lakana.core.auth.rbac import Role
from tests.awareness.phishing.makers import BODY
from tests.conftest import Factory

BASE = "/api/v1/awareness/phishing"


def _targets(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(PhishingTarget)) or 0


def test_agency_prepares_and_managers_see_pseudonyms(
        factory: Factory, api_as: Callable[..., TestClient],
        session_factory: sessionmaker[Session]) -> None:
    # Given the agency's exercise team, a manager of the MEF and one of the DGI
    mef, dgi = factory.institution("MEF"), factory.institution("DGI")
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    manager = api_as(factory.user(Role.FOCAL_POINT, institution_id=mef))
    other = api_as(factory.user(Role.FOCAL_POINT, institution_id=dgi))
    # When the agency adds a template and an exercise for the MEF and imports its targets
    template = agency.post(f"{BASE}/templates", json={
        "name": "Colis", "subject": "Votre colis est en attente", "body": BODY})
    assert template.status_code == 201, template.text
    exercise = agency.post(f"{BASE}/exercises", json={
        "institution_id": mef, "template_id": template.json()["id"], "name": "Colis MEF"})
    assert exercise.status_code == 201, exercise.text
    path = f"{BASE}/exercises/{exercise.json()['id']}"
    imported = agency.post(f"{path}/targets", content=(
        "email,nom,service\nawa@mef.example.ml,Awa Traoré,Budget\n"
        "moussa@mef.example.ml,Moussa Keïta,Trésor\n").encode())
    assert imported.status_code == 200 and imported.json()["added"] == 2
    # Then the agency sees names and addresses
    full = agency.get(f"{path}/results").json()
    assert {r["email"] for r in full["rows"]} == {"awa@mef.example.ml", "moussa@mef.example.ml"}
    # And the MEF's manager sees pseudonyms only, and aggregates
    seen = manager.get(f"{path}/results")
    assert seen.status_code == 200
    assert all(r["email"] is None and r["full_name"] is None and r["department"] == ""
               for r in seen.json()["rows"])
    assert all(r["pseudonym"].startswith("Cible ") for r in seen.json()["rows"])
    assert "awa@mef" not in seen.text and "Traoré" not in seen.text
    assert seen.json()["targets"] == 2
    # And may not manage exercises
    assert manager.post(f"{path}/send").status_code == 403
    assert manager.get(f"{BASE}/templates").status_code == 403
    # And the DGI's manager does not learn the exercise exists
    assert other.get(f"{path}/results").status_code == 404
    assert other.get(path).status_code == 404
    assert other.get(f"{BASE}/exercises").json() == []
    # And a template without the {{lien}} placeholder is refused
    bad = agency.post(f"{BASE}/templates", json={
        "name": "Sans lien", "subject": "Bonjour", "body": "Bonjour, rien à cliquer."},
        headers={"Accept-Language": "fr"})
    assert bad.status_code == 422 and "{{lien}}" in bad.text
    assert _targets(session_factory) == 2


def test_bad_target_lists_are_refused_whole_with_the_line(
        factory: Factory, api_as: Callable[..., TestClient],
        session_factory: sessionmaker[Session]) -> None:
    # Given a draft exercise of the MEF
    mef = factory.institution("MEF")
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    template = agency.post(f"{BASE}/templates", json={
        "name": "Colis", "subject": "Votre colis", "body": BODY}).json()
    exercise = agency.post(f"{BASE}/exercises", json={
        "institution_id": mef, "template_id": template["id"], "name": "Colis MEF"}).json()
    path = f"{BASE}/exercises/{exercise['id']}/targets"
    fr = {"Accept-Language": "fr"}
    cases = {
        # a bad address on line 3
        b"email;nom\nawa@mef.example.ml;Awa\npas-une-adresse;Moussa\n": 3,
        # the same address twice (case aside): line 3
        b"email,nom\nawa@mef.example.ml,Awa\nAWA@mef.example.ml,Awa bis\n": 3,
        # Latin-1 instead of UTF-8, the bad byte on line 2
        "email,nom\nawa@mef.example.ml,Awa Traoré\n".encode("latin-1"): 2,
        # no e-mail column
        b"nom,service\nAwa,Budget\n": 1,
    }
    for data, line in cases.items():
        # When the list is sent
        refused = agency.post(path, content=data, headers=fr)
        # Then it is refused (422) with the line named, and nothing is saved
        assert refused.status_code == 422, refused.text
        assert f"ligne {line}" in refused.text, refused.text
        assert _targets(session_factory) == 0
    # And a good list is accepted; sending it again is refused as duplicates
    good = b"email,nom\nawa@mef.example.ml,Awa\n"
    assert agency.post(path, content=good).status_code == 200
    again = agency.post(path, content=good, headers=fr)
    assert again.status_code == 422 and "ligne 2" in again.text
    assert _targets(session_factory) == 1
