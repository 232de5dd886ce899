"""Benchmark: registry writes per second with the ledger on vs off, in the same run.

Goal: the ledger costs less than 20 % of write throughput. Each write is one transaction
(``create_institution`` then commit), as one API request would be. "Off" removes the
ledger's commit hook and makes ``record`` a no-op *inside this script only* (there is no
production switch); rounds alternate on/off so that machine noise hits both alike.

Run with ``uv run python bench/bench_ledger_cost.py [WRITES_PER_MODE]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.app import core_plugins, domains, register_all
from lakana.core import audit
from lakana.core.audit import ledger, signing
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.db import make_engine, make_session_factory
from lakana.models import metadata
from lakana.registry import service
from lakana.registry.schemas import InstitutionCreate

GOAL_PERCENT = 20.0
ROUNDS = 10


@contextmanager
def ledger_off() -> Iterator[None]:
    """Detach the ledger for the duration of the block (benchmark only)."""
    original: Callable[..., None] = audit.record
    event.remove(Session, "before_commit", ledger._chain_before_commit)
    audit.record = lambda **_: None  # type: ignore[assignment]
    try:
        yield
    finally:
        audit.record = original  # type: ignore[assignment]
        event.listen(Session, "before_commit", ledger._chain_before_commit)


def writes(factory: sessionmaker[Session], start: int, count: int) -> float:
    """Create ``count`` institutions, one transaction each; return the seconds taken."""
    actor = system_actor("bench")
    began = time.perf_counter()
    for i in range(start, start + count):
        data = InstitutionCreate(name=f"Institution {i}", acronym=f"B{i}", kind="ministry",
                                 region="bamako", sector="government", criticality_tier=2)
        with factory.begin() as session:
            service.create_institution(session=session, actor=actor, data=data)
    return time.perf_counter() - began


def main() -> None:
    """Alternate rounds with the ledger on and off; print the Markdown table."""
    per_mode = int(sys.argv[1]) if len(sys.argv) > 1 else 1200
    per_round = max(per_mode // ROUNDS, 1)
    register_all([*core_plugins(), *domains()])
    with tempfile.TemporaryDirectory(prefix="lakana-bench-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'bench.db'}",
                            secret_key="bench", _env_file=None)  # type: ignore[call-arg]
        signing.create_key(settings.effective_ledger_key_path)
        engine = make_engine(settings)
        metadata.create_all(engine)
        factory = make_session_factory(engine)
        ledger.configure_ledger(factory, settings)
        writes(factory, 10_000_000, 50)  # warm-up: caches, statement compilation
        seconds: dict[str, float] = {"on": 0.0, "off": 0.0}
        round_costs: list[float] = []
        done = 0
        for _ in range(ROUNDS):
            on = writes(factory, done, per_round)
            done += per_round
            with ledger_off():
                off = writes(factory, done, per_round)
            done += per_round
            seconds["on"] += on
            seconds["off"] += off
            round_costs.append(100.0 * (1 - off / on))
        with factory() as session:
            ledgered = session.scalar(select(func.count()).select_from(AuditEntry))
        engine.dispose()
    rate = {mode: per_round * ROUNDS / s for mode, s in seconds.items()}
    cost = 100.0 * (1 - rate["on"] / rate["off"])
    # The median of paired rounds resists bursts of load from other processes.
    median = statistics.median(round_costs)
    status = "met" if median < GOAL_PERCENT else "MISSED"
    print(f"\nLedger cost — {per_round * ROUNDS} `create_institution` writes per mode, one "
          f"transaction each, SQLite, {ROUNDS} alternating rounds ({ledgered} entries "
          "ledgered)\n")
    print("| Measure | Measured | Goal | Status |")
    print("|---|---|---|---|")
    print(f"| writes/s, ledger off | {rate['off']:,.0f} | — | — |")
    print(f"| writes/s, ledger on | {rate['on']:,.0f} | — | — |")
    print(f"| ledger cost, median of {ROUNDS} paired rounds | {median:.1f} % "
          f"| < {GOAL_PERCENT:.0f} % | {status} |")
    print(f"| ledger cost, whole run | {cost:.1f} % | < {GOAL_PERCENT:.0f} % | "
          f"{'met' if cost < GOAL_PERCENT else 'MISSED'} |")




if __name__ == "__main__":
    main()
