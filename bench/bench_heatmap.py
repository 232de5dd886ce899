"""Heatmap and national scores for 300 institutions × 120 requirements × 5 campaigns.

Generates the data with bulk Core inserts (generation time is not measured) in a fresh SQLite
database and, when a PostgreSQL server is given, in a fresh database on it; then times, in the
same run and on each database, 60 calls (after a warm-up, with start-up objects frozen
out of the garbage collector as ``lakana serve`` does) of:

* the reference: the institution × domain aggregation as one raw SQL string executed on the
  connection;
* ``scoring.service.compute_heatmap``, the heatmap computed afresh (campaign check, one
  grouped query institution × domain, institution names through the registry service,
  national and per-domain figures);
* ``scoring.service.heatmap``: the same through its per-process cache, checked against the
  score stamp that database triggers change on every write (one-row query on each call);
* the heatmap page as users hit it repeatedly: what the page handler does (campaign, cached
  heatmap, template rendered), without the HTTP and log-in layers;
* the heatmap page right after a write: before each timed call, one answer (of another
  institution each time) is changed and committed on another connection (not timed), so
  every call reads the stamps, recomputes that institution's row (its cells read again with
  the grouped query limited to it, the national and per-domain figures derived again from
  all rows) and renders its markup: the cost of the first view after an answer, an override
  or an assessment changed (with the raw query timed the same way, as databases re-read
  pages another connection wrote);
* the heatmap page right after a requirement's weight changed (committed the same way):
  every row depends on it, so every call recomputes the whole heatmap and its markup, as
  after any write to requirements, domains or institutions;
* ``scoring.service.scores`` (the matrix plus the per-requirement / CSF query; not cached).

PostgreSQL: ``LAKANA_BENCH_PG_URL`` (else ``LAKANA_TEST_DATABASE_URL``, which
``scripts/with-postgres.sh`` exports) names a server where the bench may create and drop a
database of its own; without one the PostgreSQL rows are skipped with the reason.

Prints a Markdown table (p50 / p95 in ms, ratio to the raw query on the same database).
Goal: the heatmap page, as users hit it repeatedly and right after a write, ≤ 1.5 × raw
(p95) and < 300 ms; the row after a requirement change shows what a full recompute costs.
Usage: ``uv run python bench/bench_heatmap.py`` or ``scripts/with-postgres.sh uv run python
bench/bench_heatmap.py``.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
from sqlalchemy import Table, create_engine, insert, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import lakana.models  # noqa: F401  (every table on the metadata)
from lakana.app import core_plugins, domains, register_all
from lakana.compliance.scoring import pages, service
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.db import Base
from lakana.core.web.templating import build_environment

INSTITUTIONS, REQUIREMENTS, CAMPAIGNS, DOMAINS, RUNS = 300, 120, 5, 12, 60
CAMPAIGN_ID = 3
#: The first answer of the measured campaign (answers are generated assessment by assessment).
FIRST_ANSWER = (CAMPAIGN_ID - 1) * INSTITUTIONS * REQUIREMENTS + 1
RAW_NAME = "raw SQL (one grouped query)"
PAGE_NAME = "heatmap page, repeated (campaign, cached heatmap, template)"
AFTER_WRITE_NAME = "heatmap page right after a write (recomputed)"
AFTER_CATALOG_NAME = "heatmap page right after a requirement write (all rows recomputed)"
STATUSES = ["implemented", "partial", "not_implemented", "not_applicable", None]

RAW = """
SELECT s.institution_id, r.domain_id,
       SUM(r.weight * CASE WHEN COALESCE(a.override_status, a.status) = 'not_implemented'
                           THEN 0 ELSE COALESCE(a.override_maturity, a.maturity, 0) END),
       SUM(r.weight * 5), COUNT(*), MIN(s.id)
FROM compliance_answer a
JOIN compliance_assessment s ON s.id = a.assessment_id
JOIN compliance_requirement r ON r.id = a.requirement_id
WHERE s.campaign_id = :campaign_id AND s.system_id IS NULL
  AND COALESCE(a.override_status, a.status) IS NOT NULL
  AND COALESCE(a.override_status, a.status) != 'not_applicable'
