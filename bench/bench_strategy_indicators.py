"""Every strategy indicator computed for 300 institutions and 5 years of data (2026–2030).

Generates, with a fixed seed and bulk Core inserts (timed apart, not the point), in a fresh
SQLite database and, when a PostgreSQL server is given, in a fresh database on it:

* 300 registry institutions (tiers 1–3): the plan's lead and partner institutions first,
  then generated ones;
* compliance: one campaign a year, 120 requirements; an institution-level assessment per
  targeted institution and year (most approved during the year, with answers);
* CSIRT: 2,000 cases a year (report, acknowledgement, containment and closure times,
  classes and severities, some false positives and duplicates);
* exposure: 5,000 findings a year (first seen, fixed, severities; some accepted risks and
  false positives) and quarterly scans;
* training: 30,000 trainees registered over the years, sessions each year, enrolments with
  their outcome; phishing: 20 exercises a year × 500 targets, with sent / opened / clicked /
  reported events; skills register: security officers (CISO) in most institutions, more in
  tier 1, some who left, and other roles;

then imports the shipped plan (``strategy/data/plan-mali-2026.yaml``) and times, in the
same run and on each database, with ``today = 2030-12-31`` (median of 3 runs, each in a
fresh session):

* **floor**: one ``SELECT count(*)`` on each table the indicator sources read, the least any
  computation over that data must do;
* ``strategy.measures.evaluate`` for 2028: every plan indicator for one year;
* ``evaluate`` for each year 2026–2030: every indicator for the whole plan.

Each computed indicator's value per year is printed first as a sanity check (none may be
"no data"; manual indicators have no value entered here). Then a Markdown table.

PostgreSQL: ``LAKANA_BENCH_PG_URL`` (else ``LAKANA_TEST_DATABASE_URL``, which
``scripts/with-postgres.sh`` exports) names a server where the bench may create and drop a
database of its own; without one the PostgreSQL rows are skipped with the reason.
Usage: ``uv run python bench/bench_strategy_indicators.py`` or ``scripts/with-postgres.sh uv
run python bench/bench_strategy_indicators.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, insert, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import lakana.models  # noqa: F401  (every table on the metadata)
from lakana.app import core_plugins, domains, register_all
from lakana.core.auth.rbac import system_actor
from lakana.core.db import Base
from lakana.core.plugins import indicator_sources
from lakana.strategy import measures
from lakana.strategy import service as strategy

PLAN = Path(__file__).resolve().parents[1] / "src/lakana/strategy/data/plan-mali-2026.yaml"
SEED = 2026
INSTITUTIONS = 300
YEARS = tuple(range(2026, 2031))
TODAY = dt.date(2030, 12, 31)
ONE_YEAR = 2028
RUNS = 3
REQUIREMENTS = 120
CASES_PER_YEAR = 2000
FINDINGS_PER_YEAR = 5000
TRAINEES = 30_000
SESSIONS_PER_YEAR = 60
EXERCISES_PER_YEAR = 20
TARGETS_PER_EXERCISE = 500
#: The tables the plan's indicator sources read (the floor counts each once).
SOURCE_TABLES = (
    "registry_institution", "compliance_assessment", "compliance_answer",
    "compliance_requirement", "csirt_case", "exposure_finding", "exposure_scan",
    "awareness_trainee", "awareness_enrolment", "awareness_course_session",
    "awareness_phishing_exercise", "awareness_phishing_event", "awareness_role_holder",
    "awareness_certification")
ANSWER_STATUSES = ["implemented", "implemented", "partial", "partial", "not_implemented",
                   "not_applicable", None]
CLASSES = ["malicious-code", "availability", "information-gathering", "intrusion-attempts",
           "intrusions", "information-content-security", "fraud", "vulnerable", "other"]
CASE_SEVERITIES = (["critical"] * 5 + ["high"] * 20 + ["medium"] * 45 + ["low"] * 30)
FINDING_SEVERITIES = (["critical"] * 8 + ["high"] * 20 + ["medium"] * 35 + ["low"] * 27
                      + ["info"] * 10)
OTHER_PROFILES = ["incident-responder", "implementer", "risk-manager", "architect",
                  "auditor", "educator", "legal-compliance"]


def _utc(day: dt.date, seconds: float = 0.0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


def _in_year(rng: random.Random, year: int) -> dt.datetime:
    """A random instant within ``year``."""
    days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    return _utc(dt.date(year, 1, 1), rng.uniform(0, days * 86400))


def _until_today(when: dt.datetime) -> dt.datetime | None:
    """``when`` if it is not after the measuring day, else ``None`` (not happened yet)."""
    return when if when < _utc(TODAY + dt.timedelta(days=1)) else None


def _filler(name: str, row: dict[str, Any]) -> dict[str, Any]:
    """Fill the table's required columns that ``row`` leaves out with plain values."""
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for column in Base.metadata.tables[name].columns:
        if column.name in row or column.nullable or column.primary_key:
            continue
        if column.default is not None or column.server_default is not None:
            continue
        kind = column.type.python_type
        row[column.name] = (now if kind is dt.datetime else dt.date(2026, 12, 31)
                            if kind is dt.date else 1 if kind is int else False
                            if kind is bool else [] if kind is list else "x")
    return row


