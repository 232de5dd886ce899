"""The only place exposure checks open connections: scope-guarded, deadline-bounded.

Every function calls the scan's :class:`ScopeGuard` before any packet leaves (the host, then
each resolved address), and every read has a hard deadline and a size cap, so a hostile
server (trickle, endless redirects, huge headers, garbage, silence) costs at most a few
timeouts and never hangs or crashes a scan. HTTP/1.1 is spoken with h11 over asyncio
streams; TLS verification is off by default because we inspect servers, we do not trust them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

import dns.asyncresolver
import dns.exception
import dns.nameserver
import h11

from lakana.monitoring.exposure.checks.base import CheckContext, OutOfScope


class NetError(Exception):
    """A network failure of the target, with a readable English message."""


class PortClosed(NetError):
    """The TCP connection was refused or got no answer (closed or filtered port)."""


@dataclass(frozen=True)
class HttpResponse:
    """One HTTP response (no redirect followed). Header names are lower-cased, repeats kept."""

    url: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool
    address: str
    elapsed: float

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        name = name.lower()
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True)
class Banner:
    """What a TCP port said: whether it accepted, its first bytes, the address used."""

    port: int
    open: bool
    banner: bytes
    address: str


#: Largest response head (status line and headers) accepted.
MAX_HEADER_BYTES = 64 * 1024
#: Longest wait for a banner from a port that accepted the connection.
BANNER_WAIT = 3.0
USER_AGENT = "Lakana-exposure/1.0 (+security scan of registered government endpoints)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def resolve(host: str, context: CheckContext, port: int = 443) -> list[str]:
    """The addresses of ``host`` (an IP literal resolves to itself), A then AAAA, through
    ``context.nameservers`` (empty: the system resolver). ``guard.allow(host, port)`` is
    called first; raises :class:`NetError` when nothing resolves."""
    context.guard.allow(host, port)
    name = _strip_brackets(host)
    if _is_ip(name):
        return [name]
    try:
        async with asyncio.timeout(context.timeout):
            if context.nameservers:
                addresses = await _resolve_dns(name, context)
            else:
                addresses = await _resolve_system(name, port)
    except TimeoutError as exc:
        raise NetError(f"{name}: name resolution timed out") from exc
    if not addresses:
        raise NetError(f"{name} does not resolve")
    return addresses


async def open_connection(
    host: str, port: int, context: CheckContext, *, tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    """Connect to ``host:port`` after the scope checks (host, then each resolved address);
    optional TLS with SNI ``server_hostname`` (default: ``host`` unless it is an IP).
    Returns the streams and the address used. Raises :class:`NetError` or ``OutOfScope``."""
    addresses = await resolve(host, context, port)
    allowed: list[str] = []
    refusal: OutOfScope | None = None
    for address in addresses:
        try:
            context.guard.allow_address(host, address, port)
        except OutOfScope as exc:
            refusal = exc
            continue
        allowed.append(address)
    if not allowed:
        assert refusal is not None
        raise refusal
    sni = server_hostname or _strip_brackets(host)
    error = NetError("no address to connect to")
    for address in allowed:
        try:
            async with asyncio.timeout(context.timeout):
                reader, writer = await asyncio.open_connection(
                    address, port, ssl=tls, server_hostname=sni if tls else None,
                    ssl_handshake_timeout=context.timeout if tls else None)
        except TimeoutError:
            # Without TLS only the TCP handshake can time out here: the port is filtered.
            error = (NetError if tls else PortClosed)(f"{address}:{port}: timed out")
        except ConnectionRefusedError:
            error = PortClosed(f"{address}:{port}: connection refused")
        except ssl.SSLError as exc:
            error = NetError(f"{address}:{port}: TLS handshake failed ({exc.reason or exc})")
        except OSError as exc:
            error = NetError(f"{address}:{port}: {exc.strerror or exc}")
        else:
            return reader, writer, address
    raise error


async def fetch(
    url: str, context: CheckContext, *, method: str = "GET",
    headers: Mapping[str, str] | None = None, verify_tls: bool = False,
) -> HttpResponse:
    """One HTTP/1.1 request to ``url``, no redirect followed, bounded in time and size
    (total deadline ``context.timeout * 3``, headers ≤ 64 KiB, body ≤ ``context.max_body``
    with ``truncated`` set). Raises :class:`NetError` or ``OutOfScope``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NetError(f"unsupported URL {url!r}")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise NetError(f"invalid port in {url!r}") from exc
    # The guard runs before the deadline starts so a refusal is never mistaken for a timeout.
    context.guard.allow(host, port)
    tls = client_tls_context(verify=verify_tls) if parts.scheme == "https" else None
    started = time.monotonic()
    try:
        async with asyncio.timeout(context.timeout * 3):
            reader, writer, address = await open_connection(host, port, context, tls=tls)
            try:
                request = _request(method, parts, host, port, headers)
                return await _exchange(reader, writer, request, url, address, started,
                                       context.max_body)
            finally:
                writer.transport.abort()
    except TimeoutError as exc:
        raise NetError(f"{url}: no complete response within the deadline") from exc
    except h11.ProtocolError as exc:
        raise NetError(f"{url}: invalid HTTP response ({exc})") from exc
    except ssl.SSLError as exc:
        raise NetError(f"{url}: TLS error ({exc.reason or exc})") from exc
    except (ConnectionError, OSError) as exc:
        raise NetError(f"{url}: connection failed ({exc})") from exc


