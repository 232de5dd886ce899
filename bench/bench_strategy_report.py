"""The strategy's annual follow-up report as PDF: the draft plan, every manual indicator
given a value, the 2026 annual snapshot, then its report.

In a fresh SQLite database (setup not measured): the shipped draft plan
(``strategy/data/plan-mali-2026.yaml``) is imported with its institutions, each manual
indicator gets a 2026 value with its evidence, and the annual snapshot 2026 is taken. Then,
in the same run, each measured as the median of several rounds:

* **HTML render** — the report's standalone page from the snapshot (context, charts as
  inline SVG, Jinja);
* **PDF generation** — that page through WeasyPrint (``lakana.core.web.pdf``, offline);
* **baseline** — WeasyPrint on a minimal page (one heading, one paragraph) with the same
  print stylesheet: the fixed cost of any PDF.

Prints a Markdown table: time, PDF size and pages. Usage:
``uv run python bench/bench_strategy_report.py [ROUNDS]``.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from lakana.app import core_plugins, domains, register_all
from lakana.core.audit import ledger, signing
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.db import make_engine, make_session_factory
from lakana.models import metadata
from lakana.registry import service as registry
from lakana.registry.schemas import InstitutionCreate
from lakana.strategy import report, service, tracking
from lakana.strategy.demo import DRAFT_PLAN
from lakana.strategy.models import StrategySnapshot

MINIMAL = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><style>{css}</style>
</head><body><h1>Lakana</h1><p>Une page minimale.</p></body></html>"""


def _timed(run: Callable[[], object], rounds: int) -> tuple[float, object]:
    """The median seconds of ``rounds`` runs, and the last result."""
    seconds, result = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), result


def _load(settings: Settings) -> tuple[StrategySnapshot, int]:
    """The demo plan with a value for each manual indicator, frozen for 2026."""
    engine = make_engine(settings)
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    ledger.configure_ledger(factory, settings)
    actor = system_actor("bench")
    plan = yaml.safe_load(DRAFT_PLAN.read_text(encoding="utf-8"))
    acronyms = sorted({a for axis in plan["axes"] for o in axis["objectives"]
                       for action in o["actions"] for a in [action["lead"],
                                                            *action["partners"]]})
    with factory.begin() as session:
        for acronym in acronyms:
            registry.create_institution(session=session, actor=actor, data=InstitutionCreate(
                name=f"Institution {acronym}", acronym=acronym, kind="ministry",
                region="bamako", sector="government", criticality_tier=2))
        service.import_plan(session=session, actor=actor, content=DRAFT_PLAN.read_bytes(),
                            filename=DRAFT_PLAN.name)
        manual = [i for axis in plan["axes"] for o in axis["objectives"]
                  for i in o.get("indicators", []) if i["source"]["kind"] == "manual"]
        for number, indicator in enumerate(manual):
            target = float(indicator["targets"].get(2026, 1))
            tracking.enter_value(
                session=session, actor=actor, settings=settings, code=indicator["code"],
                data=tracking.ValueEntry(year=2026, value=round(target * (0.6 + number % 3 * 0.2),
                                                               2),
                                         evidence=f"Rapport annuel {indicator['code']}"))
        snapshot = tracking.take_snapshot(session=session, actor=actor, kind="annual",
                                          year=2026, today=dt.date(2027, 1, 15))
        session.expunge(snapshot)
    engine.dispose()
    return snapshot, len(manual)


def main() -> None:
    """Build the snapshot, time the report, print the Markdown table."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    register_all([*core_plugins(), *domains()])
    with tempfile.TemporaryDirectory(prefix="lakana-bench-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'bench.db'}",
                            secret_key="bench", _env_file=None)  # type: ignore[call-arg]
        signing.create_key(settings.effective_ledger_key_path)
        snapshot, manual = _load(settings)
    env = report.environment()
    css = (report.TEMPLATES_DIR / "strategy" / "_report_print.css").read_text()
    report.to_pdf(MINIMAL.format(css=css))  # warm-up: fonts, WeasyPrint's caches
    html_s, html = _timed(lambda: report.render_html(env, snapshot, "fr"), rounds)
    assert isinstance(html, str)
    pdf_s, pdf = _timed(lambda: report.to_pdf(html), max(rounds // 2, 2))
    base_s, base = _timed(lambda: report.to_pdf(MINIMAL.format(css=css)), rounds)
    assert isinstance(pdf, bytes) and isinstance(base, bytes)
    indicators = len(snapshot.content["indicators"])
    actions = sum(len(o["actions"]) for a in snapshot.content["plan"]["axes"]
                  for o in a["objectives"])
    print(f"\nStrategy annual report {snapshot.label} — draft plan, {indicators} indicators "
          f"({manual} entered by hand), {actions} actions; median of {rounds} rounds "
          f"(PDF: {max(rounds // 2, 2)}); HTML {len(html) / 1024:.0f} KiB\n")
    print("| Step | Time | PDF size | Pages |")
    print("|---|---|---|---|")
    print(f"| HTML render (context, SVG charts, Jinja) | {html_s * 1000:.0f} ms | — | — |")
    print(f"| PDF generation (WeasyPrint) | {pdf_s * 1000:.0f} ms | "
          f"{len(pdf) / 1024:.0f} KiB | {report.page_count(pdf)} |")
    print(f"| baseline: minimal page, same stylesheet | {base_s * 1000:.0f} ms | "
          f"{len(base) / 1024:.0f} KiB | {report.page_count(base)} |")


if __name__ == "__main__":
    main()
