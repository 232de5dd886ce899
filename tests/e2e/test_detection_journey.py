"""A CSIRT analyst (the administrator here) finds an SSH brute force raised by Lakana's
correlation rule, reads its events, opens a CSIRT case in one click, then searches the
institution's events by user in the French interface."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import create_engine

from lakana.core.auth.rbac import system_actor
from lakana.core.db import make_session_factory
from lakana.monitoring.detection import flows
from lakana.registry import service as registry_service
from lakana.registry.schemas import InstitutionCreate
from tests.e2e.conftest import LiveServer, log_in

pytestmark = pytest.mark.e2e

ATTACKER = "203.0.113.77"


def _brute_force() -> list[str]:
    """Twelve failed passwords from one address within a minute, then unrelated lines."""
    lines = [f"Nov 23 03:10:{i * 4:02d} srv-paie sshd[4{i:03d}]: Failed password for "
             f"invalid user admin{i % 3} from {ATTACKER} port {40000 + i} ssh2"
             for i in range(12)]
    lines.append("Nov 23 03:12:00 srv-paie sshd[5000]: Accepted publickey for mariam from "
                 "198.51.100.20 port 51000 ssh2")
    return lines


@pytest.fixture
def attacked(live_server: LiveServer) -> int:
    """An institution whose server's logs were shipped: a brute force from one address."""
    engine = create_engine(live_server.database_url)
    actor = system_actor("e2e")
    with make_session_factory(engine).begin() as session:
        inst = registry_service.create_institution(
            session=session, actor=actor, data=InstitutionCreate(
                name="Caisse Malienne de Sécurité Sociale E2E", acronym="CMSSE",
                kind="agency", region="bamako", sector="government", criticality_tier=1))
        flows.ingest(session=session, actor=actor, lines=_brute_force(),
                     institution_id=inst.id, channel="cli")
        institution_id = inst.id
    engine.dispose()
    return institution_id


def test_brute_force_alert_case_and_search(live_server: LiveServer, browser: Any,
                                            attacked: int) -> None:
    """Alert list → alert with its events (French) → CSIRT case → event search by user."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Given the analyst logged in, with the interface in French
    log_in(page, live_server)
    if page.locator("html").get_attribute("lang") != "fr":
        page.locator("#language-select").select_option("fr")
        expect(page.locator("html")).to_have_attribute("lang", "fr")

    # When they open the institution's detection alerts
    page.goto(f"{live_server.url}/detection?institution_id={attacked}")
    expect(page.locator("h1")).to_have_text("Alertes de détection")
    row = page.locator("table tbody tr", has_text="SSH brute force")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(ATTACKER)

    # And open the brute-force alert
    row.get_by_role("link", name="SSH brute force").click()
    page.wait_for_url(re.compile(r"/detection/alerts/\d+$"))
    alert_url = page.url

    # Then its failures are listed as its matching events, with the rule's ATT&CK tag
    expect(page.locator("h1")).to_have_text("SSH brute force")
    expect(page.get_by_role("heading", name="Événements correspondants")).to_be_visible()
    expect(page.locator("main table tbody tr")).to_have_count(12)
    expect(page.locator("main")).to_contain_text("attack.t1110.001")

    # When they open a CSIRT case in one click
    page.get_by_role("button", name="Ouvrir un dossier CSIRT").click()

    # Then the alert says a case is open, links to it, and the button is gone
    page.wait_for_url(f"{alert_url}?done=case")
    expect(page.get_by_role("status")).to_have_text(
        "Un dossier CSIRT est ouvert pour cette alerte.")
    case_link = page.locator("dl.props a[href^='/csirt/cases/']")
    expect(case_link).to_have_count(1)
    reference = case_link.inner_text().strip()
    expect(page.get_by_role("button", name="Ouvrir un dossier CSIRT")).to_have_count(0)
    case_link.click()
    page.wait_for_url(re.compile(r"/csirt/cases/\d+$"))
    expect(page.locator("h1")).to_contain_text(reference)
    expect(page.locator("main")).to_contain_text(ATTACKER)

    # When they search the institution's events for the user "mariam"
    page.goto(f"{live_server.url}/detection/events?institution_id={attacked}")
    expect(page.locator("h1")).to_have_text("Événements des journaux")
    page.get_by_label("Utilisateur").fill("mariam")
    page.get_by_role("button", name="Filtrer").click()

    # Then only her accepted login is listed
    page.wait_for_url(re.compile(r"user=mariam"))
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("198.51.100.20")

    # And nothing was refused by the strict CSP, nor any script error
    assert not errors, errors
    context.close()
