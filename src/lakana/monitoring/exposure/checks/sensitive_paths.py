"""Sensitive files and pages left reachable: ``.git``, ``.env``, backups, phpinfo, panels.

A path counts only when its content proves it (``ref: refs/`` in ``.git/HEAD``, archive magic
bytes, ``Index of /``...), never on a status code alone, and only when a request for a random
path does not return the same thing: servers that answer 200 with one page for everything
(soft 404) produce no findings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
from collections.abc import Callable
from typing import ClassVar

from lakana.core.i18n import N_
from lakana.monitoring.exposure import net
from lakana.monitoring.exposure.checks.base import (
    Check,
    CheckContext,
    CheckReport,
    Issue,
    Observation,
    OutOfScope,
    Severity,
    Target,
    TargetKind,
    catalogue,
)

_ENV_LINE = re.compile(rb"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", re.MULTILINE)
_LISTING = re.compile(rb"<title>\s*Index of /|\[To Parent Directory\]|<h1>\s*Index of /",
                      re.IGNORECASE)
_SQL = (b"-- MySQL dump", b"-- PostgreSQL database dump", b"CREATE TABLE", b"INSERT INTO",
        b"-- MariaDB dump", b"-- phpMyAdmin SQL Dump")
#: Body bytes read per path: enough for every signature, small enough for big archives.
_BODY = 64 * 1024
#: Requests in flight at once on one host.
_PARALLEL = 4


def _git_head(body: bytes) -> bool:
    text = body.strip()
    return text.startswith(b"ref: refs/") or re.fullmatch(rb"[0-9a-f]{40}", text) is not None


def _git_config(body: bytes) -> bool:
    return b"[core]" in body and b"<html" not in body.lower()


def _env(body: bytes) -> bool:
    return b"<" not in body[:200] and len(_ENV_LINE.findall(body)) >= 2


def _archive(body: bytes) -> bool:
    return body.startswith((b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!"))


def _sql(body: bytes) -> bool:
    return b"<html" not in body[:500].lower() and any(marker in body for marker in _SQL)


def _php_source(body: bytes) -> bool:
    return body.lstrip().startswith(b"<?php")


def _phpinfo(body: bytes) -> bool:
    return b"<title>phpinfo()" in body or (b"PHP Version" in body and b"PHP License" in body)


def _server_status(body: bytes) -> bool:
    return b"Apache Server Status" in body


def _db_panel(body: bytes) -> bool:
    return (b"<title>phpMyAdmin" in body or b"pma_username" in body
            or (b"Adminer" in body and b"auth[username]" in body))


def _listing(body: bytes) -> bool:
    return _LISTING.search(body) is not None


#: (path, issue ID, content test). Kept short: each path is one request per target.
PATHS: tuple[tuple[str, str, Callable[[bytes], bool]], ...] = (
    ("/.git/HEAD", "paths.git", _git_head),
    ("/.git/config", "paths.git", _git_config),
    ("/.env", "paths.env", _env),
    ("/backup.zip", "paths.backup", _archive),
    ("/backup.tar.gz", "paths.backup", _archive),
    ("/site.tar.gz", "paths.backup", _archive),
    ("/www.zip", "paths.backup", _archive),
    ("/db.sql", "paths.backup", _sql),
    ("/dump.sql", "paths.backup", _sql),
    ("/backup.sql", "paths.backup", _sql),
    ("/index.php.bak", "paths.source", _php_source),
    ("/wp-config.php.bak", "paths.source", _php_source),
    ("/phpinfo.php", "paths.phpinfo", _phpinfo),
    ("/info.php", "paths.phpinfo", _phpinfo),
    ("/server-status", "paths.server_status", _server_status),
    ("/phpmyadmin/", "paths.db_panel", _db_panel),
    ("/adminer.php", "paths.db_panel", _db_panel),
    ("/", "paths.listing", _listing),
    ("/uploads/", "paths.listing", _listing),
    ("/backup/", "paths.listing", _listing),
    ("/files/", "paths.listing", _listing),
)
_EXPOSED = ("dev-7", "net-6")


class SensitivePathsCheck(Check):
    """Sensitive files, status pages, database panels and directory listings, by content."""

    id: ClassVar[str] = "paths"
    title: ClassVar[str] = N_("Sensitive files and pages")
    applies_to: ClassVar[frozenset[TargetKind]] = frozenset(
        {TargetKind.URL, TargetKind.DOMAIN, TargetKind.IP})
    issues = catalogue(
        Issue("paths.git", N_("Git repository exposed at %(path)s"), Severity.CRITICAL,
              N_("The site's version-control folder is downloadable: source code, history "
                 "and often passwords can be rebuilt from it."),
              N_("Remove the .git folder from the web root (deploy without it) and deny "
                 "access to dot-folders in the web server; change any secret it contained."),
              _EXPOSED),
        Issue("paths.env", N_("Environment file exposed at %(path)s"), Severity.CRITICAL,
              N_("The .env file usually holds database passwords and API keys; anyone can "
                 "read them."),
              N_("Move the file out of the web root, deny dot-files, and change every secret "
                 "it contained."), _EXPOSED),
        Issue("paths.backup", N_("Backup or database dump downloadable at %(path)s"),
              Severity.CRITICAL,
              N_("An archive or SQL dump of the site is public: its data and code can be "
                 "downloaded by anyone."),
              N_("Delete backups from the web root and store them outside the server, "
                 "encrypted."), (*_EXPOSED, "dat-2")),
        Issue("paths.source", N_("Source code backup readable at %(path)s"), Severity.HIGH,
              N_("A copy of a server script is served as text, revealing code and often "
                 "credentials."),
              N_("Delete editor and backup copies (.bak, ~) from the web root."), _EXPOSED),
        Issue("paths.phpinfo", N_("phpinfo() page exposed at %(path)s"), Severity.MEDIUM,
              N_("The page shows the server's configuration, paths and versions, which helps "
                 "an attacker."),
              N_("Delete the phpinfo page from the server."), _EXPOSED),
        Issue("paths.server_status", N_("Apache server-status exposed at %(path)s"),
              Severity.MEDIUM,
              N_("The status page lists visitors' addresses and the URLs being requested."),
              N_("Restrict server-status to local addresses (Require local) or disable "
                 "mod_status."), _EXPOSED),
        Issue("paths.db_panel", N_("Database administration panel reachable at %(path)s"),
              Severity.HIGH,
              N_("phpMyAdmin or Adminer is open to the internet, where its login is attacked "
                 "by password guessing and its known flaws."),
              N_("Remove the panel or restrict it to the administration network or VPN."),
              ("net-6", "iam-9")),
        Issue("paths.listing", N_("Directory listing enabled at %(path)s"), Severity.MEDIUM,
              N_("The server lists the files of a folder, revealing files that were not meant "
                 "to be linked."),
              N_("Disable automatic indexes (autoindex off in nginx, Options -Indexes in "
                 "Apache)."), _EXPOSED),
    )

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Request each sensitive path of ``target`` and confirm exposures by content."""
        bounded = dataclasses.replace(context, max_body=min(context.max_body, _BODY))
        try:
            base = await _base_url(target, bounded)
            if base is None:
                if target.kind is TargetKind.URL:
                    return CheckReport(self.id, error="no answer over HTTP or HTTPS")
                return CheckReport(self.id, facts={"web": False})
            baseline = await _get(f"{base}/lakana-{secrets.token_hex(8)}.txt", bounded)
            gate = asyncio.Semaphore(_PARALLEL)

            async def probe(path: str) -> net.HttpResponse | None:
                async with gate:
                    return await _get(base + path, bounded)

            responses = await asyncio.gather(*(probe(path) for path, _, _ in PATHS))
        except OutOfScope as exc:
            return CheckReport(self.id, error=f"out of scope: {exc}")
        observations = [
            _observation(path, issue_id, response)
            for (path, issue_id, confirm), response in zip(PATHS, responses, strict=True)
            if response is not None and _confirmed(confirm, response, baseline)
        ]
        return CheckReport(self.id, observations=tuple(observations),
                           facts={"base": base, "paths": len(PATHS),
                                  "soft_404": baseline is not None and baseline.status == 200})