GROUP BY s.institution_id, r.domain_id
"""


def _filler(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Fill the table's required columns that ``row`` leaves out with plain values."""
    now = dt.datetime(2026, 1, 1)
    for column in table.columns:
        if column.name in row or column.nullable or column.primary_key:
            continue
        if column.default is not None or column.server_default is not None:
            continue
        kind = column.type.python_type
        row[column.name] = (now if kind is dt.datetime else dt.date(2026, 12, 31)
                            if kind is dt.date else 1 if kind is int else False
                            if kind is bool else [] if kind is list else "x")
    return row


def _bulk(engine: Engine, name: str, rows: list[dict[str, Any]]) -> None:
    table = Base.metadata.tables[name]
    with engine.begin() as conn:
        conn.execute(insert(table), [_filler(table, dict(r)) for r in rows])


def generate(engine: Engine) -> None:
    """300 institutions (ministries with bodies), 120 requirements, 5 launched campaigns."""
    rng = random.Random(7)
    Base.metadata.create_all(engine)
    _bulk(engine, "compliance_catalog", [{"id": 1, "catalog_id": "bench"}])
    _bulk(engine, "compliance_catalog_version", [{"id": 1, "catalog_pk": 1, "version": "1"}])
    _bulk(engine, "compliance_domain", [
        {"id": d, "catalog_version_id": 1, "code": f"d{d:02}", "title_fr": f"Domaine {d}",
         "title_en": f"Domain {d}", "position": d} for d in range(1, DOMAINS + 1)])
    _bulk(engine, "compliance_requirement", [
        {"id": r, "catalog_version_id": 1, "domain_id": 1 + r % DOMAINS,
         "control_id": f"c-{r}", "kind": "requirement", "weight": 1 + r % 3,
         "csf_refs": [["GV.OC", "ID.AM", "PR.AA", "DE.CM", "RS.MA", "RC.RP"][r % 6]],
         "iso_refs": [], "position": r} for r in range(1, REQUIREMENTS + 1)])
    _bulk(engine, "compliance_profile", [{"id": 1, "profile_id": "bench", "version": "1",
                                          "base_version_id": 1}])
    _bulk(engine, "registry_institution", [
        {"id": i, "acronym": f"I{i:03}", "name": f"Institution {i}", "kind": "agency",
         "parent_id": None if i <= 30 else 1 + i % 30, "criticality_tier": 1 + i % 3}
        for i in range(1, INSTITUTIONS + 1)])
    _bulk(engine, "compliance_campaign", [
        {"id": c, "name": f"Campagne {2021 + c}", "year": 2021 + c, "profile_id": 1,
         "status": "open", "created_by": "bench"} for c in range(1, CAMPAIGNS + 1)])
    _bulk(engine, "compliance_campaign_target", [
        {"campaign_id": c, "institution_id": i} for c in range(1, CAMPAIGNS + 1)
        for i in range(1, INSTITUTIONS + 1)])
    _bulk(engine, "compliance_assessment", [
        {"id": (c - 1) * INSTITUTIONS + i, "campaign_id": c, "institution_id": i}
        for c in range(1, CAMPAIGNS + 1) for i in range(1, INSTITUTIONS + 1)])
    answers = []
    for assessment in range(1, CAMPAIGNS * INSTITUTIONS + 1):
        for r in range(1, REQUIREMENTS + 1):
            status = rng.choice(STATUSES)
            override = rng.random() < 0.05
            answers.append({
                "assessment_id": assessment, "requirement_id": r, "position": r,
                "status": status, "maturity": rng.randint(0, 5) if status else None,
                "override_status": "partial" if override else None,
                "override_maturity": 2 if override else None})
    _bulk(engine, "compliance_answer", answers)


def _time(call: Callable[[], object]) -> tuple[float, float]:
    call()  # warm-up
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), statistics.quantiles(samples, n=20)[18]


def _answer_write(run: int) -> tuple[str, dict[str, int]]:
    """One answer of the measured campaign, of another institution on each run."""
    return ("UPDATE compliance_answer SET maturity = :m WHERE id = :id",
            {"m": run % 6, "id": FIRST_ANSWER + run * REQUIREMENTS})


