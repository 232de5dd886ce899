"""``lakana biometry keys``: master keys and their rotation."""

from __future__ import annotations

import typer

from lakana.biometry import keys, runtime
from lakana.biometry.protection import rotation
from lakana.core.auth.rbac import system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, friendly_errors
from lakana.core.db import make_engine, make_session_factory

app = typer.Typer(no_args_is_help=True)


@app.command("status")
@friendly_errors
def status_command() -> None:
    """The current master key, every key with the objects it wraps, and the rotations."""
    settings = cli_settings()
    store = runtime.keystore(settings)
    with cli_transaction(settings) as session:
        view = keys.status(session=session, actor=system_actor("lakana cli", "cli"),
                           store=store)
        typer.echo(f"current key: {view.current_key_id} ({store.backend})")
        for key in view.keys:
            typer.echo(f"  {key.key_id}  {key.state:9}  {key.objects} objects")
        for item in view.rotations:
            typer.echo(f"rotation {item.id}: {item.from_key_id} → {item.to_key_id} "
                       f"{item.state}, {item.rewrapped} re-wrapped")


@app.command("rotate")
@friendly_errors
def rotate_command(
    batch: int = typer.Option(rotation.DEFAULT_BATCH, min=1, max=100_000,
                              help="Data keys re-wrapped per transaction."),
) -> None:
    """Create a new master key and re-wrap every data key under it; if a rotation was
    interrupted (killed, crashed), resume it instead. Safe to run again at any time."""
    settings = cli_settings()
    store = runtime.keystore(settings)
    actor = system_actor("lakana cli", "cli")
    engine = make_engine(settings)
    try:
        factory = make_session_factory(engine)
        from lakana.core.audit import configure_ledger

        configure_ledger(factory, settings)
        with factory.begin() as session:
            running = rotation.running_rotation(session=session)
            if running is None:
                running = keys.start_rotation(session=session, actor=actor, store=store,
                                              background=False)
                typer.echo(f"rotation {running.id} started: {running.from_key_id} → "
                           f"{running.to_key_id}")
            else:
                typer.echo(f"resuming rotation {running.id} after object "
                           f"{running.last_object_id}")

        def progress(item: object) -> None:
            typer.echo(f"  {getattr(item, 'rewrapped', 0)} re-wrapped")

        done = rotation.run_rotation(session_factory=factory, actor=actor, store=store,
                                     batch_size=batch, on_batch=progress)
        if done is not None:
            typer.echo(f"rotation {done.id} done: {done.rewrapped} data keys re-wrapped, key "
                       f"{done.from_key_id} retired")
    finally:
        engine.dispose()