class Loader:
    """Bulk inserts, table by table, counting the rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts: dict[str, int] = {}

    def __call__(self, name: str, rows: list[dict[str, Any]]) -> None:
        table = Base.metadata.tables[name]
        with self.engine.begin() as conn:
            for start in range(0, len(rows), 20_000):
                conn.execute(insert(table),
                             [_filler(name, dict(r)) for r in rows[start:start + 20_000]])
        self.counts[name] = self.counts.get(name, 0) + len(rows)


def plan_acronyms() -> list[str]:
    """The lead and partner institutions the plan names (they must exist to import it)."""
    plan = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    return sorted({a for axis in plan["axes"] for o in axis["objectives"]
                   for action in o["actions"]
                   for a in [action.get("lead") or "", *action.get("partners", [])] if a})


def _registry(load: Loader, rng: random.Random) -> dict[int, int]:
    """300 institutions, the plan's first; their tier by id."""
    named = plan_acronyms()
    tiers: dict[int, int] = {}
    rows: list[dict[str, Any]] = []
    for ident in range(1, INSTITUTIONS + 1):
        acronym = named[ident - 1] if ident <= len(named) else f"INST{ident:03}"
        tier = 1 if ident <= len(named) else rng.choices((1, 2, 3), (2, 3, 5))[0]
        tiers[ident] = tier
        rows.append({"id": ident, "acronym": acronym, "name": f"Institution {acronym}",
                     "kind": "ministry" if ident <= 30 else "agency",
                     "parent_id": None if ident <= 30 else 1 + ident % 30,
                     "region": "bamako", "sector": "government", "criticality_tier": tier})
    load("registry_institution", rows)
    return tiers


