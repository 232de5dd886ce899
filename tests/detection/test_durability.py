"""Durability: an event is stored before it is acknowledged. A real server takes numbered
batches over HTTP from shippers that never stop, and is killed with SIGKILL in the middle;
every batch answered 202 is in the database, whole, and the database is consistent."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import httpx
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from lakana.monitoring.detection.models import DetectionEvent
from tests.detection import live_server
from tests.detection.live_server import INGEST, Live

live = live_server.live

LINES = 40
SHIPPERS = 3


def _batch(number: int) -> bytes:
    # Half the lines match a rule (alerts grouped on the source), half are kept raw.
    lines = []
    for i in range(LINES):
        marker = f"dur-{number:05d}-{i:03d}"
        if i % 2:
            lines.append(f"Dec 10 06:55:{i % 60:02d} web01 sshd[7]: Invalid user {marker} "
                         f"from 198.51.100.{number % 250 + 1}")
        else:
            lines.append(f"web01 app: {marker} something happened")
    return ("\n".join(lines) + "\n").encode()


def test_kill_9_loses_no_acknowledged_event(live: Callable[..., Live], engine: Engine,
                                            session_factory: sessionmaker[Session]) -> None:
    # Given a server and shippers sending numbered batches as fast as it takes them
    server = live(LAKANA_DETECTION_INGEST_CONCURRENCY=str(SHIPPERS + 1))
    acknowledged: set[int] = set()
    sent: set[int] = set()
    numbers = iter(range(1, 1_000_000))
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def ship() -> None:
        with httpx.Client(base_url=server.url, timeout=30, headers={
                "Authorization": f"Bearer {server.token_a}",
                "Content-Type": "text/plain"}) as client:
            while not stop.is_set():
                with lock:
                    number = next(numbers)
                    sent.add(number)
                try:
                    response = client.post(INGEST, content=_batch(number))
                except httpx.HTTPError:
                    return  # the server is gone: this batch was never acknowledged
                if response.status_code == 202:
                    if response.json()["stored"] != LINES:
                        errors.append(f"batch {number}: {response.text[:200]}")
                    with lock:
                        acknowledged.add(number)
                elif response.status_code != 429:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    shippers = [threading.Thread(target=ship, daemon=True) for _ in range(SHIPPERS)]
    for thread in shippers:
        thread.start()
    # When the server is killed (SIGKILL) while batches are in flight
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(acknowledged) < 30:
        time.sleep(0.05)
    time.sleep(0.13)  # not on a batch boundary
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    stop.set()
    for thread in shippers:
        thread.join(timeout=40)
    assert not errors, errors[:3]
    assert len(acknowledged) >= 30, server.output()
    # (some batches were on their way when the server died)
    assert sent - acknowledged
    # Then every acknowledged batch is stored whole, and no batch is stored in part
    with session_factory() as session:
        stored: dict[int, int] = {}
        for message in session.scalars(select(DetectionEvent.message).where(
                DetectionEvent.institution_id == server.a)):
            start = message.find("dur-")
            number = int(message[start + 4:start + 9])
            stored[number] = stored.get(number, 0) + 1
        missing = sorted(acknowledged - set(stored))
        assert not missing, f"acknowledged but lost: {missing[:10]}"
        assert all(stored[n] == LINES for n in stored), {
            n: c for n, c in stored.items() if c != LINES}
        assert set(stored) <= sent
        total = session.scalar(select(func.count()).select_from(DetectionEvent))
        assert total == LINES * len(stored)
    # And the database is consistent
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert conn.execute(text("PRAGMA foreign_key_check")).first() is None
        else:
            assert conn.execute(text("SELECT count(*) FROM detection_event")).scalar() == total
