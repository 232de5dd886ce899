"""A person logs in with MFA, switches language, registers an institution and finds it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, log_in

pytestmark = pytest.mark.e2e


def test_login_mfa_language_and_register_institution(live_server: LiveServer,
                                                      browser: Any) -> None:
    """The foundation's browser journey, in a real Chromium against a real server."""
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # Given the log-in page, in French by default
    # When the administrator types the password, then the TOTP code
    log_in(page, live_server)

    # Then the home dashboard greets them in French
    assert "Bienvenue" in page.locator("h1").inner_text()

    # When they switch the interface to English
    page.get_by_label("Langue").select_option("en")
    page.wait_for_load_state("networkidle")
    assert "Welcome" in page.locator("h1").inner_text()

    # And register an institution through the form
    page.get_by_role("link", name="Institutions").first.click()
    page.get_by_role("link", name="New institution").click()
    page.get_by_label("Name").fill("Agence de Test des Systèmes d'Information")
    page.get_by_label("Acronym").fill("ATSI")
    page.get_by_label("Type").select_option("agency")
    page.get_by_label("Region").select_option("bamako")
    page.get_by_label("Sector").select_option(index=1)
    page.get_by_label("Criticality tier").select_option("1")
    page.get_by_role("button", name="Save").click()

    # Then they find it listed by searching for it
    page.goto(f"{live_server.url}/registry/institutions?q=ATSI")
    row = page.locator("table tbody tr", has_text="ATSI")
    assert row.count() == 1
    assert "Agence de Test des Systèmes d'Information" in row.inner_text()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