def _compliance(load: Loader, rng: random.Random) -> None:
    """A campaign a year; assessments approved during the year for most institutions."""
    load("compliance_catalog", [{"id": 1, "catalog_id": "bench"}])
    load("compliance_catalog_version", [{"id": 1, "catalog_pk": 1, "version": "1"}])
    load("compliance_domain", [
        {"id": d, "catalog_version_id": 1, "code": f"d{d:02}", "title_fr": f"Domaine {d}",
         "title_en": f"Domain {d}", "position": d} for d in range(1, 13)])
    load("compliance_requirement", [
        {"id": r, "catalog_version_id": 1, "domain_id": 1 + r % 12, "control_id": f"c-{r}",
         "kind": "requirement", "weight": 1 + r % 3, "csf_refs": ["GV.OC"], "iso_refs": [],
         "position": r} for r in range(1, REQUIREMENTS + 1)])
    load("compliance_profile", [{"id": 1, "profile_id": "bench", "version": "1",
                                 "base_version_id": 1}])
    load("compliance_campaign", [
        {"id": n, "name": f"Campagne {year}", "year": year, "profile_id": 1,
         "status": "open" if year == YEARS[-1] else "closed", "created_by": "bench"}
        for n, year in enumerate(YEARS, 1)])
    load("compliance_campaign_target", [
        {"campaign_id": c, "institution_id": i} for c in range(1, len(YEARS) + 1)
        for i in range(1, INSTITUTIONS + 1)])
    assessments: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    ident = 0
    for n, year in enumerate(YEARS, 1):
        approved_share = 0.55 + 0.08 * n  # 63 % in 2026 … 95 % in 2030
        for inst in range(1, INSTITUTIONS + 1):
            ident += 1
            roll = rng.random()
            status = ("approved" if roll < approved_share else "submitted"
                      if roll < approved_share + 0.03 else "draft")
            submitted = _in_year(rng, year) if status != "draft" else None
            approved = (min(submitted + dt.timedelta(days=rng.uniform(1, 60)),
                            _utc(dt.date(year, 12, 31), 3600))
                        if status == "approved" and submitted else None)
            assessments.append({"id": ident, "campaign_id": n, "institution_id": inst,
                                "status": status, "submitted_at": submitted,
                                "approved_at": approved,
                                "approved_by": "bench" if approved else None})
            if status == "draft":
                continue
            skill = min(5, max(0, rng.gauss(1.5 + 0.5 * n, 1.0)))
            for r in range(1, REQUIREMENTS + 1):
                answer = rng.choice(ANSWER_STATUSES)
                answers.append({
                    "assessment_id": ident, "requirement_id": r, "position": r,
                    "status": answer,
                    "maturity": min(5, max(0, round(rng.gauss(skill, 1.2))))
                    if answer else None})
    load("compliance_assessment", assessments)
    load("compliance_answer", answers)


def _csirt(load: Loader, rng: random.Random) -> None:
    """2,000 cases a year with their response times."""
    rows: list[dict[str, Any]] = []
    for year in YEARS:
        for _ in range(CASES_PER_YEAR):
            reported = _in_year(rng, year)
            acknowledged = _until_today(reported + dt.timedelta(hours=rng.expovariate(1 / 3)))
            contained = (_until_today(reported + dt.timedelta(hours=rng.expovariate(1 / 30)))
                         if rng.random() < 0.7 else None)
            reason = rng.choices(["resolved", "false_positive", "duplicate", "no_action"],
                                 (85, 8, 4, 3))[0]
            closed = (_until_today(reported + dt.timedelta(days=rng.lognormvariate(2.0, 0.9)))
                      if rng.random() < 0.93 else None)
            rows.append({
                "title": "Incident", "source": rng.choice(["institution", "public", "analyst",
                                                           "detection"]),
                "institution_id": rng.randint(1, INSTITUTIONS) if rng.random() < 0.9 else None,
                "status": "closed" if closed else "open",
                "closure_reason": reason if closed else None,
                "taxonomy_class": rng.choice(CLASSES), "severity": rng.choice(CASE_SEVERITIES),
                "tlp": "amber", "reported_at": reported, "acknowledged_at": acknowledged,
                "contained_at": contained, "closed_at": closed, "created_at": reported,
                "updated_at": closed or reported})
    load("csirt_case", rows)


def _exposure(load: Loader, rng: random.Random) -> None:
    """Quarterly scans of each institution; 5,000 findings a year."""
    load("exposure_scan", [
        {"institution_id": inst, "status": "done", "trigger": "schedule",
         "created_at": _utc(dt.date(year, month, 1)),
         "finished_at": _utc(dt.date(year, month, 1), 3600)}
        for year in YEARS for month in (1, 4, 7, 10) for inst in range(1, INSTITUTIONS + 1)])
    rows: list[dict[str, Any]] = []
    for year in YEARS:
        for _ in range(FINDINGS_PER_YEAR):
            seen = _in_year(rng, year)
            severity = rng.choice(FINDING_SEVERITIES)
            roll = rng.random()
            fixed = (_until_today(seen + dt.timedelta(days=rng.lognormvariate(
                2.5 if severity == "critical" else 3.2, 0.8))) if roll < 0.75 else None)
            status = ("fixed" if fixed else "accepted" if roll < 0.8 else "false_positive"
                      if roll < 0.83 else "open")
            n = len(rows) + 1
            rows.append({
                "fingerprint": f"fp-{n}", "institution_id": rng.randint(1, INSTITUTIONS),
                "target": f"https://host{n}.example.ml", "check_id": "tls",
                "issue_id": f"issue-{n % 40}", "severity": severity, "status": status,
                "first_seen": seen, "last_seen": fixed or _utc(TODAY), "fixed_at": fixed,
                "created_at": seen, "updated_at": fixed or seen})
    load("exposure_finding", rows)


