"""Exports: the CSV formula guard and the letter's content."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import system_actor
from lakana.core.db import utcnow
from lakana.core.web.templating import build_environment
from lakana.monitoring.exposure import exports
from lakana.monitoring.exposure.models import ExposureFinding
from lakana.monitoring.exposure.plugin import PLUGIN
from tests.conftest import Factory
from tests.exposure.test_api import make_finding


def test_formula_like_cells_get_an_apostrophe() -> None:
    for hostile in ("=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert exports.safe_cell(hostile) == "'" + hostile
    assert exports.safe_cell("nginx/1.18.0") == "nginx/1.18.0"
    assert exports.safe_cell(None) == ""
    assert exports.safe_cell(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == \
        "2026-01-02T03:04:05Z"


def test_csv_has_bom_crlf_and_quotes() -> None:
    text = exports.to_csv(("a", "b"), [["x,y", '=HYPERLINK("z")']])
    assert text.startswith("\ufeffa,b\r\n")
    assert '"x,y","\'=HYPERLINK(""z"")"\r\n' in text


def test_issue_text_fills_placeholders_or_falls_back() -> None:
    finding = ExposureFinding(subject="/.git/", evidence={"params": {"name": "SID"}})
    assert exports.issue_text("Cookie %(name)s lacks a flag", finding) == \
        "Cookie SID lacks a flag"
    assert exports.issue_text("Port %(port)s open", finding) == "Port /.git/ open"
    assert exports.issue_text("Plain", finding) == "Plain"


def test_letter_lists_open_findings_worst_first_in_french(
        factory: Factory, session_factory: sessionmaker[Session]) -> None:
    # Given an institution with a medium, a critical and a fixed finding
    inst = factory.institution("LET")
    make_finding(session_factory, inst, severity="medium", issue_id="http.hsts.missing",
                 check_id="http", subject="", due_at=utcnow() + dt.timedelta(days=80))
    make_finding(session_factory, inst, severity="critical", issue_id="paths.git",
                 check_id="paths", subject="/.git/")
    make_finding(session_factory, inst, status="fixed", issue_id="ports.redis",
                 check_id="ports", subject="6379")
    env = build_environment([p for p in [PLUGIN.templates_dir] if p is not None])
    with session_factory() as session:
        exposure = exports.service.institution_exposure(
            session=session, actor=system_actor("tests"), institution_id=inst)
        rows = exports.all_findings(session=session, actor=system_actor("tests"),
                                    query=exports.FindingQuery(institution_id=inst,
                                                               status="open"))
        items = exports.letter_items(rows)
        html = exports.render_letter(env, exports.letter_context(
            exposure, items, len(items), utcnow().date()), "fr")
    # Then the letter lists the two open ones, critical first, in French
    assert [i.finding.issue_id for i in items] == ["paths.git", "http.hsts.missing"]
    assert html.count('class="item sev-') == 2
    assert html.index("sev-critical") < html.index("sev-medium")
    assert "6379" not in html
    assert 'lang="fr"' in html
