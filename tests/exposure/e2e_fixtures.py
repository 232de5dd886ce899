"""Loopback servers of the end-to-end scan tests, each on its own 127.0.0.0/8 address.

The runner limits the checks run at once per host name (``PER_HOST_CHECKS``), so servers
that share 127.0.0.1 would queue behind each other and a slow hostile one would push the
others past their deadline. Each server here binds its own loopback address instead (Linux
routes the whole 127.0.0.0/8 to ``lo``), on a free port, so the standard ports the ``ports``
check tries on those addresses are closed unless a test opens one.

* :class:`Site` — an HTTP(S) server whose routes, site-wide headers, ``Server`` header and TLS
  context can be changed between scans (a weak site "fixed" in place).
* :class:`TcpServer` — runs one of the raw handlers of :mod:`tests.exposure.servers`
  (trickle, silence, garbage, redirect loop, fake Redis) and counts the connections.
* :func:`add_zone` — serves one more zone from :class:`tests.exposure.dns_server.DnsServer`.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dns.zone
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import system_actor
from lakana.registry import service as registry_service
from lakana.registry.schemas import SystemCreate
from tests.exposure.dns_server import DnsServer
from tests.exposure.servers import STRONG_HEADERS, Route

Handler = Callable[[socket.socket, threading.Event], None]

#: What a web server commonly discloses; the weak site sends it.
VERSIONED_SERVER = "nginx/1.18.0"
GIT_ROUTES = {
    "/.git/HEAD": Route(body=b"ref: refs/heads/main\n"),
    "/.git/config": Route(body=b"[core]\n\trepositoryformatversion = 0\n\tbare = false\n"),
}
HOME = Route(headers=(("Content-Type", "text/html"),),
             body=b"<!doctype html><title>Ministry</title><p>Welcome</p>")


@dataclass
class Site:
    """An HTTP(S) server on ``host`` (a loopback address) and a free port."""

    host: str
    #: None: plain HTTP. Read for every new connection, so it can be swapped between scans.
    tls: ssl.SSLContext | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    #: Headers sent on every response (the site's security headers).
    headers: tuple[tuple[str, str], ...] = ()
    server_header: str = "TestServer"
    paths: list[str] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The site's base URL with a trailing slash, as registered."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/"

    def make_weak(self, tls: ssl.SSLContext | None) -> None:
        """No security headers, a version in ``Server``, an exposed ``.git``."""
        self.tls, self.headers, self.server_header = tls, (), VERSIONED_SERVER
        self.routes = {"/": HOME, **GIT_ROUTES}

    def make_strong(self, tls: ssl.SSLContext | None) -> None:
        """Mozilla's recommended headers, no version, nothing exposed."""
        self.tls, self.headers, self.server_header = tls, STRONG_HEADERS, "TestServer"
        self.routes = {"/": HOME}

    def start(self) -> Site:
        """Listen and serve in daemon threads."""
        site = self

        class Handler(BaseHTTPRequestHandler):
            # A client that stops talking must not hold a thread for long.
            timeout = 5

            def setup(self) -> None:
                """Finish the TLS handshake in this connection's thread (not the accept loop,
                which a scanner's many handshakes would otherwise stall)."""
                if isinstance(self.request, ssl.SSLSocket):
                    self.request.settimeout(self.timeout)
                    self.request.do_handshake()
                super().setup()

            def version_string(self) -> str:
                """The site's ``Server`` header."""
                return site.server_header

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                site.paths.append(self.path)
                route = site.routes.get(self.path, Route(404, body=b"not found"))
                self.send_response(route.status)
                for name, value in (*site.headers, *route.headers):
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Keep the test output quiet."""

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # sslyze opens connections in bursts; socketserver's backlog of 5 drops some,
            # and a dropped SYN costs the scanner a one-second timeout.
            request_queue_size = 128

            def get_request(self) -> tuple[Any, Any]:
                conn, address = self.socket.accept()
                if site.tls is not None:
                    conn = site.tls.wrap_socket(conn, server_side=True,
                                                do_handshake_on_connect=False)
                return conn, address

            def handle_error(self, request: Any, client_address: Any) -> None:
                """Scanners send broken handshakes on purpose: not worth a traceback."""

        server = Server((self.host, 0), Handler)
        self.port = int(server.server_address[1])
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class TcpServer:
    """Runs ``handler(conn, stop)`` for each connection accepted on ``host:port``."""

    def __init__(self, host: str, handler: Handler, port: int = 0) -> None:
        self.host, self.handler = host, handler
        self.accepted = 0
        self.stop_event = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.port = int(self.sock.getsockname()[1])

    def url(self, scheme: str = "http") -> str:
        """``scheme://host:port/``."""
        return f"{scheme}://{self.host}:{self.port}/"

    def start(self) -> TcpServer:
        """Listen and accept in a daemon thread."""
        self.sock.listen(32)
        self.sock.settimeout(0.1)
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop accepting; running handlers see ``stop_event`` and return."""
        self.stop_event.set()
        self.sock.close()

    def _serve(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn, suppress(OSError):
            self.handler(conn, self.stop_event)


def redirect_to(location: str) -> Handler:
    """A handler answering every request with a redirect to ``location``."""

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(5)
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + location.encode() +
                     b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    return handler


def add_zone(server: DnsServer, origin: str, records: str) -> None:
    """Serve ``records`` (zone-file lines, SOA and NS added) as the zone ``origin``."""
    text = (f"@ 300 IN SOA ns.{origin} hostmaster.{origin} 1 3600 600 86400 300\n"
            f"@ 300 IN NS ns.{origin}\n{records}")
    zone = dns.zone.from_text(text, origin=origin)
    assert zone.origin is not None
    server.zones[zone.origin] = zone


def register_system(session_factory: sessionmaker[Session], institution_id: int, name: str,
                    endpoints: list[tuple[str, str]]) -> int:
    """A committed information system with ``(kind, value)`` endpoints, through the
    registry service; returns its id."""
    with session_factory.begin() as session:
        return registry_service.create_system(
            session=session, actor=system_actor("tests"), data=SystemCreate(
                institution_id=institution_id, name=name, criticality="high",
                data_classification="restricted", hosting="own_premises",
                endpoints=[{"kind": kind, "value": value} for kind, value in endpoints])).id