def _training(load: Loader, rng: random.Random) -> None:
    """30,000 trainees registered over the years; sessions and enrolments each year."""
    load("awareness_course", [
        {"id": c, "kind": "e-learning" if c % 2 else "classroom", "title": f"Cours {c}",
         "duration_hours": 4 + c} for c in range(1, 11)])
    sessions: dict[int, list[tuple[int, dt.date]]] = {year: [] for year in YEARS}
    rows: list[dict[str, Any]] = []
    for year in YEARS:
        for _ in range(SESSIONS_PER_YEAR):
            start = (_in_year(rng, year)).date()
            end = min(start + dt.timedelta(days=rng.randint(0, 4)), dt.date(year, 12, 31))
            rows.append({"id": len(rows) + 1, "course_id": rng.randint(1, 10),
                         "starts_on": start, "ends_on": end, "seats": 600})
            sessions[year].append((len(rows), end))
    load("awareness_course_session", rows)
    trainees: list[dict[str, Any]] = []
    enrolments: list[dict[str, Any]] = []
    weights = (30, 25, 20, 15, 10)  # registrations per year, most at the start
    for ident in range(1, TRAINEES + 1):
        year = rng.choices(YEARS, weights)[0]
        created = _in_year(rng, year)
        inst = rng.randint(1, INSTITUTIONS)
        trainees.append({"id": ident, "institution_id": inst, "full_name": f"Agent {ident}",
                         "email": f"agent{ident}@example.ml", "created_at": created,
                         "updated_at": created})
        taken: set[int] = set()
        for _ in range(rng.choices((0, 1, 2, 3), (15, 50, 25, 10))[0]):
            later = rng.choice([y for y in YEARS if y >= year])
            session_id, _end = rng.choice(sessions[later])
            if session_id in taken:
                continue
            taken.add(session_id)
            outcome = rng.choices(["completed", "failed", "no_show", None], (75, 10, 10, 5))[0]
            enrolments.append({"session_id": session_id, "trainee_id": ident,
                               "institution_id": inst, "attended": outcome != "no_show",
                               "outcome": outcome,
                               "score": rng.randint(40, 100) if outcome else None})
    load("awareness_trainee", trainees)
    load("awareness_enrolment", enrolments)


def _phishing(load: Loader, rng: random.Random) -> None:
    """20 exercises a year × 500 targets; fewer clicks year after year."""
    load("awareness_phishing_template", [{"id": 1, "name": "Colis", "subject": "Votre colis",
                                          "body": "Cliquez ici"}])
    exercises: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for n, year in enumerate(YEARS):
        click = 0.28 - 0.04 * n
        for _ in range(EXERCISES_PER_YEAR):
            sent = _in_year(rng, year)
            exercise = len(exercises) + 1
            exercises.append({"id": exercise, "institution_id": rng.randint(1, INSTITUTIONS),
                              "template_id": 1, "name": f"Exercice {exercise}",
                              "status": "closed", "starts_on": sent.date(),
                              "ends_on": sent.date() + dt.timedelta(days=14), "sent_at": sent,
                              "closed_at": sent + dt.timedelta(days=14)})
            for t in range(TARGETS_PER_EXERCISE):
                target = len(targets) + 1
                targets.append({"id": target, "exercise_id": exercise,
                                "email": f"t{t}@example.ml", "pseudonym": f"P{t:04}"})
                kinds = ["sent"]
                if rng.random() < 0.45:
                    kinds.append("opened")
                    if rng.random() < click / 0.45:
                        kinds.append("clicked")
                        if rng.random() < 0.3:
                            kinds.append("submitted")
                if rng.random() < 0.12 + 0.03 * n:
                    kinds.append("reported")
                events.extend({"target_id": target, "exercise_id": exercise, "kind": kind,
                               "at": sent + dt.timedelta(minutes=10 * i)}
                              for i, kind in enumerate(kinds))
    load("awareness_phishing_exercise", exercises)
    load("awareness_phishing_target", targets)
    load("awareness_phishing_event", events)