def _requirement_write(run: int) -> tuple[str, dict[str, int]]:
    """One requirement's weight (restored by :func:`measure` afterwards)."""
    return ("UPDATE compliance_requirement SET weight = :w WHERE id = :id",
            {"w": 1 + (run + 1) % 3, "id": 1 + run % REQUIREMENTS})


def _time_after_write(engine: Engine, call: Callable[[], object],
                      write: Callable[[int], tuple[str, dict[str, int]]] = _answer_write,
                      ) -> tuple[float, float]:
    """Like :func:`_time`, with ``write(run)`` committed on another connection (not timed)
    before each call."""
    samples = []
    for run in range(RUNS + 1):
        statement, params = write(run)
        with engine.begin() as conn:
            conn.execute(text(statement), params)
        start = time.perf_counter()
        call()
        if run:  # the first is the warm-up
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), statistics.quantiles(samples, n=20)[18]


def _raw(engine: Engine, campaign_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(RAW), {"campaign_id": campaign_id}).fetchall())


def _page(session: Session, actor: Actor, env: jinja2.Environment) -> str:
    """What the heatmap page handler does: campaign check, heatmap, template."""
    context = pages.heatmap_context(session=session, actor=actor, campaign_id=CAMPAIGN_ID)
    return env.get_template("compliance/scoring/heatmap.html").render(
        request=SimpleNamespace(url=SimpleNamespace(path="/")), actor=None, user=None,
        navigation=False, csrf_token="x", menu=[], language="fr", **context)


def _same(a: service.Heatmap, b: service.Heatmap) -> bool:
    """Whether two heatmaps hold the same figures."""
    return (a.national == b.national and a.domains == b.domains
            and [(r.institution_id, r.acronym, r.total, r.cells) for r in a.rows]
            == [(r.institution_id, r.acronym, r.total, r.cells) for r in b.rows])