async def _base_url(target: Target, context: CheckContext) -> str | None:
    """The site's origin: the URL's own, or the first of HTTPS and HTTP that answers."""
    host = f"[{target.host}]" if ":" in target.host else target.host
    if target.kind is TargetKind.URL and target.scheme and target.port:
        return f"{target.scheme}://{host}:{target.port}"
    for scheme, default in (("https", 443), ("http", 80)):
        base = f"{scheme}://{host}:{context.ports.get(scheme, default)}"
        if await _get(base + "/", context) is not None:
            return base
    return None


async def _get(url: str, context: CheckContext) -> net.HttpResponse | None:
    try:
        return await net.fetch(url, context)
    except net.NetError:
        return None


def _confirmed(confirm: Callable[[bytes], bool], response: net.HttpResponse,
               baseline: net.HttpResponse | None) -> bool:
    if response.status != 200 or not confirm(response.body):
        return False
    # A server that returns this same content for a random path proves nothing.
    return baseline is None or baseline.status != 200 or not confirm(baseline.body)


def _observation(path: str, issue_id: str, response: net.HttpResponse) -> Observation:
    evidence: dict[str, object] = {"url": response.url, "status": response.status,
                                   "content_type": response.header("content-type") or "",
                                   "address": response.address}
    if issue_id == "paths.env":
        # Never copy the secrets themselves into the finding: the variable names suffice.
        evidence["variables"] = [m.decode("ascii", "replace")
                                 for m in _ENV_LINE.findall(response.body)[:20]]
    elif issue_id == "paths.backup" and _archive(response.body):
        evidence["magic"] = response.body[:4].hex()
        evidence["bytes_read"] = len(response.body)
    elif path == "/.git/HEAD" or issue_id in ("paths.listing", "paths.db_panel"):
        # .git/config is left out: remote URLs in it may carry credentials.
        evidence["excerpt"] = response.body[:300].decode("utf-8", "replace")
    return Observation(issue_id, path, evidence, {"path": path})
