"""Sending a 10,000-target phishing exercise (issue 9) to a local SMTP sink, then recording
every person's open and click through the public tracking routes.

Measured in the same run, against one aiosmtpd sink on loopback:

- the floor: 10,000 plain messages sent with raw ``smtplib`` over one connection, with no
  database, no personal link and no tracking;
- Lakana: the target list imported (CSV), the exercise sent (one job per batch of 200), a
  worker running every batch (one SMTP connection a batch, an HTML message with its signed
  links, a "sent" event each), then every open pixel and every click of the mails'
  links requested through the application (in-process HTTP client), and the time until
  every event is recorded.

``LAKANA_BENCH_TARGETS`` changes the number of targets.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import smtplib
import socket
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

TARGETS = int(os.environ.get("LAKANA_BENCH_TARGETS", "10000"))
LINK = re.compile(rb"http://bench(/p/c/[\w.=-]+)")


class _Sink:
    """Counts messages and keeps the click paths found in them."""

    def __init__(self) -> None:
        self.count = 0
        self.paths: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Accept the message."""
        self.count += 1
        found = LINK.search(envelope.content)
        if found:
            self.paths.append(found.group(1).decode())
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _floor(port: int, sink: _Sink) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for n in range(TARGETS):
            message = EmailMessage()
            message["From"], message["To"] = "rh@agence.ml", f"agent{n:05d}@mef.example.ml"
            message["Subject"] = "Versement de votre prime"
            message.set_content("Bonjour,\n\nConfirmez ici : http://bench/x\n")
            smtp.send_message(message)
    elapsed = time.perf_counter() - start
    assert sink.count == TARGETS
    return elapsed


def _lakana(port: int, sink: _Sink) -> dict[str, float]:
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from lakana.app import create_app
    from lakana.awareness.phishing import service
    from lakana.awareness.phishing.models import PhishingEvent
    from lakana.awareness.phishing.schemas import ExerciseCreate, TemplateCreate
    from lakana.core.audit.signing import create_key
    from lakana.core.auth.rbac import system_actor
    from lakana.core.config import Settings
    from lakana.core.db import make_engine, make_session_factory
    from lakana.core.jobs.worker import run_worker
    from lakana.models import metadata
    from lakana.registry import service as registry
    from lakana.registry.schemas import InstitutionCreate

    home = Path(tempfile.mkdtemp(prefix="lakana-bench-phishing-"))
    try:
        create_key(home / "keys" / "ledger-ed25519.pem")
        settings = Settings(home=home, secret_key=secrets.token_urlsafe(32),  # type: ignore[call-arg]
                            smtp_host="127.0.0.1", smtp_port=port, base_url="http://bench",
                            _env_file=None)
        app = create_app(settings)  # registers every domain (and the send task)
        engine = make_engine(settings)
        metadata.create_all(engine)
        factory = make_session_factory(engine)
        actor = system_actor("bench")
        rows = "".join(f"agent{n:05d}@mef.example.ml;Agent {n};Service {n % 12}\n"
                       for n in range(TARGETS))
        data = ("email;nom;service\n" + rows).encode()
        times: dict[str, float] = {}
        start = time.perf_counter()
        with factory.begin() as session:
            institution = registry.create_institution(session=session, actor=actor,
                                                      data=InstitutionCreate(
                name="Ministère de l'Économie", acronym="MEF", kind="ministry",
                region="bamako", sector="government", criticality_tier=2))
            template = service.create_template(session=session, actor=actor,
                                               data=TemplateCreate(
                name="Prime", subject="Versement de votre prime",
                body="Bonjour,\n\nConfirmez ici : {{lien}}\n"))
            exercise = service.create_exercise(session=session, actor=actor,
                                               data=ExerciseCreate(
                institution_id=institution.id, template_id=template.id, name="Prime"))
            service.import_targets(session=session, actor=actor, exercise_id=exercise.id,
                                   data=data)
        times["import"] = time.perf_counter() - start
        start = time.perf_counter()
        with factory.begin() as session:
            service.send_exercise(session=session, actor=actor, exercise_id=exercise.id)
        stats = run_worker(settings, once=True, session_factory=factory)
        times["send"] = time.perf_counter() - start
        assert stats.dead == 0 and sink.count == TARGETS, (stats, sink.count)
        start = time.perf_counter()
        with TestClient(app, base_url="http://bench") as client:
            for path in sink.paths:
                assert client.get(path.replace("/p/c/", "/p/o/")).status_code == 200
                assert client.get(path).status_code == 200
        with factory() as session:
            recorded = session.scalar(select(func.count()).select_from(PhishingEvent))
        times["track"] = time.perf_counter() - start
        assert recorded == 3 * TARGETS, recorded
        engine.dispose()
        return times
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    """Print the table: the floor, then Lakana's steps."""
    from aiosmtpd.controller import Controller

    port = _free_port()
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        floor = _floor(port, sink)
        sink.count, sink.paths = 0, []
        lakana = _lakana(port, sink)
    finally:
        controller.stop()
    print(f"{TARGETS:,} targets, one local aiosmtpd sink")
    print(f"{'step':44} {'seconds':>9} {'per second':>11}")
    print(f"{'floor: raw smtplib, plain messages':44} {floor:9.2f} {TARGETS / floor:11.0f}")
    print(f"{'lakana: import the target list (CSV)':44} {lakana['import']:9.2f} "
          f"{TARGETS / lakana['import']:11.0f}")
    print(f"{'lakana: send (jobs, signed links, events)':44} {lakana['send']:9.2f} "
          f"{TARGETS / lakana['send']:11.0f}")
    print(f"{'lakana: opens + clicks until all recorded':44} {lakana['track']:9.2f} "
          f"{2 * TARGETS / lakana['track']:11.0f}")
    print(f"sending costs {lakana['send'] / floor:.1f}x the raw floor")


if __name__ == "__main__":
    main()
