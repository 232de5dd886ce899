"""A shipper that never finishes its request: answered 408 after the body deadline, in the
caller's language, and its institution's slot is freed (the institution's next batch is
accepted even with one slot)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from tests.detection import live_server
from tests.detection.live_server import INGEST, Live

live = live_server.live


def test_a_request_that_never_finishes_gets_408_and_frees_the_slot(
        live: Callable[..., Live]) -> None:
    # Given a server with one ingest slot per institution and a 1 s body deadline
    server = live(LAKANA_DETECTION_INGEST_CONCURRENCY="1", LAKANA_DETECTION_BODY_TIMEOUT="1")
    parts = urlsplit(server.url)
    # When a client announces 100 000 bytes and sends 20
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall((f"POST {INGEST} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                      f"Authorization: Bearer {server.token_a}\r\n"
                      "Content-Type: text/plain\r\nAccept-Language: fr\r\n"
                      "Content-Length: 100000\r\n\r\n").encode() + b"Dec 10 06:55:01 web")
        answer = b""
        while b"secondes" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    # Then it is answered 408 after about the deadline, with the reason in French
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert "n'est pas arrivé en 1 secondes".encode() in answer
    assert time.monotonic() - started < 15
    # And the institution's only slot is free again: its next batch is stored
    response = httpx.post(f"{server.url}{INGEST}", content=b"Dec 10 06:55:01 web01 CRON[1]: x",
                          headers={"Authorization": f"Bearer {server.token_a}",
                                   "Content-Type": "text/plain", "Accept-Language": "fr"},
                          timeout=30)
    assert response.status_code == 202, response.text
