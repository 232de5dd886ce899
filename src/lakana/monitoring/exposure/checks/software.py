"""Software versions seen in HTTP headers and service banners, matched offline against the
imported vulnerability feeds (CISA KEV, NVD).

Detections are normalised to the product names of ``feeds.PRODUCT_ALIASES`` (``nginx``,
``apache_httpd``, ``php``, ``iis``, ``openssh``, ``vsftpd``, ``proftpd``...). A version that
matches no feed row but belongs to an end-of-life branch is only reported as a fact.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

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
from lakana.monitoring.exposure.feeds import version_key

#: Header product tokens (lower-case) -> product name of the feeds.
_HEADER_PRODUCTS = {"nginx": "nginx", "apache": "apache_httpd", "php": "php",
                    "microsoft-iis": "iis", "openssl": "openssl", "lighttpd": "lighttpd",
                    "openresty": "openresty", "tomcat": "tomcat", "apache-coyote": "tomcat"}
_TOKEN = re.compile(r"([A-Za-z][\w.-]*?)/(\d[\w.\-]*)")
_BANNERS = (("ssh", re.compile(rb"^SSH-[\d.]+-OpenSSH_([\w.]+)"), "openssh"),
            ("ftp", re.compile(rb"^220[ -].*?vsFTPd (\d[\w.]*)", re.I), "vsftpd"),
            ("ftp", re.compile(rb"^220[ -].*?ProFTPD (\d[\w.]*)", re.I), "proftpd"))
_DEFAULT_PORTS = {"ssh": 22, "ftp": 21, "http": 80, "https": 443}
#: Branches past their end of life: product -> first supported version.
END_OF_LIFE = {"php": "8.1", "apache_httpd": "2.4", "iis": "10.0", "openssl": "3.0"}
#: CVSS base score from which a known (not exploited) vulnerability is high.
HIGH_CVSS = 9.0


class SoftwareCheck(Check):
    """Product versions from ``Server``/``X-Powered-By`` headers and SSH/FTP banners,
    looked up in the known-exploited and known-vulnerable feeds."""

    id: ClassVar[str] = "software"
    title: ClassVar[str] = N_("Vulnerable software versions")
    applies_to: ClassVar[frozenset[TargetKind]] = frozenset(
        {TargetKind.URL, TargetKind.DOMAIN, TargetKind.IP})
    issues = catalogue(
        Issue("software.kev",
              N_("%(product)s %(version)s has a known exploited vulnerability (%(cve)s)"),
              Severity.CRITICAL,
              N_("This version is listed in CISA's catalog of vulnerabilities exploited in "
                 "the wild: attackers are using it now."),
              N_("Update to a fixed version immediately, or isolate the service until it is "
                 "updated, and look for signs of compromise."),
              ("ast-6", "ast-7", "log-7")),
        Issue("software.cve",
              N_("%(product)s %(version)s has a known vulnerability (%(cve)s)"),
              Severity.MEDIUM,
              N_("The National Vulnerability Database lists this version as affected."),
              N_("Update to a version the vendor has fixed."),
              ("ast-6", "log-7")),
    )

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Collect versions from HTTP and banners, then look them up in the feeds."""
        detected: list[dict[str, str]] = []
        errors: list[str] = []
        try:
            detected += await _from_http(target, context)
        except (net.NetError, OutOfScope, TimeoutError) as exc:
            errors.append(f"http: {exc}")
        for service, pattern, product in _BANNERS:
            try:
                found = await _from_banner(target.host, service, pattern, product, context)
            except (net.NetError, OutOfScope, TimeoutError) as exc:
                errors.append(f"{service}: {exc}")
                continue
            if found:
                detected.append(found)
        detected = [dict(d) for d in {tuple(sorted(d.items())): d for d in detected}.values()]
        if not detected and errors and target.kind is TargetKind.URL:
            return CheckReport(self.id, error="; ".join(errors)[:300])
        return _report(detected, context)


def parse_header(value: str, source: str) -> list[dict[str, str]]:
    """The products with a version in a ``Server`` or ``X-Powered-By`` value."""
    found = []
    for name, version in _TOKEN.findall(value):
        product = _HEADER_PRODUCTS.get(name.lower())
        if product:
            found.append({"product": product, "version": version.rstrip(".-"),
                          "source": source})
    return found


def parse_banner(banner: bytes) -> dict[str, str] | None:
    """The product and version announced by an SSH or FTP banner."""
    for service, pattern, product in _BANNERS:
        match = pattern.search(banner)
        if match:
            return {"product": product, "version": match.group(1).decode("ascii", "replace"),
                    "source": f"{service} banner"}
    return None


async def _from_http(target: Target, context: CheckContext) -> list[dict[str, str]]:
    if target.kind is TargetKind.URL:
        urls = [target.value]
    else:
        host = f"[{target.host}]" if ":" in target.host else target.host
        urls = [f"https://{host}:{context.ports.get('https', 443)}/",
                f"http://{host}:{context.ports.get('http', 80)}/"]
    last: Exception | None = None
    for url in urls:
        try:
            response = await net.fetch(url, context)
        except net.NetError as exc:
            last = exc
            continue
        found: list[dict[str, str]] = []
        for header in ("server", "x-powered-by"):
            for value in response.header_all(header):
                found += parse_header(value, f"{header} header")
        return found
    raise last or net.NetError("no HTTP response")


async def _from_banner(host: str, service: str, pattern: re.Pattern[bytes], product: str,
                       context: CheckContext) -> dict[str, str] | None:
    port = context.ports.get(service, _DEFAULT_PORTS[service])
    banner = await net.grab_banner(host, port, context)
    if not banner.open or not pattern.search(banner.banner):
        return None
    found = parse_banner(banner.banner)
    return found if found and found["product"] == product else None


def _report(detected: list[dict[str, str]], context: CheckContext) -> CheckReport:
    observations: list[Observation] = []
    facts: dict[str, Any] = {"software": detected}
    obsolete = [f"{d['product']} {d['version']}" for d in detected
                if d["product"] in END_OF_LIFE
                and version_key(d["version"]) < version_key(END_OF_LIFE[d["product"]])]
    if obsolete:
        facts["end_of_life"] = obsolete
    if context.vulnerabilities is None:
        facts["feeds"] = "not loaded"
        return CheckReport("software", facts=facts)
    for item in detected:
        for hit in context.vulnerabilities.lookup(item["product"], item["version"]):
            observations.append(_observation(item, hit))
    return CheckReport("software", observations=tuple(observations), facts=facts)


def _observation(item: dict[str, str], hit: Any) -> Observation:
    cve = str(hit["cve_id"])
    score = hit.get("cvss_score")
    params = {"product": item["product"], "version": item["version"], "cve": cve}
    evidence = {"source": item["source"], "cve_id": cve, "cvss_score": score,
                "known_exploited": bool(hit.get("known_exploited")),
                "ransomware": bool(hit.get("ransomware")), "title": hit.get("title", "")}
    subject = f"{item['product']} {item['version']} {cve}"
    if hit.get("known_exploited"):
        return Observation("software.kev", subject=subject, evidence=evidence, params=params)
    severity = Severity.HIGH if score is not None and score >= HIGH_CVSS else Severity.MEDIUM
    return Observation("software.cve", subject=subject, evidence=evidence, params=params,
                       severity=severity)
