"""The strategy's monitoring seen by an agency officer in a real browser: the national
dashboard, a manual indicator's value entered with its evidence file, a quarter frozen into
a snapshot, its HTML report and PDF, the action timeline and the GCI self-assessment."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
import yaml
from sqlalchemy import create_engine

from lakana.core.auth import service as auth_service
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.db import make_session_factory
from lakana.registry import service as registry_service
from lakana.registry.schemas import InstitutionCreate
from lakana.strategy import permissions
from lakana.strategy import service as strategy_service
from lakana.strategy.demo import DRAFT_PLAN
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR
from tests.e2e.conftest import LiveServer, fresh_code

pytestmark = pytest.mark.e2e

permissions.register()  # before the system actor collects every permission

WAIT_MS = 60_000
OFFICER_EMAIL = "officer.strategy@e2e.example.ml"
OFFICER_PASSWORD = "E2e-Strategy-Pass-42!"
EVIDENCE_FILE = "decret-2026-cyber-e2e.txt"
EVIDENCE_NOTE = "Décret n° 2026-E2E publié au Journal officiel (test de bout en bout)."
#: A value no demo figure uses, so that finding it on a page proves it is ours.
VALUE = "4"


def _plan_acronyms() -> set[str]:
    plan = yaml.safe_load(DRAFT_PLAN.read_text(encoding="utf-8"))
    return {acronym for axis in plan["axes"] for objective in axis["objectives"]
            for action in objective["actions"]
            for acronym in [action["lead"], *action["partners"]]}


def _last_ended_quarter(today: dt.date) -> tuple[int, int] | None:
    """The latest quarter of the plan's years that ended before ``today``."""
    year, quarter = today.year, (today.month - 1) // 3  # the quarter before today's
    if quarter == 0:
        year, quarter = year - 1, 4
    if year > LAST_YEAR:
        year, quarter = LAST_YEAR, 4
    return (year, quarter) if year >= FIRST_YEAR else None


def _prepare(live_server: LiveServer) -> str:
    """The draft plan imported (with the institutions it names) and an agency officer with
    MFA enrolled; return the officer's TOTP secret."""
    actor = system_actor("e2e")
    engine = create_engine(live_server.database_url)
    secret = pyotp.random_base32()
    try:
        with make_session_factory(engine).begin() as session:
            for acronym in sorted(_plan_acronyms()):
                if registry_service.get_institution_id_by_acronym(
                        session=session, acronym=acronym) is None:
                    registry_service.create_institution(
                        session=session, actor=actor, data=InstitutionCreate(
                            name=f"Institution {acronym}", acronym=acronym, kind="ministry",
                            region="bamako", sector="government", criticality_tier=2))
            strategy_service.import_plan(session=session, actor=actor,
                                         content=DRAFT_PLAN.read_bytes(),
                                         filename=DRAFT_PLAN.name)
            user = auth_service.create_user(
                session=session, actor=actor, email=OFFICER_EMAIL,
                full_name="Mariam Diarra", role=Role.AGENCY_OFFICER,
                password=OFFICER_PASSWORD)
            user.mfa_secret = secret
            user.mfa_enabled = True
    finally:
        engine.dispose()
    return secret


