"""The HTTP headers check against real loopback servers (Python's and Debian's nginx)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from lakana.monitoring.exposure.checks.base import CheckReport, Target, TargetKind
from lakana.monitoring.exposure.checks.http_headers import HttpHeadersCheck
from tests.exposure.servers import (
    LOOPBACK,
    STRONG_HEADERS,
    RawServer,
    Route,
    WebServer,
    free_port,
    loopback_context,
    nginx_available,
    nginx_site,
    self_signed,
    silent,
    url_target,
)

needs_nginx = pytest.mark.skipif(not nginx_available(),
                                 reason="Debian nginx (/usr/sbin/nginx) is not installed")


def _ids(report: CheckReport) -> set[str]:
    return {o.issue_id for o in report.observations}


def test_weak_http_site_reports_every_weakness() -> None:
    # Given a plain-HTTP site with no security header, a bare session cookie, a version in
    # Server, and CORS reflecting any origin with credentials
    weak = Route(200, (("Server", "Apache/2.4.57 (Debian)"), ("X-Powered-By", "PHP/8.1.2"),
                       ("Set-Cookie", "sessionid=abc; Path=/"),
                       ("Access-Control-Allow-Credentials", "true")), b"<p>hi</p>",
                 reflect_origin=True)
    with WebServer({"/": weak}) as server:
        context = loopback_context(ports={"https": free_port()})
        # When the check runs on its URL
        report = asyncio.run(HttpHeadersCheck().run(url_target(server.url + "/"), context))
    # Then each weakness is reported and the grade is F
    assert report.error is None
    assert {"http.https.missing", "http.redirect.missing", "http.csp.missing",
            "http.xcto.missing", "http.framing.missing", "http.referrer.missing",
            "http.cookie.httponly", "http.cookie.samesite", "http.cors.universal",
            "http.disclosure.version"} <= _ids(report)
    disclosed = {o.subject for o in report.observations if o.issue_id == "http.disclosure.version"}
    assert disclosed == {"server", "x-powered-by"}
    assert report.facts["grade"] == "F"
    assert report.facts["modifiers"]["redirection"]["result"] == "redirection-missing"


def test_strong_https_site_with_redirect_has_no_finding(tmp_path: Path) -> None:
    # Given an HTTPS site with strong headers and an HTTP port redirecting to it
    good = Route(200, (*STRONG_HEADERS, ("Server", "nginx"),
                       ("Set-Cookie", "sessionid=1; Secure; HttpOnly; SameSite=Strict")), b"ok")
    with WebServer({"/": good}, certificate=self_signed(tmp_path)) as site:
        redirect = Route(301, (("Location", site.url + "/"),))
        with WebServer({"/": redirect}) as plain:
            context = loopback_context(ports={"http": plain.port})
            # When the check runs on the HTTPS URL
            report = asyncio.run(HttpHeadersCheck().run(url_target(site.url + "/"), context))
    # Then nothing is reported and the grade is A+
    assert report.error is None
    assert report.observations == ()
    assert report.facts["grade"] == "A+" and report.facts["score"] == 125


def test_short_hsts_and_unsafe_csp_are_reported(tmp_path: Path) -> None:
    # Given HTTPS with a one-hour HSTS and a CSP allowing inline scripts
    route = Route(200, (("Strict-Transport-Security", "max-age=3600"),
                        ("Content-Security-Policy", "default-src 'self' 'unsafe-inline'"),
                        ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY")))
    with WebServer({"/": route}, certificate=self_signed(tmp_path)) as site:
        context = loopback_context(ports={"http": free_port()})
        report = asyncio.run(HttpHeadersCheck().run(url_target(site.url + "/"), context))
    # Then HSTS is short and CSP unsafe; no HTTP listener means no redirect finding
    assert {"http.hsts.short", "http.csp.unsafe"} <= _ids(report)
    assert "http.redirect.missing" not in _ids(report)


def test_unreachable_url_is_an_error_not_a_finding() -> None:
    # Given nothing listening on either port
    context = loopback_context(ports={"http": free_port()})
    report = asyncio.run(HttpHeadersCheck().run(
        url_target(f"https://{LOOPBACK}:{free_port()}/"), context))
    # Then the check reports an error and no observation
    assert report.error and report.observations == ()


def test_domain_without_web_server_is_quiet() -> None:
    context = loopback_context("localhost", ports={"http": free_port(), "https": free_port()})
    report = asyncio.run(HttpHeadersCheck().run(
        Target(TargetKind.DOMAIN, "localhost", "localhost"), context))
    assert report.error is None and report.facts == {"web": False}


def test_out_of_scope_target_is_refused_before_any_connection() -> None:
    # Given a server on 127.0.0.1 and an allow-list that holds only 127.0.0.2
    with RawServer(silent) as server:
        context = loopback_context("127.0.0.2", ports={"http": server.port})
        report = asyncio.run(HttpHeadersCheck().run(
            url_target(f"https://{LOOPBACK}:{server.port}/"), context))
        time.sleep(0.2)
        # Then the check refuses and the server saw nothing
        assert report.error and "out of scope" in report.error
        assert server.accepted == 0


@needs_nginx
def test_weak_nginx_discloses_its_version_and_lacks_headers(tmp_path: Path) -> None:
    # Given Debian's nginx with server_tokens on and no security header
    with nginx_site(tmp_path, strong=False) as nginx:
        context = loopback_context(ports={"http": nginx.http_port})
        report = asyncio.run(HttpHeadersCheck().run(
            url_target(f"https://{LOOPBACK}:{nginx.https_port}/"), context))
    # Then the version disclosure, missing redirect and missing headers are reported
    assert {"http.disclosure.version", "http.redirect.missing", "http.hsts.missing",
            "http.csp.missing", "http.xcto.missing", "http.framing.missing"} <= _ids(report)
    assert report.facts["grade"] in ("D-", "F")


@needs_nginx
def test_strong_nginx_gets_a_plus(tmp_path: Path) -> None:
    # Given Debian's nginx with strong headers and an HTTP->HTTPS redirect
    with nginx_site(tmp_path, strong=True) as nginx:
        context = loopback_context(ports={"http": nginx.http_port})
        report = asyncio.run(HttpHeadersCheck().run(
            url_target(f"https://{LOOPBACK}:{nginx.https_port}/"), context))
    # Then no finding, A+
    assert report.observations == ()
    assert report.facts["grade"] == "A+"
