"""An administrator scans a weak loopback site from the browser, reads a finding in French
and opens a CSIRT case for it in one click."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import create_engine

from lakana.core.auth.rbac import system_actor
from lakana.core.db import make_session_factory
from lakana.registry import service as registry_service
from lakana.registry.schemas import InstitutionCreate, SystemCreate
from tests.e2e.conftest import LiveServer, log_in

pytestmark = pytest.mark.e2e

#: Generous: the machine running the suite may have two busy cores.
WAIT_MS = 120_000
SYSTEM_NAME = "Portail des démarches E2E"


class _WeakSite(BaseHTTPRequestHandler):
    """A plain-HTTP site without any security header (404 for every other path)."""

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        body = (b"<!doctype html><html><head><title>Portail</title></head>"
                b"<body><h1>Portail des d\xc3\xa9marches</h1></body></html>"
                if self.path == "/" else b"not found")
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def weak_site() -> Iterator[str]:
    """The weak site on a free loopback port (never any other address)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WeakSite)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def registered_site(live_server: LiveServer, weak_site: str) -> str:
    """An institution whose information system has the weak site as its URL endpoint."""
    engine = create_engine(live_server.database_url)
    actor = system_actor("e2e")
    with make_session_factory(engine).begin() as session:
        inst = registry_service.create_institution(
            session=session, actor=actor, data=InstitutionCreate(
                name="Direction Nationale des Démarches en Ligne", acronym="DNDL",
                kind="ministry", region="bamako", sector="government", criticality_tier=2))
        registry_service.create_system(session=session, actor=actor, data=SystemCreate(
            institution_id=inst.id, name=SYSTEM_NAME, criticality="high",
            data_classification="restricted", hosting="own_premises",
            endpoints=[{"kind": "url", "value": weak_site}]))
    engine.dispose()
    return weak_site


def test_scan_finding_and_csirt_case(live_server: LiveServer, browser: Any,
                                     registered_site: str) -> None:
    """Scan now → progress page (htmx) → findings → one finding in French → CSIRT case."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    polls: list[str] = []
    page.on("request", lambda req: polls.append(req.url)
            if req.headers.get("hx-request") == "true" else None)

    # Given the administrator logged in, with the interface in French
    log_in(page, live_server)
    if page.locator("html").get_attribute("lang") != "fr":
        page.locator("#language-select").select_option("fr")
        expect(page.locator("html")).to_have_attribute("lang", "fr")

    # When they start a scan of the registered system from the "scan now" form
    page.goto(f"{live_server.url}/exposure/scans")
    page.get_by_role("link", name="Analyser maintenant").click()
    expect(page.locator("h1")).to_have_text("Analyser maintenant")
    page.get_by_label("Ou un système d'information (points d'accès)").select_option(
        label=f"{SYSTEM_NAME} (1)")
    page.get_by_role("button", name="Lancer l'analyse").click()

    # Then the scan page shows its progress, refreshed by htmx, until it is finished
    page.wait_for_url(re.compile(r"/exposure/scans/\d+$"))
    expect(page.locator("h1")).to_have_text(re.compile(r"^Analyse \d+$"))
    scan_url = page.url
    first_status = page.locator("#scan-status").inner_text()
    expect(page.locator("#scan-status")).to_have_text(re.compile("Terminée|Échoué"),
                                                      timeout=WAIT_MS)
    expect(page.locator("#scan-status")).to_have_text("Terminée")
    expect(page.locator("#scan-done")).to_have_text("1 / 1")
    expect(page.locator("#scan-progress table")).to_contain_text(registered_site)
    if first_status in ("En attente", "En cours"):  # it was still running: htmx polled
        assert scan_url in polls, (first_status, polls)
    expect(page.locator("#scan-progress")).not_to_have_attribute("hx-trigger", "every 2s")

    # When they open the findings list
    page.goto(f"{live_server.url}/exposure/findings")
    expect(page.locator("h1")).to_have_text("Constats d'exposition")
    row = page.locator("table tbody tr", has_text="Content-Security-Policy est absent")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(registered_site)

    # And open the "CSP is missing" finding
    row.get_by_role("link", name="Content-Security-Policy est absent").click()
    page.wait_for_url(re.compile(r"/exposure/findings/\d+$"))
    finding_url = page.url

    # Then they read why it matters and how to fix it, in French
    expect(page.locator("h1")).to_have_text("Content-Security-Policy est absent")
    expect(page.get_by_role("heading", name="Pourquoi c'est important")).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        "Sans CSP, une faille d'injection permet à un attaquant d'exécuter des scripts")
    expect(page.get_by_role("heading", name="Comment corriger")).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        "Envoyez une Content-Security-Policy qui limite les scripts à votre propre origine")
    expect(page.locator("main")).to_contain_text(registered_site)

    # When they open a CSIRT case in one click
    page.get_by_role("button", name="Ouvrir un dossier CSIRT").click()

    # Then the finding page says a case is open and shows its reference, the button gone
    page.wait_for_url(f"{finding_url}?done=case")
    expect(page.get_by_role("status")).to_have_text(
        "Un dossier CSIRT est ouvert pour ce constat.")
    case_link = page.locator("dl.props a[href^='/csirt/cases/']")
    expect(case_link).to_have_count(1)
    reference = case_link.inner_text().strip()
    assert reference
    expect(page.get_by_role("button", name="Ouvrir un dossier CSIRT")).to_have_count(0)

    # And following the reference lands on the case
    case_link.click()
    page.wait_for_url(re.compile(r"/csirt/cases/\d+$"))
    expect(page.locator("h1")).to_contain_text(reference)

    # And nothing was refused by the strict CSP, nor any script error
    assert not errors, errors
    context.close()
