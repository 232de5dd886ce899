"""HTML pages of training: catalogue and course forms with inline errors (422, input kept),
trainees, a session with enrolment, sheet upload and outcomes, completion, certificate PDF,
and the public checker (no account, forged codes, rate limit)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.awareness.training import certificates
from lakana.core.auth.rbac import Role
from tests.conftest import Factory, csrf_from


def _session_of_one_seat(browser: TestClient) -> str:
    page = browser.get("/awareness/training")
    made = browser.post("/awareness/training/courses", data={
        "csrf_token": csrf_from(page.text), "kind": "classroom",
        "title": "Gestion des incidents", "duration_hours": "21", "provider": "ANSSI-ML",
        "description": "", "url": ""}, follow_redirects=False)
    assert made.status_code == 303, made.text
    course = browser.get(made.headers["location"])
    held = browser.post(f"{made.headers['location']}/sessions", data={
        "csrf_token": csrf_from(course.text), "starts_on": "2026-10-05",
        "ends_on": "2026-10-07", "place": "Bamako", "seats": "1"}, follow_redirects=False)
    assert held.status_code == 303
    return str(held.headers["location"])


def test_catalogue_forms_show_errors_inline_and_keep_input(
        factory: Factory, login_as: Callable[..., TestClient]) -> None:
    # Given the agency on the catalogue
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get("/awareness/training")
    assert page.status_code == 200 and "Catalogue des formations" in page.text
    # When it adds an e-learning course without its link
    bad = browser.post("/awareness/training/courses", data={
        "csrf_token": csrf_from(page.text), "kind": "elearning", "title": "Hygiène numérique",
        "duration_hours": "3", "url": ""})
    # Then the error is inline and the input kept
    assert bad.status_code == 422
    assert "Une formation en ligne a besoin de son lien" in bad.text
    assert 'value="Hygiène numérique"' in bad.text
    # And a session whose end precedes its start is refused the same way
    path = _session_of_one_seat(browser)
    course_page = browser.get("/awareness/training")
    course_link = re.search(r'href="(/awareness/training/courses/\d+)"', course_page.text)
    assert course_link
    course = browser.get(course_link.group(1))
    wrong = browser.post(f"{course_link.group(1)}/sessions", data={
        "csrf_token": csrf_from(course.text), "starts_on": "2026-10-05",
        "ends_on": "2026-10-01", "place": "Kayes", "seats": "5"})
    assert wrong.status_code == 422 and 'value="Kayes"' in wrong.text
    assert browser.get(path).status_code == 200


def test_a_session_from_enrolment_to_certificate(
        factory: Factory, login_as: Callable[..., TestClient]) -> None:
    # Given a session of one seat, and a focal point of AAA with two people
    inst = factory.institution("AAA")
    agency = login_as(factory.user(Role.AGENCY_OFFICER))
    path = _session_of_one_seat(agency)
    focal = login_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    trainees = focal.get("/awareness/training/trainees")
    ids = []
    for name in ("Awa Traoré", "Moussa Keïta"):
        made = focal.post("/awareness/training/trainees", data={
            "csrf_token": csrf_from(trainees.text), "full_name": name,
            "email": f"{name.split()[0].lower()}@example.ml", "staff_number": ""},
            follow_redirects=False)
        assert made.status_code == 303, made.text
        ids.append(made.headers["location"].rsplit("/", 1)[1])
    # A bad e-mail keeps the input
    bad = focal.post("/awareness/training/trainees", data={
        "csrf_token": csrf_from(trainees.text), "full_name": "Fanta Diarra", "email": "nope"})
    assert bad.status_code == 422 and 'value="Fanta Diarra"' in bad.text
    # When the focal point enrols both: the second finds the session full
    page = focal.get(path)
    assert "Moussa Keïta" in page.text  # offered in the enrolment form
    session_id = path.rsplit("/", 1)[1]
    form = {"csrf_token": csrf_from(page.text), "session_id": session_id}
    assert focal.post("/awareness/training/enrolments", data={**form, "trainee_id": ids[0]},
                      follow_redirects=False).status_code == 303
    full = focal.post("/awareness/training/enrolments", data={**form, "trainee_id": ids[1]})
    assert full.status_code == 409 and "Cette session est complète" in full.text
    # And the agency imports a sheet: a refused one lists the row and column
    session_page = agency.get(path)
    csrf = csrf_from(session_page.text)
    refused = agency.post(f"{path}/attendance", data={"csrf_token": csrf}, files={
        "sheet": ("presence.csv", b"email,note\nawa@example.ml,300\n", "text/csv")})
    assert refused.status_code == 422
    assert "Ligne 2, colonne score" in refused.text
    assert "La note doit être un nombre entier de 0 à 100." in refused.text
    accepted = agency.post(f"{path}/attendance", data={"csrf_token": csrf}, files={
        "sheet": ("presence.csv", "email;résultat;note\nawa@example.ml;réussi;95\n"
                  .encode(), "text/csv")})
    assert accepted.status_code == 200 and "1 certificats délivrés" in accepted.text
    # Then the trainee's page links the certificate, which downloads as PDF
    trainee = focal.get(f"/awareness/training/trainees/{ids[0]}")
    link = re.search(r'href="(/awareness/training/certificates/\d+/pdf)"', trainee.text)
    assert link and "Réussi" in trainee.text
    pdf = focal.get(link.group(1))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # And the completion page shows AAA
    completion = focal.get("/awareness/training/completion")
    assert "AAA" in completion.text and "Personnes formées" in completion.text


def test_outcome_form_and_stale_trainee_edit(
        factory: Factory, login_as: Callable[..., TestClient]) -> None:
    inst = factory.institution("AAA")
    agency = login_as(factory.user(Role.AGENCY_OFFICER))
    path = _session_of_one_seat(agency)
    listing = agency.get("/awareness/training/trainees")
    made = agency.post("/awareness/training/trainees", data={
        "csrf_token": csrf_from(listing.text), "institution_id": str(inst),
        "full_name": "Awa Traoré", "email": "awa@example.ml"}, follow_redirects=False)
    trainee_path = made.headers["location"]
    page = agency.get(path)
    agency.post("/awareness/training/enrolments", data={
        "csrf_token": csrf_from(page.text), "session_id": path.rsplit("/", 1)[1],
        "trainee_id": trainee_path.rsplit("/", 1)[1]})
    page = agency.get(path)
    enrolment = re.search(r'action="(/awareness/training/enrolments/\d+)"', page.text)
    assert enrolment
    csrf = csrf_from(page.text)
    wrong = agency.post(enrolment.group(1), data={"csrf_token": csrf, "outcome": "no_show",
                                                  "score": "50", "version": "1"})
    assert wrong.status_code == 422 and "Une personne absente n&#39;a pas de note." in wrong.text
    saved = agency.post(enrolment.group(1), data={"csrf_token": csrf, "outcome": "failed",
                                                  "score": "20", "version": "1"},
                        follow_redirects=False)
    assert saved.status_code == 303
    # A stale edit of the trainee answers 409 and keeps the input
    form = {"csrf_token": csrf, "full_name": "Awa Traoré", "email": "awa@example.ml",
            "staff_number": "MEF-1", "version": "1"}
    assert agency.post(trainee_path, data=form, follow_redirects=False).status_code == 303
    stale = agency.post(trainee_path, data={**form, "staff_number": "MEF-2"})
    assert stale.status_code == 409 and 'value="MEF-2"' in stale.text


def test_public_checker_needs_no_account(factory: Factory, client: TestClient,
                                         login_as: Callable[..., TestClient]) -> None:
    # Given a certificate issued through the pages
    inst = factory.institution("AAA")
    agency = login_as(factory.user(Role.AGENCY_OFFICER))
    path = _session_of_one_seat(agency)
    listing = agency.get("/awareness/training/trainees")
    agency.post("/awareness/training/trainees", data={
        "csrf_token": csrf_from(listing.text), "institution_id": str(inst),
        "full_name": "Awa Traoré", "email": "awa@example.ml"})
    page = agency.get(path)
    agency.post(f"{path}/attendance", data={"csrf_token": csrf_from(page.text)}, files={
        "sheet": ("p.csv", b"email,outcome\nawa@example.ml,completed\n", "text/csv")})
    code = re.search(r">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<",
                     agency.get(path).text)
    assert code
    # When anyone, without an account, opens the checker and enters the code in lower case
    form = client.get("/certificats/verifier")
    assert form.status_code == 200 and "Vérifier un certificat de formation" in form.text
    csrf = csrf_from(form.text)
    valid = client.post("/certificats/verifier", data={"csrf_token": csrf,
                                                       "code": code.group(1).lower()})
    # Then they see the name, the course and that it is valid
    assert valid.status_code == 200 and "Certificat valide." in valid.text
    assert "Awa Traoré" in valid.text and "Gestion des incidents" in valid.text
    # And a forged code gets a clear "not found"
    forged = client.post("/certificats/verifier", data={
        "csrf_token": csrf, "code": certificates.display_code(certificates.new_code())})
    assert forged.status_code == 404
    assert "Aucun certificat ne porte ce code." in forged.text
    assert "Awa Traoré" not in forged.text
    # And guessing is slowed down: past the limit the answer is 429
    answers = [client.post("/certificats/verifier", data={"csrf_token": csrf, "code": "X"})
               .status_code for _ in range(certificates.CHECKS_PER_ADDRESS)]
    assert answers[-1] == 429 and "Retry-After" in client.post(
        "/certificats/verifier", data={"csrf_token": csrf, "code": "X"}).headers
