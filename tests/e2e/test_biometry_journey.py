"""A registry administrator enrolls a person at the station, catches a second enrollment of
the same finger under another number in adjudication and rejects it as a duplicate; then the
citizen, without an account, opens their record with a code received by SMS, sees which
service consulted it, locks their fingerprints and complains to the data protection
authority — all in the French interface of a real Chromium."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import create_engine

from lakana.biometry import relying
from lakana.biometry.models import ServiceAccess
from lakana.biometry.sms import OUTBOX_NAME
from lakana.biometry.synthetic import synthetic_finger
from lakana.core.auth import service as auth_service
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.db import make_session_factory
from tests.biometry.faces import real_face
from tests.e2e.conftest import LiveServer, log_in

pytestmark = pytest.mark.e2e

REGISTRAR_EMAIL = "registre@e2e.example.ml"
REGISTRAR_PASSWORD = "Kura-Biometrie-E2e-41!"
NIN_FIRST = "E2E-ML-19850314"
NIN_SECOND = "E2E-ML-19900707"
PHONE = "+22376543210"
SEED_A = 4242
SERVICE_NAME = "Commission Électorale Nationale E2E"
#: Left index finger (ISO/IEC 19794-2 position 7).
FINGER = 7


@pytest.fixture
def registrar(live_server: LiveServer) -> LiveServer:
    """A registry administrator (every registry permission, TOTP enrolled), as a
    :class:`LiveServer` whose "admin" credentials are theirs, for :func:`log_in`."""
    secret = pyotp.random_base32()
    engine = create_engine(live_server.database_url)
    with make_session_factory(engine).begin() as session:
        user = auth_service.create_user(
            session=session, actor=system_actor("e2e"), email=REGISTRAR_EMAIL,
            full_name="Aminata Diarra", role=Role.REGISTRY_ADMIN, password=REGISTRAR_PASSWORD)
        user.mfa_secret = secret
        user.mfa_enabled = True
    engine.dispose()
    return dataclasses.replace(live_server, admin_email=REGISTRAR_EMAIL,
                               admin_password=REGISTRAR_PASSWORD, admin_totp_secret=secret)


@pytest.fixture
def outbox(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's SMS outbox: no SMS gateway is configured, so codes are appended to
    ``sms-outbox.jsonl`` in its data folder. The live server's home is not exposed by
    :class:`LiveServer`: it holds the SQLite database when there is one, otherwise it is the
    ``e2e-home<N>`` folder of this session's base temporary folder."""
    if live_server.database_url.startswith("sqlite:///"):
        return Path(live_server.database_url.removeprefix("sqlite:///")).parent / OUTBOX_NAME
    homes = [p for p in tmp_path_factory.getbasetemp().glob("e2e-home*")
             if not p.is_symlink() and (p / "secret.key").exists()]
    assert len(homes) == 1, homes
    return homes[0] / OUTBOX_NAME


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """Captures as files for the upload fields: a real face photograph (mirrored for the
    second enrollment) and two synthetic impressions of the same finger (seed A)."""
    files = {"face_a": ("face-a.jpg", real_face(fmt="JPEG")),
             "face_b": ("face-b.jpg", real_face(mirror=True, fmt="JPEG")),
             "finger_a0": ("finger-a0.png", synthetic_finger(SEED_A, 0)),
             "finger_a1": ("finger-a1.png", synthetic_finger(SEED_A, 1))}
    paths = {}
    for key, (name, data) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths[key] = path
    return paths


def _enroll(page: Any, url: str, *, nin: str, surname: str, given: str, face: Path,
            finger: Path, phone: str = "") -> None:
    """Fill the enrollment station's form (French labels) and submit it."""
    from playwright.sync_api import expect

    page.goto(f"{url}/biometry/enroll")
    expect(page.locator("h1")).to_have_text("Poste d'enrôlement")
    page.get_by_label("Centre d'enrôlement").fill("Bamako Commune III")
    page.get_by_label("Appareil de capture").fill("Station-07")
    page.get_by_label("Numéro d'identification nationale").fill(nin)
    page.get_by_label("Nom", exact=True).fill(surname)
    page.get_by_label("Prénoms").fill(given)
    page.get_by_label("Sexe").select_option("F")
    page.get_by_label("Date de naissance").fill("1985-03-14")
    page.get_by_label("Lieu de naissance").fill("Ségou")
    page.get_by_label("Région", exact=True).select_option("Ségou")
    if phone:
        page.get_by_label("Téléphone mobile").fill(phone)
    page.get_by_label("Photo du visage").set_input_files(str(face))
    page.locator(f"#e-finger-{FINGER}").set_input_files(str(finger))
    page.get_by_role("button", name="Envoyer l'enrôlement").click()
    page.wait_for_url(re.compile(r"/biometry/enroll/\d+$"))


