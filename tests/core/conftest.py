"""Fixtures of the core's tests: institutions without depending on the registry's services."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from lakana.core import plugins
from lakana.core.db import utcnow


@pytest.fixture
def institution(session_factory: sessionmaker[Session]) -> Callable[[str], int]:
    """Create an institution row directly (the registry's services evolve separately)."""

    def _make(acronym: str) -> int:
        now = utcnow()
        with session_factory.begin() as session:
            session.execute(text(
                "INSERT INTO registry_institution (name, acronym, kind, region, sector, "
                "criticality_tier, created_at, updated_at, version) VALUES "
                "(:name, :acronym, 'ministry', 'bamako', 'government', 2, :now, :now, 1)"),
                {"name": f"Ministry {acronym}", "acronym": acronym, "now": now})
            found = session.execute(text("SELECT id FROM registry_institution WHERE acronym = :a"),
                                    {"a": acronym}).scalar_one()
        return int(found)

    return _make


@pytest.fixture
def institution_choices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plug a choices function the way the registry does, listing every institution."""

    def _choices(session: Session) -> list[tuple[int, str]]:
        rows = session.execute(text("SELECT id, acronym, name FROM registry_institution "
                                    "ORDER BY acronym")).all()
        return [(int(r[0]), f"{r[1]} — {r[2]}") for r in rows]

    monkeypatch.setattr(plugins, "_institution_choices", _choices)
    yield