async def fetch_chain(url: str, context: CheckContext, *, max_redirects: int = 10,
                      partial: bool = False) -> list[HttpResponse]:
    """Fetch ``url`` and follow its redirects; an out-of-scope hop is not contacted (the
    chain ends with the redirect to it), loops stop after ``max_redirects`` hops. A failing
    later hop raises :class:`NetError`, or with ``partial`` ends the chain before it."""
    chain = [await fetch(url, context)]
    while len(chain) <= max_redirects:
        following = redirect_target(chain[-1])
        if following is None:
            break
        parts = urlsplit(following)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            break
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            context.guard.allow(parts.hostname, port)
        except (OutOfScope, ValueError):
            break
        try:
            chain.append(await fetch(following, context))
        except NetError:
            if not partial:
                raise
            break
    return chain


def redirect_target(response: HttpResponse) -> str | None:
    """The absolute URL ``response`` redirects to, or None when it is not a redirect."""
    location = response.header("location")
    if response.status not in _REDIRECTS or not location:
        return None
    return urljoin(response.url, location.strip())


async def grab_banner(host: str, port: int, context: CheckContext, *, probe: bytes | None = None,
                      max_bytes: int = 1024) -> Banner:
    """TCP connect to ``host:port`` and read what the server says first (or after sending
    ``probe``) for a short bounded time. Refused/closed -> ``open=False``; accepted but
    silent -> ``open=True`` with an empty banner."""
    try:
        reader, writer, address = await open_connection(host, port, context)
    except NetError:
        return Banner(port=port, open=False, banner=b"", address="")
    data = bytearray()
    try:
        if probe:
            writer.write(probe)
            async with asyncio.timeout(context.timeout):
                await writer.drain()
        wait = min(context.timeout, BANNER_WAIT)
        while len(data) < max_bytes:
            # The first bytes may take a moment; once the server talks, a short pause ends it.
            chunk = await asyncio.wait_for(reader.read(max_bytes - len(data)),
                                           wait if not data else min(wait, 0.3))
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()
    return Banner(port=port, open=True, banner=bytes(data[:max_bytes]), address=address)


def client_tls_context(*, verify: bool = False) -> ssl.SSLContext:
    """A client TLS context; without ``verify`` it accepts any certificate and old protocols
    so weak servers can still be inspected."""
    if verify:
        return ssl.create_default_context()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    # Old protocols are deprecated for good reason; here they let us see a weak server at all.
    with contextlib.suppress(ssl.SSLError, ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tls.minimum_version = ssl.TLSVersion.TLSv1
        tls.set_ciphers("ALL:@SECLEVEL=0")
    tls.set_alpn_protocols(["http/1.1"])
    return tls


def _request(method: str, parts: SplitResult, host: str, port: int,
             extra: Mapping[str, str] | None) -> h11.Request:
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    default = 443 if parts.scheme == "https" else 80
    authority = f"[{host}]" if ":" in host else host
    if port != default:
        authority += f":{port}"
    headers = {"host": authority, "user-agent": USER_AGENT, "accept": "*/*",
               "connection": "close"}
    headers.update({key.lower(): value for key, value in (extra or {}).items()})
    return h11.Request(method=method, target=target, headers=list(headers.items()))


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: h11.Request, url: str, address: str, started: float,
                    max_body: int) -> HttpResponse:
    conn = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
    writer.write(conn.send(request) + (conn.send(h11.EndOfMessage()) or b""))
    await writer.drain()
    head: h11.Response | None = None
    body = bytearray()
    truncated = False
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_body:
                del body[max_body:]
                truncated = True
                break
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
        # InformationalResponse (1xx) events are skipped: the final response follows.
    if head is None:
        raise NetError(f"{url}: connection closed before a response")
    return HttpResponse(
        url=url, status=head.status_code, reason=head.reason.decode("latin-1"),
        headers=tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in head.headers),
        body=bytes(body), truncated=truncated, address=address,
        elapsed=time.monotonic() - started)


async def _resolve_dns(name: str, context: CheckContext) -> list[str]:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port)
                            for ip, port in context.nameservers]
    resolver.lifetime = context.timeout
    addresses: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(name, rdtype)
        except dns.exception.DNSException:
            continue
        addresses.extend(record.to_text() for record in answer)
    return addresses


async def _resolve_system(name: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    addresses: list[str] = []
    # A records first (IPv4 is what most government endpoints serve), then AAAA.
    for family in (socket.AF_INET, socket.AF_INET6):
        for info in infos:
            address = str(info[4][0])
            if info[0] == family and address not in addresses:
                addresses.append(address)
    return addresses


def _strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
