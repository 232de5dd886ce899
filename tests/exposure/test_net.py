"""net.py against real loopback servers: scope first, bounded time and size, hostile servers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from lakana.monitoring.exposure import net
from lakana.monitoring.exposure.checks.base import OutOfScope
from tests.exposure.servers import (
    LOOPBACK,
    RawServer,
    Route,
    WebServer,
    free_port,
    garbage,
    huge_headers,
    loopback_context,
    redirect_loop,
    self_signed,
    silent,
    ssh_banner,
    trickle,
)


def test_fetch_reads_status_headers_and_body() -> None:
    # Given a server with one route
    routes = {"/a": Route(200, (("X-Test", "one"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")),
                          b"hello")}
    with WebServer(routes) as server:
        # When it is fetched
        response = asyncio.run(net.fetch(server.url + "/a", loopback_context()))
    # Then status, lower-cased headers (repeats kept) and body come back
    assert response.status == 200
    assert response.header("X-TEST") == "one"
    assert response.header_all("set-cookie") == ["a=1", "b=2"]
    assert response.body == b"hello" and not response.truncated
    assert response.address == LOOPBACK


def test_fetch_caps_the_body() -> None:
    # Given a large body and a small cap
    with WebServer({"/": Route(200, body=b"x" * 100_000)}) as server:
        context = loopback_context()
        context = type(context)(guard=context.guard, timeout=1.0, max_body=1000)
        # When fetched
        response = asyncio.run(net.fetch(server.url + "/", context))
    # Then the body is cut at the cap and marked truncated
    assert len(response.body) == 1000 and response.truncated


def test_fetch_https_without_verification(tmp_path: Path) -> None:
    # Given an HTTPS server with a self-signed certificate
    with WebServer({"/": Route(200, body=b"ok")}, certificate=self_signed(tmp_path)) as server:
        context = loopback_context()
        # When fetched without verification, it answers; with verification, it is refused
        assert asyncio.run(net.fetch(server.url + "/", context)).body == b"ok"
        with pytest.raises(net.NetError):
            asyncio.run(net.fetch(server.url + "/", context, verify_tls=True))


def test_out_of_scope_host_is_refused_before_any_connection() -> None:
    # Given a listening server on 127.0.0.1 and an allow-list that holds only 127.0.0.2
    with RawServer(silent) as server:
        context = loopback_context("127.0.0.2")
        url = f"http://{LOOPBACK}:{server.port}/"
        # When every helper is asked to contact it
        for attempt in (net.fetch(url, context), net.fetch_chain(url, context),
                        net.grab_banner(LOOPBACK, server.port, context),
                        net.open_connection(LOOPBACK, server.port, context)):
            with pytest.raises(OutOfScope):
                asyncio.run(attempt)
        time.sleep(0.2)
        # Then the server never saw a connection
        assert server.accepted == 0


def test_private_address_refused_unless_allowed() -> None:
    # Given the loopback host registered but private addresses not allowed
    from lakana.monitoring.exposure.checks.base import CheckContext, Target, TargetKind
    from lakana.monitoring.exposure.scope import AllowList

    guard = AllowList.for_targets([Target(TargetKind.IP, LOOPBACK, LOOPBACK)],
                                  allow_private=False)
    with RawServer(silent) as server:
        # When a banner is grabbed, Then it is refused and nothing connects
        with pytest.raises(OutOfScope):
            asyncio.run(net.grab_banner(LOOPBACK, server.port, CheckContext(guard=guard)))
        time.sleep(0.2)
        assert server.accepted == 0


@pytest.mark.parametrize("handler", [trickle, huge_headers, garbage, silent],
                         ids=["trickle", "huge-headers", "garbage", "silent"])
def test_hostile_http_servers_cannot_hang_a_fetch(handler: object) -> None:
    # Given a hostile server and a 0.5 s operation timeout
    with RawServer(handler) as server:  # type: ignore[arg-type]
        started = time.monotonic()
        # When fetched, Then it fails with a NetError within the total deadline
        with pytest.raises(net.NetError):
            asyncio.run(net.fetch(f"http://{LOOPBACK}:{server.port}/",
                                  loopback_context(timeout=0.5)))
    assert time.monotonic() - started < 3


def test_garbage_on_a_tls_port_is_a_net_error() -> None:
    # Given a port that sends garbage instead of a TLS handshake
    with RawServer(garbage) as server:
        started = time.monotonic()
        # When fetched over HTTPS, Then a NetError, quickly
        with pytest.raises(net.NetError):
            asyncio.run(net.fetch(f"https://{LOOPBACK}:{server.port}/",
                                  loopback_context(timeout=0.5)))
    assert time.monotonic() - started < 3


def test_endless_redirects_stop_at_the_cap() -> None:
    # Given a server that always redirects to a new path
    with RawServer(redirect_loop) as server:
        # When the chain is followed with a cap of 3
        chain = asyncio.run(net.fetch_chain(f"http://{LOOPBACK}:{server.port}/", loopback_context(),
                                            max_redirects=3))
    # Then the first request and 3 redirects are made, no more
    assert len(chain) == 4
    assert all(response.status == 302 for response in chain)


def test_redirect_to_an_out_of_scope_host_is_not_followed() -> None:
    # Given a server in scope redirecting to a server on 127.0.0.2 (out of scope)
    with RawServer(silent) as outside:
        location = f"http://127.0.0.2:{outside.port}/"
        with WebServer({"/": Route(302, (("Location", location),))}) as server:
            # When the chain is followed
            chain = asyncio.run(net.fetch_chain(server.url + "/", loopback_context()))
        time.sleep(0.2)
        # Then it ends with the redirect, and the outside server saw nothing
        assert [r.status for r in chain] == [302]
        assert net.redirect_target(chain[0]) == location
        assert outside.accepted == 0


def test_grab_banner_open_closed_and_silent() -> None:
    context = loopback_context(timeout=0.5)
    # Given an SSH-like server, a silent one and a closed port
    with RawServer(ssh_banner) as ssh, RawServer(silent) as quiet:
        # When banners are grabbed
        talk = asyncio.run(net.grab_banner(LOOPBACK, ssh.port, context))
        mute = asyncio.run(net.grab_banner(LOOPBACK, quiet.port, context))
    closed = asyncio.run(net.grab_banner(LOOPBACK, free_port(), context))
    # Then the banner is captured, silence is open-but-empty, and the closed port is closed
    assert talk.open and talk.banner.startswith(b"SSH-2.0-OpenSSH")
    assert mute.open and mute.banner == b""
    assert not closed.open


def test_closed_port_raises_port_closed() -> None:
    # Given nothing listening, When fetched, Then PortClosed (a NetError)
    with pytest.raises(net.PortClosed):
        asyncio.run(net.fetch(f"http://{LOOPBACK}:{free_port()}/", loopback_context()))


def test_resolve_ip_literal_and_system_name() -> None:
    # Given an allow-list with an IP and the name localhost
    context = loopback_context(LOOPBACK, "localhost")
    # When resolved, Then the literal is itself and localhost resolves to loopback
    assert asyncio.run(net.resolve(LOOPBACK, context)) == [LOOPBACK]
    assert LOOPBACK in asyncio.run(net.resolve("localhost", context))
    # And a name outside the allow-list is refused before any lookup
    with pytest.raises(OutOfScope):
        asyncio.run(net.resolve("example.org", context))
