"""Migration 0011 installs exactly the stamps' triggers the models install (``create_all``),
and its downgrade puts back 0010's, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text

import lakana
from lakana.compliance.scoring.models import STAMP_TABLE
from lakana.core.config import Settings
from lakana.models import metadata

Snapshot = dict[str, str]


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(lakana.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _snapshot(engine: Engine) -> Snapshot:
    """Every stamp trigger (and, on PostgreSQL, stamp function) with its definition."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                                     f" AND name LIKE '{STAMP_TABLE}%'"))
            return {name: sql for name, sql in rows}
        triggers = conn.execute(text(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
            f" WHERE tgname LIKE '{STAMP_TABLE}%' AND NOT tgisinternal"))
        functions = conn.execute(text(
            f"SELECT proname, prosrc FROM pg_proc WHERE proname LIKE '{STAMP_TABLE}%'"))
        return {**{f"trigger {n}": d for n, d in triggers},
                **{f"function {n}": d for n, d in functions}}


def _empty(engine: Engine) -> None:
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        if engine.dialect.name == "postgresql":  # functions outlive the tables
            for (name,) in conn.execute(text(
                    f"SELECT proname FROM pg_proc WHERE proname LIKE '{STAMP_TABLE}%'")):
                conn.exec_driver_sql(f"DROP FUNCTION {name}()")


def test_migration_matches_the_models_and_downgrades(settings: Settings) -> None:
    url = settings.effective_database_url
    engine = create_engine(url)
    try:
        # Given an empty database migrated to 0010
        _empty(engine)
        command.upgrade(_config(url), "0010")
        before = _snapshot(engine)
        assert before
        # When migrated to 0011
        command.upgrade(_config(url), "0011")
        migrated = _snapshot(engine)
        # Then its triggers are those create_all installs from the models
        _empty(engine)
        metadata.create_all(engine)
        assert migrated == _snapshot(engine)
        # And the downgrade puts 0010's back, and only them
        _empty(engine)
        command.upgrade(_config(url), "0011")
        command.downgrade(_config(url), "0010")
        assert _snapshot(engine) == before
    finally:
        _empty(engine)
        engine.dispose()
