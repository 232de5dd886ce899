"""Heatmap and national scores for 300 institutions × 120 requirements × 5 campaigns.

Generates the data in a fresh SQLite database with bulk Core inserts (generation time is not
measured), then times, in the same run, ~20 calls of:

* ``scoring.service.heatmap`` (campaign check, one grouped query institution × domain,
  institution names through the registry service, national and per-domain figures);
* ``scoring.service.scores`` (the same plus the per-requirement / CSF query);
* the reference: the same institution × domain aggregation as one raw SQL string executed on
  the connection.

Prints a Markdown table (p50 / p95 in ms, ratio of p95 to the raw query's p95). Goal:
heatmap ≤ 1.5 × raw and < 300 ms. Usage: ``uv run python bench/bench_heatmap.py``.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import lakana.models  # noqa: F401  (every table on the metadata)
from lakana.app import core_plugins, domains, register_all
from lakana.compliance.scoring import service
from lakana.core.auth.rbac import system_actor
from lakana.core.db import Base

INSTITUTIONS, REQUIREMENTS, CAMPAIGNS, DOMAINS, RUNS = 300, 120, 5, 12, 20
STATUSES = ["implemented", "partial", "not_implemented", "not_applicable", None]

RAW = """
SELECT s.institution_id, r.domain_id,
       SUM(r.weight * CASE WHEN COALESCE(a.override_status, a.status) = 'not_implemented'
                           THEN 0 ELSE COALESCE(a.override_maturity, a.maturity, 0) END),
       SUM(r.weight * 5), COUNT(*), MIN(s.id)
FROM compliance_answer a
JOIN compliance_assessment s ON s.id = a.assessment_id
JOIN compliance_requirement r ON r.id = a.requirement_id
WHERE s.campaign_id = ? AND COALESCE(a.override_status, a.status) IS NOT NULL
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


def _raw(engine: Engine, campaign_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.exec_driver_sql(RAW, (campaign_id,)).fetchall())


def main() -> None:
    """Generate, measure, print the Markdown table."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        started = time.perf_counter()
        generate(engine)
        generated = time.perf_counter() - started
        register_all([*core_plugins(), *domains()])
        actor, campaign_id = system_actor("bench"), 3
        with Session(engine) as session:
            heat = service.heatmap(session=session, actor=actor, campaign_id=campaign_id)
            assert len(heat.rows) == INSTITUTIONS and len(heat.domains) == DOMAINS
            with engine.connect() as conn:
                raw_rows = conn.exec_driver_sql(RAW, (campaign_id,)).fetchall()
            assert len(raw_rows) == sum(c is not None for r in heat.rows for c in r.cells)
            results = {
                "raw SQL (one grouped query)": _time(lambda: _raw(engine, campaign_id)),
                "service.heatmap (matrix + national)": _time(
                    lambda: service.heatmap(session=session, actor=actor,
                                            campaign_id=campaign_id)),
                "service.scores (national, domains, CSF, ministries)": _time(
                    lambda: service.scores(session=session, actor=actor,
                                           campaign_id=campaign_id)),
            }
        engine.dispose()
    raw_p95 = results["raw SQL (one grouped query)"][1]
    print(f"SQLite, {INSTITUTIONS} institutions × {REQUIREMENTS} requirements × {CAMPAIGNS} "
          f"campaigns ({CAMPAIGNS * INSTITUTIONS * REQUIREMENTS:,} answers, generated in "
          f"{generated:.1f} s, not counted); {RUNS} runs each, one campaign.\n")
    print("| measure | p50 (ms) | p95 (ms) | p95 / raw |")
    print("|---|---:|---:|---:|")
    for name, (p50, p95) in results.items():
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {p95 / raw_p95:.2f}× |")


if __name__ == "__main__":
    main()
