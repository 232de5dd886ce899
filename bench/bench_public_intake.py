"""Public report intake (``POST /api/v1/public/reports``) on loopback under a load generator.

Measures the sustained rate of accepted reports (201) and their latency (p50 / p99), and
checks that every accepted report is stored: after each run the rows of ``csirt_case`` with
``source = 'public'`` are counted directly in the database and must equal the number of 201
answers (the bench exits 1 otherwise).

Setup, per measured run (a fresh one each time):

* a temporary ``LAKANA_HOME``; ``lakana init`` is run in it (secret key, ledger key, Alembic
  migrations to head) against SQLite in that home, or against a database of its own created
  on the PostgreSQL server named by ``LAKANA_BENCH_PG_URL`` (else
  ``LAKANA_TEST_DATABASE_URL``, which ``scripts/with-postgres.sh`` exports; that script runs
  the server with ``fsync=off``) and dropped afterwards; three active CSIRT analysts are
  added, so that each report also puts a notification in three inboxes as in production;
* the real app served by uvicorn on 127.0.0.1 (a free port) in a subprocess: one worker, and
  on PostgreSQL also four workers.

Rate limits (``lakana.csirt.public_service``): 5 reports per address per 10 minutes and 60
in all per minute, both counted in the database by ``lakana.core.ratelimit``. They are plain
module constants that no setting or environment variable reaches, and a flood from one
loopback address is exactly what they refuse, so:

* the *global* ceiling ``REPORTS_PER_MINUTE`` is raised to 10**9 for the bench server: the
  server is started through ``create_intake_app`` below (a launcher in this file, given to
  uvicorn as ``bench_public_intake:create_intake_app --factory``), which sets the module
  constant before building the app with ``lakana.app.create_app``; the check reads the
  constant at call time, so every worker process uses the raised value. Nothing else is
  patched: both ``ratelimit.hit`` calls (two committed counter upserts) still run on every
  report.
* the *per-address* limit is left at 5 and exercised as in production:
  ``LAKANA_TRUST_PROXY_HEADERS=true`` is set for the bench server (as behind a reverse proxy),
  and each request carries an ``X-Forwarded-For`` address of its own simulated reporter;
  every address (10.x.y.z) sends 4 reports, so none goes over its limit and any 429 counted
  is a fault.

Load generator: asyncio + ``httpx.AsyncClient`` in this process, ``BENCH_INTAKE_CLIENTS``
(32) concurrent clients, each sending JSON reports (category, title, description in French)
one after the other for ``BENCH_INTAKE_SECONDS`` (15) after a short warm-up (one report per
client, counted in the stored-count check, not in the timings). Requests started before the
deadline are all waited for and counted.

Baseline, measured in the same run with the same generator and server setup (uvicorn, one
process, loopback): ``create_bare_app`` below, a bare FastAPI app answering the same route by
parsing the JSON, validating it with the same ``PublicReportIn`` model and returning a
receipt, with no database. The generator shares the machine with the server: on a small
machine the baseline's rate is partly the generator's own ceiling. The load average is
printed before and after (another job on the machine changes the figures).

Usage: ``uv run python bench/bench_public_intake.py`` (SQLite only) or
``scripts/with-postgres.sh uv run python bench/bench_public_intake.py`` (also PostgreSQL).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

DURATION_S = float(os.environ.get("BENCH_INTAKE_SECONDS", "15"))
CLIENTS = int(os.environ.get("BENCH_INTAKE_CLIENTS", "32"))
ROUTE = "/api/v1/public/reports"
#: Reports sent from one simulated address (the per-address limit is 5 per 10 minutes).
PER_ADDRESS = 4
BENCH_DIR = Path(__file__).resolve().parent


# --- launchers (imported by the uvicorn subprocesses) ----------------------------------

def create_intake_app() -> FastAPI:
    """Lakana's app with the global public-report ceiling raised (see the module docstring);
    the per-address limit is left as it is."""
    from lakana.app import create_app
    from lakana.csirt import public_service

    public_service.REPORTS_PER_MINUTE = 10**9
    return create_app()


def create_bare_app() -> FastAPI:
    """The baseline: the same route, JSON parsed and validated with the same model, a
    receipt returned, no database."""
    from lakana.csirt.public_service import PublicReportIn

    app = FastAPI()

    @app.post(ROUTE, status_code=201)
    async def submit(request: Request) -> JSONResponse:
        body = await request.json()
        report = PublicReportIn.model_validate(body)
        return JSONResponse(status_code=201, content={
            "reference": f"PUB-2026-{secrets.randbelow(99999):05d}",
            "tracking_code": secrets.token_hex(6).upper(),
            "status_url": f"http://127.0.0.1/public/status#{report.category.value}"})

    return app


# --- reports ----------------------------------------------------------------------------

_TEXTS: dict[str, list[tuple[str, str]]] = {
    "scam": [
        ("Faux vendeur de moto sur Facebook",
         "J'ai payé {n}000 FCFA par Orange Money à un vendeur sur Facebook pour une moto "
         "Jakarta. Depuis le paiement, le numéro ne répond plus et la page a disparu."),
        ("Arnaque au faux recrutement",
         "Une annonce promettait un emploi à la douane contre des frais de dossier de "
         "{n} 500 FCFA. Après le dépôt, on me demande encore de l'argent pour la formation."),
    ],
    "phishing": [
        ("SMS se faisant passer pour ma banque",
         "Reçu ce matin un SMS me demandant de confirmer mon code secret sur un lien "
         "raccourci, au nom de ma banque. Le lien ouvre une page qui imite le site (réf. {n})."),
        ("Courriel frauduleux au nom des impôts",
         "Un courriel annonce un remboursement de {n} 250 FCFA de la Direction générale des "
         "impôts et demande mes identifiants. L'adresse d'expédition n'est pas officielle."),
    ],
    "defacement": [
        ("Site d'une mairie défiguré",
         "La page d'accueil du site de la mairie affiche un message politique et une image "
         "qui n'ont rien à voir avec la commune depuis {n} heures environ."),
    ],
    "extortion": [
        ("Chantage avec des photos privées",
         "Une personne rencontrée sur les réseaux menace de publier des photos si je ne "
         "verse pas {n}0 000 FCFA avant vendredi. Elle écrit depuis un numéro étranger."),
    ],
    "other": [
        ("Compte WhatsApp piraté",
         "Mon compte WhatsApp a été pris après un appel d'un faux agent. Mes contacts "
         "reçoivent des demandes d'argent en mon nom depuis {n} jours."),
    ],
}


def _report(rng: random.Random) -> dict[str, Any]:
    category = rng.choice(list(_TEXTS))
    title, description = rng.choice(_TEXTS[category])
    return {"category": category, "title": title,
            "description": description.format(n=rng.randint(2, 9))}


def _addresses() -> Iterator[str]:
    """Each address PER_ADDRESS times, then the next one (10.0.0.1, 10.0.0.2, ...)."""
    for number in itertools.count(1):
        address = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
        yield from itertools.repeat(address, PER_ADDRESS)


# --- load generator -----------------------------------------------------------------------

@dataclass
class Outcome:
    """What one measured run sent and got back."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    references: set[str] = field(default_factory=set)
    elapsed_s: float = 0.0
    warmup_created: int = 0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return self.statuses[201]

    @property
    def created(self) -> int:
        """201 answers, warm-up included (what must be in the database)."""
        return self.ok + self.warmup_created


