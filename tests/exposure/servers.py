"""Loopback servers for the exposure tests: a configurable HTTP(S) server, hostile raw-TCP
servers (trickle, huge headers, garbage, silence), fake Redis and SSH, and Debian's nginx.

Every server listens on 127.0.0.1 on a free port, runs in daemon threads (or, for nginx, a
child process this module starts and stops) and counts the connections it accepted.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lakana.monitoring.exposure.checks.base import CheckContext, Target, TargetKind
from lakana.monitoring.exposure.scope import AllowList

LOOPBACK = "127.0.0.1"
NGINX = "/usr/sbin/nginx"

STRONG_HEADERS: tuple[tuple[str, str], ...] = (
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def loopback_context(*hosts: str, ports: dict[str, int] | None = None,
                     timeout: float = 1.0) -> CheckContext:
    """A check context whose allow-list holds only ``hosts`` (private addresses allowed)."""
    targets = [Target(TargetKind.IP, host, host) for host in hosts or (LOOPBACK,)]
    return CheckContext(guard=AllowList.for_targets(targets, allow_private=True),
                        timeout=timeout, ports=ports or {})


def url_target(url: str) -> Target:
    """A URL target on the loopback address."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert parts.hostname is not None
    return Target(TargetKind.URL, url, parts.hostname, parts.port, parts.scheme,
                  parts.path or "/")


def free_port() -> int:
    """A TCP port free on the loopback address right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def self_signed(directory: Path, host: str = LOOPBACK) -> tuple[Path, Path]:
    """Write a self-signed certificate and key for ``host``; return their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Route:
    """A canned response."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    #: Whether to copy the request's Origin into Access-Control-Allow-Origin.
    reflect_origin: bool = False


class _BacklogHTTPServer(ThreadingHTTPServer):
    """socketserver's listen backlog is 5: concurrent probes (sslyze, the checks) would
    overflow it and see timeouts the real servers never cause."""

    request_queue_size = 128
    daemon_threads = True


@dataclass
class WebServer:
    """A threaded HTTP(S) server answering canned responses per path."""

    routes: dict[str, Route] = field(default_factory=dict)
    #: Answer for unknown paths (a 200 here makes a soft-404 server).
    default: Route = field(default_factory=lambda: Route(404, body=b"not found"))
    certificate: tuple[Path, Path] | None = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The server's base URL (no trailing slash)."""
        scheme = "https" if self.certificate else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    def __enter__(self) -> WebServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            route = Route()

            def version_string(self) -> str:
                """The route's Server header, else one without a version."""
                names = [v for n, v in self.route.headers if n.lower() == "server"]
                return names[0] if names else "TestServer"

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                server.requests.append((self.path, dict(self.headers.items())))
                self.route = route = server.routes.get(self.path, server.default)
                self.send_response(route.status)
                for name, value in route.headers:
                    if name.lower() != "server":
                        self.send_header(name, value)
                origin = self.headers.get("Origin")
                if route.reflect_origin and origin:
                    self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Keep the test output quiet."""

        httpd = _BacklogHTTPServer((LOOPBACK, 0), Handler)
        if self.certificate:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(*self.certificate)
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        self.port = int(httpd.server_address[1])
        self._server = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


class RawServer:
    """A TCP server that runs ``handler(conn, stop)`` for each connection it accepts."""

    def __init__(self, handler: Callable[[socket.socket, threading.Event], None]) -> None:
        self.handler = handler
        self.accepted = 0
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.port = int(self.sock.getsockname()[1])

    def __enter__(self) -> RawServer:
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn, suppress(OSError):
            self.handler(conn, self.stop)


def trickle(conn: socket.socket, stop: threading.Event) -> None:
    """An HTTP response sent one byte at a time, a byte every 0.1 s, forever."""
    payload = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
    for byte in payload:
        if stop.wait(0.1):
            return
        conn.sendall(bytes([byte]))


def huge_headers(conn: socket.socket, stop: threading.Event) -> None:
    """A response whose headers never end (1 MiB of them)."""
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for index in range(20_000):
        if stop.is_set():
            return
        conn.sendall(b"X-Filler-%d: %s\r\n" % (index, b"x" * 40))


def garbage(conn: socket.socket, stop: threading.Event) -> None:
    """Random-looking bytes whatever the client says (a broken TLS or HTTP port)."""
    conn.sendall(bytes(range(256)) * 8)
    stop.wait(2)


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept and never answer."""
    stop.wait(30)


