"""The sensitive-paths check: confirmed by content, never by status alone (soft 404)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from lakana.monitoring.exposure.checks.base import CheckReport
from lakana.monitoring.exposure.checks.sensitive_paths import SensitivePathsCheck
from tests.exposure.servers import (
    LOOPBACK,
    RawServer,
    Route,
    WebServer,
    loopback_context,
    nginx_available,
    nginx_site,
    silent,
    url_target,
)

needs_nginx = pytest.mark.skipif(not nginx_available(),
                                 reason="Debian nginx (/usr/sbin/nginx) is not installed")
HOME = b"<!doctype html><html><title>Ministry</title><p>Welcome</p></html>"


def _found(report: CheckReport) -> set[tuple[str, str]]:
    return {(o.issue_id, o.subject) for o in report.observations}


def _run(server: WebServer) -> CheckReport:
    return asyncio.run(SensitivePathsCheck().run(url_target(server.url + "/"),
                                                 loopback_context()))


def test_exposed_files_are_confirmed_by_content() -> None:
    # Given a server exposing .git, .env, a dump, an archive, phpinfo, server-status, a listing
    routes = {
        "/": Route(200, body=HOME),
        "/.git/HEAD": Route(200, body=b"ref: refs/heads/main\n"),
        "/.env": Route(200, body=b"APP_KEY=base64:secret\nDB_PASSWORD=hunter2\n"),
        "/db.sql": Route(200, body=b"-- MySQL dump 10.13\nCREATE TABLE users (id int);\n"),
        "/backup.zip": Route(200, body=b"PK\x03\x04" + b"\x00" * 100),
        "/phpinfo.php": Route(200, body=b"<html><head><title>phpinfo()</title></head>"),
        "/server-status": Route(200, body=b"<h1>Apache Server Status for x</h1>"),
        "/uploads/": Route(200, body=b"<html><title>Index of /uploads/</title><h1>Index of"),
        "/adminer.php": Route(200, body=b"<title>Login - Adminer</title>"
                                        b"<input name='auth[username]'>"),
    }
    with WebServer(routes) as server:
        # When the check runs
        report = _run(server)
    # Then each exposure is reported, subject = the path
    assert report.error is None
    assert _found(report) == {
        ("paths.git", "/.git/HEAD"), ("paths.env", "/.env"), ("paths.backup", "/db.sql"),
        ("paths.backup", "/backup.zip"), ("paths.phpinfo", "/phpinfo.php"),
        ("paths.server_status", "/server-status"), ("paths.listing", "/uploads/"),
        ("paths.db_panel", "/adminer.php")}
    env = next(o for o in report.observations if o.issue_id == "paths.env")
    # And the .env evidence names the variables without copying their values
    assert env.evidence["variables"] == ["APP_KEY", "DB_PASSWORD"]
    assert "hunter2" not in repr(env.evidence)


def test_soft_404_server_produces_no_finding() -> None:
    # Given a server answering 200 with its home page for every path
    with WebServer(default=Route(200, body=HOME)) as server:
        report = _run(server)
    # Then nothing is reported, and the soft 404 is noted in the facts
    assert report.error is None and report.observations == ()
    assert report.facts["soft_404"] is True


def test_soft_404_with_matching_content_everywhere_is_ignored() -> None:
    # Given a server that answers a directory listing and a git ref for any path
    body = b"ref: refs/heads/main\n<title>Index of /</title>"
    with WebServer(default=Route(200, body=body)) as server:
        report = _run(server)
    # Then the listing matches the random path too, so it proves nothing
    assert report.observations == ()


def test_status_200_with_other_content_is_not_a_finding() -> None:
    # Given sensitive paths that answer 200 but with an HTML page (an app's catch-all)
    routes = {path: Route(200, body=HOME) for path in ("/.git/HEAD", "/.env", "/db.sql")}
    with WebServer(routes) as server:
        report = _run(server)
    assert report.observations == ()


def test_out_of_scope_target_is_refused_before_any_connection() -> None:
    with RawServer(silent) as server:
        report = asyncio.run(SensitivePathsCheck().run(
            url_target(f"http://{LOOPBACK}:{server.port}/"), loopback_context("127.0.0.2")))
        time.sleep(0.2)
        assert report.error and server.accepted == 0


@needs_nginx
def test_weak_nginx_exposes_git_and_lists_a_folder(tmp_path: Path) -> None:
    # Given Debian's nginx serving a .git folder and an autoindexed /files/
    with nginx_site(tmp_path, strong=False) as nginx:
        report = asyncio.run(SensitivePathsCheck().run(
            url_target(f"https://{LOOPBACK}:{nginx.https_port}/"), loopback_context()))
    # Then both git files and the listing are reported
    assert _found(report) == {("paths.git", "/.git/HEAD"), ("paths.git", "/.git/config"),
                              ("paths.listing", "/files/")}


@needs_nginx
def test_strong_nginx_has_no_exposed_path(tmp_path: Path) -> None:
    # Given nginx denying dot-files and without autoindex
    with nginx_site(tmp_path, strong=True) as nginx:
        report = asyncio.run(SensitivePathsCheck().run(
            url_target(f"https://{LOOPBACK}:{nginx.https_port}/"), loopback_context()))
    assert report.error is None and report.observations == ()
