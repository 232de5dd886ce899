"""Alembic environment: one history for every domain's tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from lakana.models import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")


def run_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(url=url, target_metadata=metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply migrations on a live connection."""
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(str(url), poolclass=pool.NullPool)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=metadata,  # type: ignore[arg-type]
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