async def _send(client: httpx.AsyncClient, url: str, rng: random.Random,
                addresses: Iterator[str], outcome: Outcome | None) -> int:
    started = time.perf_counter()
    try:
        response = await client.post(url, json=_report(rng),
                                     headers={"X-Forwarded-For": next(addresses)})
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    if outcome is not None:
        outcome.latencies_ms.append((time.perf_counter() - started) * 1000)
        outcome.statuses[status] += 1
        if status == 201:
            outcome.references.add(response.json()["reference"])
    return status


async def _load(url: str) -> Outcome:
    outcome = Outcome()
    addresses = _addresses()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        warm = await asyncio.gather(*(_send(client, url, random.Random(-i), addresses, None)
                                      for i in range(CLIENTS)))
        outcome.warmup_created = sum(status == 201 for status in warm)
        deadline = time.perf_counter() + DURATION_S

        async def reporter(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                await _send(client, url, rng, addresses, outcome)

        started = time.perf_counter()
        await asyncio.gather(*(reporter(i) for i in range(CLIENTS)))
        outcome.elapsed_s = time.perf_counter() - started
    return outcome


# --- servers and databases ------------------------------------------------------------------

def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(target: str, env: dict[str, str], ready: str,
           workers: int = 1) -> Iterator[str]:
    """Serve ``target`` (a factory in this file) with uvicorn; yield the route's URL."""
    port = _port()
    log = open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "a")  # noqa: SIM115
    env = dict(env, PYTHONPATH=os.pathsep.join(
        filter(None, [str(BENCH_DIR), env.get("PYTHONPATH", "")])))
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"bench_public_intake:{target}", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{target} exited with {proc.returncode}") from None
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{target} did not start")
        if workers > 1:
            time.sleep(2)  # the other workers
        yield f"http://127.0.0.1:{port}{ROUTE}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _prepare(home: Path, database_url: str) -> dict[str, str]:
    """``lakana init`` in ``home`` against ``database_url``, plus three CSIRT analysts;
    return the server's environment."""
    env = dict(os.environ, LAKANA_HOME=str(home), LAKANA_DATABASE_URL=database_url,
               LAKANA_TRUST_PROXY_HEADERS="true", LAKANA_JOBS_INLINE="false")
    subprocess.run([sys.executable, "-c", "from lakana.cli import main; main()", "init"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    from lakana.app import core_plugins, domains, register_all
    from lakana.core.auth import service
    from lakana.core.auth.rbac import Role, system_actor
    from lakana.core.db import make_session_factory

    register_all([*core_plugins(), *domains()])
    engine = create_engine(database_url)
    try:
        with make_session_factory(engine).begin() as session:
            for number in range(1, 4):
                service.create_user(session=session, actor=system_actor("bench"),
                                    email=f"analyste{number}@cert.example.ml",
                                    full_name=f"Analyste {number}", role=Role.CSIRT_ANALYST,
                                    password="Load-Test-Passw0rd!")
    finally:
        engine.dispose()
    return env


def _stored(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM csirt_case WHERE source = 'public'")).scalar_one())
    finally:
        engine.dispose()


@contextmanager
def _postgres_database(url: str, suffix: str) -> Iterator[str]:
    """A fresh database on the server of ``url`` (its URL), dropped afterwards."""
    server = make_url(url)
    name = f"lakana_bench_intake_{os.getpid()}_{suffix}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _intake(database_url: str, workers: int = 1) -> tuple[Outcome, int]:
    """One measured intake run on a fresh home; the outcome and the stored count."""
    home = Path(tempfile.mkdtemp(prefix="lakana-bench-intake-"))
    try:
        env = _prepare(home, database_url.replace("{home}", str(home)))
        url = env["LAKANA_DATABASE_URL"]
        with _serve("create_intake_app", env, "/api/v1/openapi.json", workers) as target:
            outcome = asyncio.run(_load(target))
        return outcome, _stored(url)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _postgres_url() -> str | None:
    url = os.environ.get("LAKANA_BENCH_PG_URL") or os.environ.get("LAKANA_TEST_DATABASE_URL")
    return url if url and url.startswith("postgresql") else None


# --- report -------------------------------------------------------------------------------

def _load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} CPUs)"


def _row(name: str, outcome: Outcome) -> str:
    errors = outcome.requests - outcome.ok
    cuts = statistics.quantiles(outcome.latencies_ms, n=100) if len(
        outcome.latencies_ms) > 1 else outcome.latencies_ms * 99
    return (f"| {name} | {outcome.requests:,} | {outcome.ok:,} | {errors:,} | "
            f"{outcome.ok / outcome.elapsed_s:,.0f} | {cuts[49]:.1f} | {cuts[98]:.1f} |")


def main() -> None:
    """Baseline, SQLite intake, PostgreSQL intake when a server is given; table; checks."""
    print(f"load average before: {_load_average()}")
    runs: dict[str, Outcome] = {}
    stored: dict[str, int] = {}
    notes: list[str] = []
    with _serve("create_bare_app", dict(os.environ), "/openapi.json") as target:
        runs["bare FastAPI: JSON parsed and validated, no database (baseline)"] = (
            asyncio.run(_load(target)))
    name = "public intake, SQLite, 1 worker"
    runs[name], stored[name] = _intake("sqlite:///{home}/lakana.db")
    pg_url = _postgres_url()
    if pg_url is None:
        notes.append("PostgreSQL: skipped (no server given: set LAKANA_BENCH_PG_URL, or run "
                     "under scripts/with-postgres.sh)")
    else:
        for workers in (1, 4):
            name = f"public intake, PostgreSQL, {workers} worker{'s' * (workers > 1)}"
            try:
                with _postgres_database(pg_url, str(workers)) as url:
                    runs[name], stored[name] = _intake(url, workers)
            except (SQLAlchemyError, OSError) as exc:
                notes.append(f"{name}: skipped ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0]})")
    print(f"load average after: {_load_average()}")
    print(f"\nPOST {ROUTE} (JSON), {CLIENTS} concurrent clients, {DURATION_S:g} s each, "
          f"loopback, httpx.AsyncClient; {PER_ADDRESS} reports per X-Forwarded-For address; "
          "reports/s = 201 answers per second\n")
    print("| measure | requests | ok | errors | reports/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, outcome in runs.items():
        print(_row(name, outcome))
    print()
    failed = False
    for name, count in stored.items():
        outcome = runs[name]
        codes = outcome.statuses
        fivexx = sum(n for status, n in codes.items() if status >= 500)
        print(f"{name}: count sent (201) = {outcome.created}, count stored = {count} "
              f"(warm-up {outcome.warmup_created} included); 429 = {codes[429]}, "
              f"5xx = {fivexx}, connection errors = {codes[0]}, "
              f"distinct references = {len(outcome.references)} of {outcome.ok}")
        if count != outcome.created or len(outcome.references) != outcome.ok:
            print(f"FAIL: {name}: count sent != count stored")
            failed = True
    for note in notes:
        print(note)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
