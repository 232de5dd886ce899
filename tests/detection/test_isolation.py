"""Isolation: one institution's flood never stalls another's ingestion. A real server (one
process) is flooded by institution A with many parallel large batches; A is held to its
share (429 with ``Retry-After`` and a reason in the caller's language), while institution
B's small batches keep being acknowledged quickly."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.monitoring.detection.models import DetectionAlert, DetectionEvent
from tests.detection import live_server
from tests.detection.live_server import INGEST, Live

live = live_server.live

FLOODERS = 6
BIG = 2_000  # lines per flood batch
B_BATCHES = 15
#: Longest a small batch of B may wait while A floods (generous: shared CI machines).
B_BOUND = 8.0


def _big_batch(number: int) -> bytes:
    # A busy web server's access log: parsed and run through the rules, few matches.
    return "".join(f'203.0.113.{i % 250 + 1} - - [10/Dec/2025:06:55:{i % 60:02d} +0000] '
                   f'"GET /page/{number}/{i} HTTP/1.1" 200 5120 "-" "Mozilla/5.0"\n'
                   for i in range(BIG)).encode()


def test_flood_of_one_institution_does_not_stall_another(
        live: Callable[..., Live], session_factory: sessionmaker[Session]) -> None:
    # Given a server allowing 2 ingest requests in progress per institution
    server = live(LAKANA_DETECTION_INGEST_CONCURRENCY="2")
    stop = threading.Event()
    a_status: dict[int, int] = {}
    refusals: list[httpx.Response] = []
    lock = threading.Lock()
    payload = _big_batch(0)

    def flood(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120, headers={
                "Authorization": f"Bearer {server.token_a}", "Content-Type": "text/plain",
                "Accept-Language": "fr" if worker % 2 else "en"}) as client:
            while not stop.is_set():
                response = client.post(INGEST, content=payload)
                with lock:
                    a_status[response.status_code] = a_status.get(response.status_code, 0) + 1
                    if response.status_code == 429 and len(refusals) < 20:
                        refusals.append(response)
                if response.status_code == 429:
                    time.sleep(0.05)  # a shipper that retries far sooner than told to

    # When A floods with many parallel large batches
    flooders = [threading.Thread(target=flood, args=(w,), daemon=True)
                for w in range(FLOODERS)]
    for thread in flooders:
        thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and a_status.get(202, 0) < 1:
        time.sleep(0.05)
    # And B keeps sending small batches meanwhile
    b_times: list[float] = []
    b_status: list[int] = []
    with httpx.Client(base_url=server.url, timeout=60, headers={
            "Authorization": f"Bearer {server.token_b}",
            "Content-Type": "text/plain"}) as client:
        for number in range(B_BATCHES):
            lines = "".join(f"Dec 10 07:00:{i:02d} mail01 sshd[9]: Invalid user b{number}x{i} "
                            f"from 192.0.2.{i + 1}\n" for i in range(10))
            started = time.monotonic()
            response = client.post(INGEST, content=lines.encode())
            b_times.append(time.monotonic() - started)
            b_status.append(response.status_code)
            time.sleep(0.05)
    flood_busy = a_status.get(202, 0)
    stop.set()
    for thread in flooders:
        thread.join(timeout=120)
    # Then every batch of B was acknowledged, each within the bound
    assert b_status == [202] * B_BATCHES, (b_status, server.output())
    assert max(b_times) < B_BOUND, b_times
    # And A was held to its share: refused with 429, a Retry-After and a reason in the
    # caller's language, while some of its batches still went through
    assert a_status.get(429, 0) > 0 and flood_busy > 0, a_status
    assert set(a_status) <= {202, 429}, a_status
    for response in refusals:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["retry-after"]) >= 1
    details = {r.json()["detail"] for r in refusals}
    assert any("Trop de lots de journaux" in d for d in details), details
    assert any("Too many log batches" in d for d in details), details
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DetectionEvent).where(
            DetectionEvent.institution_id == server.b)) == 10 * B_BATCHES
    print(f"\nB latency: median {statistics.median(b_times):.3f}s, max {max(b_times):.3f}s; "
          f"A: {a_status}")


def test_parallel_batches_adding_to_one_alert_are_all_acknowledged(
        live: Callable[..., Live], session_factory: sessionmaker[Session]) -> None:
    # Given shippers of one institution sending, at once, batches that all add to the same
    # alert (on PostgreSQL they race on the alert's version)
    server = live(LAKANA_DETECTION_INGEST_CONCURRENCY="6")
    body = "".join(f"Dec 10 06:55:0{i} web01 sshd[1]: Invalid user u{i} from 203.0.113.9\n"
                   for i in range(5)).encode()
    codes: list[int] = []

    def ship() -> None:
        with httpx.Client(base_url=server.url, timeout=60, headers={
                "Authorization": f"Bearer {server.token_a}",
                "Content-Type": "text/plain"}) as client:
            for _ in range(10):
                codes.append(client.post(INGEST, content=body).status_code)

    shippers = [threading.Thread(target=ship) for _ in range(6)]
    for thread in shippers:
        thread.start()
    for thread in shippers:
        thread.join(timeout=120)
    # Then every batch is acknowledged and each event counted once on the alert (two
    # batches starting together on PostgreSQL may each open it: counts still add up)
    assert codes == [202] * 60, (sorted(set(codes)), server.output())
    with session_factory() as session:
        counts = list(session.scalars(select(DetectionAlert.event_count).where(
            DetectionAlert.institution_id == server.a,
            DetectionAlert.rule_id == "aa7eeeea-cfbd-54ef-bd13-57d70607ba4b")))
        assert sum(counts) == 5 * 60, counts
