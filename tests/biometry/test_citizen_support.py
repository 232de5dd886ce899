"""Shared helpers of the citizen and oversight tests: persons, services, an SMS stub."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import persons, runtime
from lakana.biometry.models import RelyingService, ServiceAccess
from lakana.biometry.schemas import Demographics
from lakana.core.config import Settings


@dataclass
class SmsStub:
    """A tiny HTTP server on 127.0.0.1 that records the JSON messages POSTed to it."""

    url: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
    #: Called as each message arrives, before the stub answers the gateway's POST.
    on_message: Callable[[], None] | None = None

    def last_code(self) -> str:
        import re

        found = re.search(r"\b(\d{6})\b", self.messages[-1]["text"])
        assert found
        return found.group(1)


def serve_sms_stub() -> Iterator[SmsStub]:
    stub = SmsStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("content-length", "0"))
            stub.messages.append(json.loads(self.rfile.read(length)))
            if stub.on_message is not None:
                stub.on_message()
            self.send_response(stub.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


def make_person(factory: sessionmaker[Session], settings: Settings, nin: str, *,
                phone: str | None = "+22370000001", status: str = "active",
                region: str = "Bamako") -> int:
    """A person created through persons.create_person, with the given status."""
    store = runtime.keystore(settings)
    with factory.begin() as session:
        person = persons.create_person(session=session, store=store, demographics=Demographics(
            nin=nin, surname="Traoré", given_names="Awa", sex="F",
            date_of_birth=dt.date(1990, 1, 1), place_of_birth="Bamako", region=region,
            phone=phone))
        person.status = status
        return person.id


def make_service(factory: sessionmaker[Session], code: str = "ceni",
                 name: str = "Commission électorale") -> int:
    with factory.begin() as session:
        service = RelyingService(code=code, name=name, legal_basis="Loi électorale",
                                 purposes="voter_verification")
        session.add(service)
        session.flush()
        return service.id


def add_access(factory: sessionmaker[Session], service_id: int, person_id: int | None, *,
               outcome: str = "match", purpose: str = "voter_verification", reason: str = "",
               count: int = 1) -> None:
    with factory.begin() as session:
        for _ in range(count):
            session.add(ServiceAccess(service_id=service_id, person_id=person_id,
                                      operation="verify", purpose=purpose, outcome=outcome,
                                      reason=reason))