def _skills(load: Loader, rng: random.Random, tiers: dict[int, int]) -> None:
    """Security officers (most tier-1 institutions, fewer below), some who left; other roles."""
    rows: list[dict[str, Any]] = []
    for inst, tier in tiers.items():
        if rng.random() < {1: 0.85, 2: 0.6, 3: 0.4}[tier]:
            since = _in_year(rng, rng.choice((2024, 2025, 2026, 2027, 2028))).date()
            left = rng.random() < 0.2
            until = since + dt.timedelta(days=rng.randint(200, 900)) if left else None
            rows.append({"institution_id": inst, "profile_id": "ciso",
                         "full_name": f"RSSI {inst}", "since": since, "until": until})
            if left and until is not None and rng.random() < 0.6:
                rows.append({"institution_id": inst, "profile_id": "ciso",
                             "full_name": f"RSSI {inst} (suite)",
                             "since": until + dt.timedelta(days=rng.randint(10, 200)),
                             "until": None})
        for profile in rng.sample(OTHER_PROFILES, rng.randint(0, 4 - tier)):
            rows.append({"institution_id": inst, "profile_id": profile,
                         "full_name": f"{profile} {inst}", "since": dt.date(2025, 6, 1),
                         "until": None})
    load("awareness_role_holder", rows)


def generate(engine: Engine) -> dict[str, int]:
    """The schema and the five years of data; the rows inserted, by table."""
    rng = random.Random(SEED)
    Base.metadata.create_all(engine)
    load = Loader(engine)
    tiers = _registry(load, rng)
    _compliance(load, rng)
    _csirt(load, rng)
    _exposure(load, rng)
    _training(load, rng)
    _phishing(load, rng)
    _skills(load, rng, tiers)
    actor = system_actor("bench")
    with Session(engine) as session, session.begin():
        strategy.import_plan(session=session, actor=actor, content=PLAN.read_bytes(),
                             filename=PLAN.name)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # as autovacuum would have done in production
    return load.counts


def _median(call: Callable[[], int]) -> tuple[float, int]:
    """The median seconds of :data:`RUNS` calls, and what the last returned."""
    samples, result = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def _floor(engine: Engine) -> int:
    with engine.connect() as conn:
        for name in SOURCE_TABLES:
            conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
    return 0


def _evaluate(engine: Engine, years: tuple[int, ...]) -> int:
    """Every indicator for ``years`` in a fresh session; how many were computed."""
    actor = system_actor("bench")
    computed = 0
    with Session(engine) as session:
        for year in years:
            found = measures.evaluate(session=session, actor=actor, year=year, today=TODAY)
            computed += sum(1 for e in found if e.source_kind == "computed")
    return computed


def _source(engine: Engine, key: str) -> int:
    """One source computed for :data:`ONE_YEAR` in a fresh session, as ``evaluate`` calls it."""
    source = indicator_sources()[key]
    period = measures.year_period(ONE_YEAR, TODAY)
    assert period is not None
    with Session(engine) as session, session.begin_nested():
        source.compute(session, system_actor("strategy indicators", "strategy"), period)
    return 1


