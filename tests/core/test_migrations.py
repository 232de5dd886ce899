"""The single Alembic history builds exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import lakana
from lakana.core.config import Settings
from lakana.models import metadata


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(lakana.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_upgrade_head_matches_models(settings: Settings) -> None:
    """Given an empty database, when migrated to head, then no model differs from the schema."""
    url = settings.effective_database_url
    engine = create_engine(url)
    try:
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        command.upgrade(_config(url), "head")
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            tables = set(inspect(conn).get_table_names())
        assert not diff, f"models and migrations differ: {diff}"
        assert {t.name for t in metadata.sorted_tables} <= tables
        command.downgrade(_config(url), "base")
        with engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"alembic_version"}
        assert not left, f"downgrade left tables behind: {left}"
    finally:
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        engine.dispose()