def redirect_loop(conn: socket.socket, stop: threading.Event) -> None:
    """Answer every request with a redirect to a new path on the same server."""
    request = conn.recv(4096)
    path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + path + b"x\r\nContent-Length: 0\r\n"
                 b"Connection: close\r\n\r\n")


def fake_redis(*, password: bool = False) -> Callable[[socket.socket, threading.Event], None]:
    """A Redis-like server answering PING and INFO, with or without authentication."""
    info = b"# Server\r\nredis_version:7.0.11\r\nredis_mode:standalone\r\nos:Linux\r\n"

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(5)
        buffer = b""
        while not stop.is_set():
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\r\n" in buffer:
                line, buffer = buffer.split(b"\r\n", 1)
                command = line.split(b" ")[0].upper()
                if password:
                    conn.sendall(b"-NOAUTH Authentication required.\r\n")
                elif command == b"PING":
                    conn.sendall(b"+PONG\r\n")
                elif command == b"INFO":
                    conn.sendall(b"$%d\r\n%s\r\n" % (len(info), info))
                else:
                    conn.sendall(b"-ERR unknown command\r\n")

    return handler


def ssh_banner(conn: socket.socket, stop: threading.Event) -> None:
    """An SSH server's greeting, then silence."""
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n")
    stop.wait(5)


def nginx_available() -> bool:
    """Whether Debian's nginx binary is installed."""
    return Path(NGINX).exists() or shutil.which("nginx") is not None


@dataclass(frozen=True)
class Nginx:
    """A running nginx: its HTTPS port and the plain-HTTP port that redirects to it."""

    https_port: int
    http_port: int
    root: Path


@contextmanager
def nginx_site(directory: Path, *, strong: bool) -> Iterator[Nginx]:
    """Run nginx (foreground, as a child process) serving ``directory/www`` over HTTPS, with
    a plain-HTTP port. The weak site exposes ``.git/``, lists ``/files/`` and sends no security
    headers; the strong one denies dot-files, redirects HTTP and sends strong headers."""
    root = directory / "www"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".git" / "config").write_text("[core]\n\trepositoryformatversion = 0\n")
    (root / "files").mkdir()
    (root / "files" / "report-2023.pdf").write_bytes(b"%PDF-1.4 fake")
    (root / "index.html").write_text("<!doctype html><title>Ministry</title><p>Welcome</p>")
    cert, key = self_signed(directory)
    https_port, http_port = free_port(), free_port()
    headers = "".join(f'add_header {n} "{v}" always;\n' for n, v in STRONG_HEADERS)
    if strong:
        site = f"""server_tokens off; {headers}
        location ~ /\\. {{ deny all; }}"""
        plain = f"return 301 https://$host:{https_port}$request_uri;"
    else:
        site = "server_tokens on; location /files/ { autoindex on; }"
        plain = f"root {root};"
    temp = "".join(f"{kind}_temp_path {directory}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    config = directory / "nginx.conf"
    config.write_text(f"""
user root;
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 64; }}
http {{
  include /etc/nginx/mime.types;
  access_log off;
  {temp}
  server {{
    listen {LOOPBACK}:{https_port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    root {root};
    {site}
  }}
  server {{
    listen {LOOPBACK}:{http_port};
    server_tokens {"off" if strong else "on"};
    {plain}
  }}
}}
""")
    process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(https_port, process)
        _wait_listening(http_port, process)
        yield Nginx(https_port=https_port, http_port=http_port, root=root)
    finally:
        process.terminate()
        process.wait(10)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {process.stderr.read() if process.stderr else ''!r}")
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port}")