def sanity(engine: Engine, label: str) -> list[str]:
    """Print each indicator's value per year; the computed ones without a value."""
    actor = system_actor("bench")
    table: dict[str, dict[int, str]] = {}
    kinds: dict[str, str] = {}
    missing = []
    with Session(engine) as session:
        for year in YEARS:
            for e in measures.evaluate(session=session, actor=actor, year=year, today=TODAY):
                key = f"{e.code} {e.source_key or '(manual)'}"
                kinds[key] = e.source_kind
                table.setdefault(key, {})[year] = "—" if e.value is None else f"{e.value:g}"
                if e.value is None and e.source_kind == "computed":
                    missing.append(f"{key} {year}: {e.reason % dict(e.reason_args)}")
    print(f"\n{label}: indicator values (— = no data)\n")
    print("| indicator | kind | " + " | ".join(str(y) for y in YEARS) + " |")
    print("|---|---|" + "---:|" * len(YEARS))
    for key, values in table.items():
        print(f"| {key} | {kinds[key]} | " + " | ".join(values[y] for y in YEARS) + " |")
    return missing


Result = tuple[dict[str, tuple[float, int]], float, dict[str, int]]


def measure(engine: Engine, label: str) -> Result:
    """Generate the data on ``engine``, check it, and time each step."""
    started = time.perf_counter()
    counts = generate(engine)
    generated = time.perf_counter() - started
    missing = sanity(engine, label)
    if missing:
        raise SystemExit("computed indicators without a value:\n" + "\n".join(missing))
    _evaluate(engine, (ONE_YEAR,))  # warm-up: imports, compiled statements
    results = {
        f"floor: SELECT count(*) on the {len(SOURCE_TABLES)} tables the sources read":
            _median(lambda: _floor(engine)),
        f"evaluate, one year ({ONE_YEAR})": _median(lambda: _evaluate(engine, (ONE_YEAR,))),
        f"evaluate, all {len(YEARS)} years ({YEARS[0]}–{YEARS[-1]})":
            _median(lambda: _evaluate(engine, YEARS)),
    }
    with Session(engine) as session:
        keys = [i.source_key for i in measures.all_indicators(session)
                if i.source_kind == "computed"]
    for key in keys:
        results[f"one source, {ONE_YEAR}: {key}"] = _median(partial(_source, engine, key))
    return results, generated, counts


def _sqlite() -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            return measure(engine, "SQLite")
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


def _postgres() -> Result | str:
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
            print(f"\nPostgreSQL {version} at "
                  f"{make_url(url).render_as_string(hide_password=True)}")
            return measure(engine, "PostgreSQL")
    except (SQLAlchemyError, OSError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def main() -> None:
    """Generate, measure on SQLite (and PostgreSQL when given), print the Markdown table."""
    register_all([*core_plugins(), *domains()])
    runs: dict[str, Result] = {"SQLite": _sqlite()}
    postgres = _postgres()
    skipped = ""
    if isinstance(postgres, str):
        skipped = postgres
    else:
        runs["PostgreSQL"] = postgres
    counts = next(iter(runs.values()))[2]
    print(f"\n{INSTITUTIONS} institutions × {len(YEARS)} years ({YEARS[0]}–{YEARS[-1]}), "
          f"seed {SEED}, today = {TODAY}; rows: "
          + ", ".join(f"{name} {n:,}" for name, n in counts.items() if n > 1))
    print("Data generation (not measured): "
          + ", ".join(f"{db} {gen:.1f} s" for db, (_, gen, _c) in runs.items())
          + f"; median of {RUNS} runs, each in a fresh session.\n")
    print("| database | step | median seconds | indicators computed | note |")
    print("|---|---|---:|---:|---|")
    for db, (results, _generated, _counts) in runs.items():
        floor = next(iter(results.values()))[0]
        for n, (step, (seconds, computed)) in enumerate(results.items()):
            ratio = seconds / floor
            note = "baseline" if n == 0 else f"{ratio:,.{0 if ratio >= 10 else 1}f}× floor"
            print(f"| {db} | {step} | {seconds:.3f} | {computed or '—'} | {note} |")
    if skipped:
        print(f"| PostgreSQL | skipped ({skipped}) | | | |")


if __name__ == "__main__":
    main()