def _log_in(page: Any, live_server: LiveServer, secret: str) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Adresse e-mail").fill(OFFICER_EMAIL)
    page.get_by_label("Mot de passe").fill(OFFICER_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/login/mfa**")
    page.locator("#code").fill(fresh_code(secret))
    page.locator("form[action='/login/mfa'] button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")


def test_an_officer_follows_the_plan_enters_a_value_and_freezes_a_quarter(
        live_server: LiveServer, browser: Any, tmp_path: Path) -> None:
    # Given the draft plan and an agency officer, logged in from the French pages
    secret = _prepare(live_server)
    period = _last_ended_quarter(dt.date.today())
    context = browser.new_context(locale="fr-FR", accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        _log_in(page, live_server, secret)

        # The dashboard: French heading, traffic lights, SVG charts
        page.goto(f"{live_server.url}/strategy/dashboard")
        assert "Tableau de bord de la stratégie" in page.locator("h1").inner_text()
        assert page.locator("ul.summary .badge").count() >= 3
        assert page.locator("table .badge").count() >= 10
        assert page.locator("figure.chart svg").count() >= 1
        assert page.locator("a[href='/strategy/indicators/IND-01']").count() == 1

        # A manual indicator: a value for 2026 with its evidence text and file
        page.goto(f"{live_server.url}/strategy/indicators/IND-01")
        assert page.locator("h1").inner_text().startswith("IND-01")
        form = page.locator("form[action='/strategy/indicators/IND-01/values']")
        form.locator("#f-year").select_option("2026")
        form.locator("#f-value").fill(VALUE)
        form.locator("#f-evidence").fill(EVIDENCE_NOTE)
        form.locator("#f-file").set_input_files(files=[{
            "name": EVIDENCE_FILE, "mimeType": "text/plain",
            "buffer": "Décret publié le 14 juillet 2026.\n".encode()}])
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{live_server.url}/strategy/indicators/IND-01")
        entered = page.locator("table").filter(has_text=EVIDENCE_NOTE)
        assert entered.count() == 1, page.content()
        row = entered.locator("tbody tr").filter(has_text=EVIDENCE_NOTE)
        assert re.search(rf"\b{VALUE} textes\b", row.inner_text())
        assert EVIDENCE_FILE in row.inner_text()
        assert "2026-01-01 → 2026-12-31" in row.inner_text()

        # The timeline and the GCI self-assessment
        page.goto(f"{live_server.url}/strategy/gantt")
        assert page.locator("svg").count() >= 1
        page.goto(f"{live_server.url}/strategy/gci")
        assert page.locator("section[id^='pillar-']").count() == 5
        assert page.locator(".cards a.card").count() == 5

        # Freeze the latest ended quarter
        if period is None:
            pytest.skip("no quarter of the plan has ended yet")
        year, quarter = period
        label = f"{year}-T{quarter}"
        page.goto(f"{live_server.url}/strategy/snapshots")
        freeze = page.locator("form[action='/strategy/snapshots']")
        freeze.locator("#f-kind").select_option("quarterly")
        freeze.locator("#f-year").select_option(str(year))
        freeze.locator("#f-quarter").select_option(str(quarter))
        freeze.locator("button[type=submit]").click()
        page.wait_for_url(f"{live_server.url}/strategy/snapshots")
        assert page.locator(".alert.error").count() == 0, page.locator(".alert").inner_text()
        listed = page.locator("tbody tr").filter(has=page.locator(f"th:text-is('{label}')"))
        assert listed.count() == 1, page.content()
        digest_prefix = listed.locator("code").inner_text().rstrip("…")
        assert re.fullmatch(r"[0-9a-f]{16}", digest_prefix)

        # Its HTML report: the figure entered, with its evidence, and the whole digest
        listed.get_by_role("link", name="HTML").click()
        page.wait_for_url(f"{live_server.url}/strategy/snapshots/{label}/report")
        digest = page.locator("dd.digest").inner_text().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", digest) and digest.startswith(digest_prefix)
        # IND-01 appears in its axis's table and in the traceability annex
        rows = page.locator("tbody tr").filter(has=page.locator("th", has_text="IND-01")).all()
        assert len(rows) == 2
        for row in rows:
            assert re.search(rf"\b{VALUE}\s+textes\b", row.locator("td.num").first.inner_text())
            assert EVIDENCE_NOTE in row.inner_text()
            assert EVIDENCE_FILE in row.inner_text()
        assert f"SHA-256 {digest}" in page.locator("p.digest").first.inner_text()

        # And its PDF, downloaded from the report's link
        with page.expect_download() as download_info:
            page.locator(f"a[href$='/snapshots/{label}/report.pdf']").first.click()
        pdf = tmp_path / "report.pdf"
        download_info.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")
    finally:
        context.close()