def _props(page: Any) -> dict[str, str]:
    """The terms and definitions of the page's first ``dl.props``."""
    values: dict[str, str] = page.locator("dl.props").first.evaluate(
        "dl => Object.fromEntries([...dl.querySelectorAll('dt')].map("
        "dt => [dt.textContent.trim(), dt.nextElementSibling.textContent.trim()]))")
    return values


def _code_from(outbox: Path, phone: str) -> str:
    """The code of the last text message written to ``phone`` (the SMS is sent just after
    the page answers, so wait for it a little)."""
    import time

    deadline = time.monotonic() + 10
    texts: list[str] = []
    while True:
        lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()
                 if line.strip()] if outbox.exists() else []
        texts = [m["text"] for m in lines if m["to"] == phone]
        if texts or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert texts, f"no text message to {phone} in {outbox}"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found, texts[-1]
    return found.group(1)


def _watch(page: Any, errors: list[str]) -> None:
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))


def test_enrollment_adjudication_and_citizen_page(live_server: LiveServer, browser: Any,
                                                  registrar: LiveServer, outbox: Path,
                                                  images: dict[str, Path]) -> None:
    """Station → identity issued → same finger under another number → adjudication (images
    shown) → duplicate → person record; citizen: code by SMS → accesses → lock → complaint."""
    from playwright.sync_api import expect

    url = live_server.url
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    _watch(page, errors)

    # Given the registry administrator logged in, with the interface in French
    log_in(page, registrar)
    if page.locator("html").get_attribute("lang") != "fr":
        page.locator("#language-select").select_option("fr")
        expect(page.locator("html")).to_have_attribute("lang", "fr")

    # When they enroll a person with a face, a finger (seed A) and a mobile number
    _enroll(page, url, nin=NIN_FIRST, surname="Coulibaly", given="Fatoumata",
            face=images["face_a"], finger=images["finger_a0"], phone=PHONE)

    # Then the identity is issued, with the quality of both captures
    expect(page.get_by_role("status")).to_have_text("L'enrôlement a été reçu.")
    first = _props(page)
    assert first["État"] == "Identité délivrée", first
    person_id = int(first["Numéro de la personne dans le registre"])
    expect(page.locator("main table tbody tr")).to_have_count(2)
    expect(page.locator("main table tbody")).to_contain_text("Index gauche")

    # When a second enrollment under another number carries the same finger (impression 1)
    _enroll(page, url, nin=NIN_SECOND, surname="Traoré", given="Awa",
            face=images["face_b"], finger=images["finger_a1"])

    # Then it is held as a possible duplicate
    second = _props(page)
    assert second["État"] == "Doublon possible : transmis à l'arbitrage", second
    second_person = int(second["Numéro de la personne dans le registre"])

    # When they open the adjudication queue: one adjudication, one candidate
    page.goto(f"{url}/biometry/adjudications")
    expect(page.locator("h1")).to_have_text("Arbitrages")
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(3)).to_have_text("1")
    rows.locator("a").first.click()
    page.wait_for_url(re.compile(r"/biometry/adjudications/\d+$"))
    adjudication_url = page.url

    # Then the two enrollments are side by side, candidate = the first person, and every
    # image (two faces, two fingers) really loads
    expect(page.locator("h1")).to_contain_text("Arbitrage")
    expect(page.locator("main")).to_contain_text(f"personne {person_id}")
    pictures = page.locator("main figure img")
    expect(pictures).to_have_count(4)
    for i in range(4):
        img = pictures.nth(i)
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=img.element_handle())
        src = img.get_attribute("src")
        answer = context.request.get(f"{url}{src}")
        assert answer.status == 200, (src, answer.status)
        assert answer.headers["content-type"] in ("image/png", "image/jpeg"), answer.headers
        assert "no-store" in answer.headers.get("cache-control", "")

    # When they decide "duplicate" of the first person, with a reason
    page.get_by_label("Doublon : la même personne est déjà enregistrée").check()
    page.get_by_label("Doublon de").select_option(str(person_id))
    page.get_by_label("Motif").fill("Même empreinte de l'index gauche, même visage : "
                                    "deuxième enrôlement de la même personne.")
    page.get_by_role("button", name="Enregistrer la décision").click()

    # Then the decision is recorded and the queue is empty
    page.wait_for_url(f"{adjudication_url}?done=decided")
    expect(page.get_by_role("status")).to_have_text("La décision a été enregistrée.")
    expect(page.get_by_role("button", name="Enregistrer la décision")).to_have_count(0)
    page.goto(f"{url}/biometry/adjudications")
    expect(page.locator("main table tbody tr")).to_have_count(1)
    expect(page.locator("main table tbody")).to_have_text("Aucun arbitrage en attente.")

    # And the rejected enrollment's person is marked so
    page.goto(f"{url}/biometry/persons/{second_person}")
    assert _props(page)["Statut"] == "rejetée", _props(page)

    # When they open the first person's record
    page.goto(f"{url}/biometry/persons/{person_id}")
    expect(page.locator("h1")).to_have_text(f"personne {person_id} · Coulibaly Fatoumata")
    record = _props(page)
    assert record["Statut"] == "active", record
    assert record["Numéro d'identification nationale"] == NIN_FIRST, record
    assert record["Téléphone"] == PHONE, record
    captures = page.locator("main table").first.locator("tbody tr")
    expect(captures).to_have_count(2)
    assert not errors, errors
    context.close()

    # Given a relying service consulted the first person's record
    engine = create_engine(live_server.database_url)
    with make_session_factory(engine).begin() as session:
        service = relying.create_service(
            session=session, actor=system_actor("e2e"), data=relying.ServiceIn(
                code="cene-e2e", name=SERVICE_NAME,
                legal_basis="Loi électorale, article 64", purposes=["voter_verification"]))
        session.add(ServiceAccess(service_id=service.id, person_id=person_id,
                                  operation="verify", purpose="voter_verification",
                                  outcome="match", score_band="high",
                                  request_id="e2e-access-1"))
    engine.dispose()

    # When the citizen, without an account, asks for a code with their number
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(30_000)
    page = context.new_page()
    _watch(page, errors)
    page.goto(f"{url}/registre")
    expect(page.locator("h1")).to_have_text("Mon dossier au registre d'identité")
    page.get_by_label("Numéro d'identification nationale").fill(NIN_FIRST)
    page.get_by_role("button", name="Recevoir un code").click()

    # Then the code page says a code may have been sent; the SMS reached their phone
    expect(page.locator("h1")).to_have_text("Saisissez votre code")
    expect(page.get_by_role("status")).to_contain_text("un code lui a été envoyé")
    code = _code_from(outbox, PHONE)

    # When they enter it
    page.get_by_label("Code reçu par SMS").fill(code)
    page.get_by_role("button", name="Ouvrir mon dossier").click()

    # Then their page lists the service's access, with its purpose and outcome
    page.wait_for_url(f"{url}/registre/moi")
    expect(page.get_by_role("heading", name="Qui a consulté mon dossier")).to_be_visible()
    access = page.locator("main table tbody tr")
    expect(access).to_have_count(1)
    expect(access).to_contain_text(SERVICE_NAME)
    expect(access).to_contain_text("Identification de l'électeur au bureau de vote")
    expect(access).to_contain_text("Identité confirmée")

    # When they lock their fingerprints
    page.get_by_label("Verrouiller mes empreintes digitales").check()
    page.get_by_role("button", name="Enregistrer mes choix").click()

    # Then the choice is saved and shown ticked
    page.wait_for_url(f"{url}/registre/moi?saved=locks")
    expect(page.get_by_role("status")).to_have_text("Vos choix sont enregistrés.")
    expect(page.get_by_label("Verrouiller mes empreintes digitales")).to_be_checked()
    expect(page.get_by_label("Verrouiller mon visage")).not_to_be_checked()

    # When they complain about the service
    page.get_by_label("Au sujet d'un service (facultatif)").select_option(label=SERVICE_NAME)
    page.get_by_label("Votre plainte").fill(
        "Je n'ai jamais voté ce jour-là : qui a vérifié mon identité ?")
    page.get_by_role("button", name="Envoyer ma plainte").click()

    # Then the complaint is filed under a reference
    expect(page.get_by_role("status")).to_contain_text(
        "Votre plainte est enregistrée sous la référence")
    expect(page.get_by_role("status")).to_contain_text(
        "L'autorité de protection des données y répondra.")

    # And nothing was refused by the strict CSP, nor any script error
    assert not errors, errors
    context.close()