def measure(engine: Engine) -> tuple[dict[str, tuple[float, float]], float]:
    """Generate the data on ``engine`` and time each measure; also the generation time."""
    started = time.perf_counter()
    generate(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # as autovacuum would have done in production
    generated = time.perf_counter() - started
    actor = system_actor("bench")
    env = build_environment([p.templates_dir for p in [*core_plugins(), *domains()]
                             if p.templates_dir is not None])
    with Session(engine) as session:
        heat = service.heatmap(session=session, actor=actor, campaign_id=CAMPAIGN_ID)
        assert len(heat.rows) == INSTITUTIONS and len(heat.domains) == DOMAINS
        raw_rows = _raw(engine, CAMPAIGN_ID)
        assert len(raw_rows) == sum(c is not None for r in heat.rows for c in r.cells)
        assert "I300" in _page(session, actor, env)
        cached = service.heatmap(session=session, actor=actor, campaign_id=CAMPAIGN_ID)
        assert service.heatmap(session=session, actor=actor, campaign_id=CAMPAIGN_ID) is cached
        with engine.begin() as conn:
            conn.execute(text("UPDATE compliance_answer SET maturity = 5 - maturity"
                              " WHERE id = :id"), {"id": FIRST_ANSWER})
        assert service.heatmap(session=session, actor=actor,
                               campaign_id=CAMPAIGN_ID) is not cached, "a write must show"
        # As the server does once started (lakana.app's lifespan): long-lived objects are
        # frozen out of the collector, so that gen-2 pauses do not land inside requests.
        gc.collect()
        gc.freeze()
        results = {
            RAW_NAME: _time(lambda: _raw(engine, CAMPAIGN_ID)),
            "service.compute_heatmap (computed afresh)": _time(
                lambda: service.compute_heatmap(session=session, actor=actor,
                                                campaign_id=CAMPAIGN_ID)),
            "service.heatmap (cached under the score stamp)": _time(
                lambda: service.heatmap(session=session, actor=actor, campaign_id=CAMPAIGN_ID)),
            PAGE_NAME: _time(lambda: _page(session, actor, env)),
            "raw SQL right after a write": _time_after_write(
                engine, lambda: _raw(engine, CAMPAIGN_ID)),
        }
        results[AFTER_WRITE_NAME] = _time_after_write(engine, lambda: _page(session, actor, env))
        # The heatmap recomputed row by row through all those writes is the one computed
        # afresh.
        assert _same(service.heatmap(session=session, actor=actor, campaign_id=CAMPAIGN_ID),
                     service.compute_heatmap(session=session, actor=actor,
                                             campaign_id=CAMPAIGN_ID)), "stale figures"
        results[AFTER_CATALOG_NAME] = _time_after_write(
            engine, lambda: _page(session, actor, env), _requirement_write)
        with engine.begin() as conn:
            conn.execute(text("UPDATE compliance_requirement SET weight = 1 + id % 3"))
        results["service.scores (national, domains, CSF, ministries)"] = _time(
            lambda: service.scores(session=session, actor=actor, campaign_id=CAMPAIGN_ID))
    return results, generated


def _sqlite() -> tuple[dict[str, tuple[float, float]], float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            return measure(engine)
        finally:
            engine.dispose()


@contextmanager
def _postgres_database(url: str) -> Iterator[Engine]:
    """A fresh database on the server of ``url``, dropped afterwards."""
    server = make_url(url)
    name = f"lakana_bench_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine = create_engine(server.set(database=name))
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.dispose()


def _postgres() -> tuple[dict[str, tuple[float, float]], float] | str:
    """The PostgreSQL measures, or why they were skipped."""
    url = os.environ.get("LAKANA_BENCH_PG_URL") or os.environ.get("LAKANA_TEST_DATABASE_URL")
    if not url:
        return ("no server given (set LAKANA_BENCH_PG_URL, or run under "
                "scripts/with-postgres.sh)")
    if not url.startswith("postgresql"):
        return f"{make_url(url).drivername} is not PostgreSQL"
    try:
        with _postgres_database(url) as engine:
            with engine.connect() as conn:
                version = conn.exec_driver_sql("SHOW server_version").scalar()
            print(f"PostgreSQL {version} at {make_url(url).render_as_string(hide_password=True)}")
            return measure(engine)
    except (SQLAlchemyError, OSError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def main() -> None:
    """Generate, measure on SQLite (and PostgreSQL when given), print the Markdown table."""
    register_all([*core_plugins(), *domains()])
    runs: dict[str, tuple[dict[str, tuple[float, float]], float]] = {"SQLite": _sqlite()}
    postgres = _postgres()
    if isinstance(postgres, str):
        skipped = postgres
    else:
        runs["PostgreSQL"], skipped = postgres, ""
    print(f"\n{INSTITUTIONS} institutions × {REQUIREMENTS} requirements × {CAMPAIGNS} "
          f"campaigns ({CAMPAIGNS * INSTITUTIONS * REQUIREMENTS:,} answers, generation not "
          f"counted: " + ", ".join(f"{db} {gen:.1f} s" for db, (_, gen) in runs.items())
          + f"); {RUNS} runs each, one campaign.\n")
    print("| database | measure | p50 (ms) | p95 (ms) | p50 / raw | p95 / raw |")
    print("|---|---|---:|---:|---:|---:|")
    for db, (results, _generated) in runs.items():
        raw_p50, raw_p95 = results[RAW_NAME]
        for name, (p50, p95) in results.items():
            print(f"| {db} | {name} | {p50:.1f} | {p95:.1f} | {p50 / raw_p50:.2f}× "
                  f"| {p95 / raw_p95:.2f}× |")
    if skipped:
        print(f"| PostgreSQL | skipped ({skipped}) | | | | |")
    print()
    for db, (results, _generated) in runs.items():
        raw_p95 = results[RAW_NAME][1]
        verdicts = []
        for label, name in (("repeated", PAGE_NAME), ("right after a write", AFTER_WRITE_NAME)):
            p95 = results[name][1]
            met = p95 <= 1.5 * raw_p95 and p95 < 300
            verdicts.append(f"{label} p95 {p95:.1f} ms = {p95 / raw_p95:.2f}× raw: "
                            f"{'met' if met else 'NOT met'}")
        full = results[AFTER_CATALOG_NAME][1]
        print(f"{db}: heatmap page (goal ≤ 1.5× raw and < 300 ms) " + "; ".join(verdicts)
              + f" (after a requirement write, every row recomputed: {full:.1f} ms = "
              f"{full / raw_p95:.2f}× raw)")
    if skipped:
        print(f"PostgreSQL: skipped ({skipped})")


if __name__ == "__main__":
    main()
