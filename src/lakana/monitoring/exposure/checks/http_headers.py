"""HTTP security headers, redirect to HTTPS, cookies, CORS and version disclosure.

The check fetches the plain-HTTP form of the target (following its redirects) and the HTTPS
form, reads the security headers of the final HTTPS response, and scores the site with the
HTTP Observatory's modifiers (see ``observatory.py``). The score and grade go into the
report's facts; each weakness becomes an observation.
"""

from __future__ import annotations

import re
from typing import ClassVar

from lakana.core.i18n import N_
from lakana.monitoring.exposure import net
from lakana.monitoring.exposure.checks import observatory as obs
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

#: The Origin sent to see whether the site reflects any origin it is given.
PROBE_ORIGIN = "https://cors-probe.lakana.invalid"
_WEB = ("dat-2", "dev-7")
_VERSION = re.compile(r"\d+\.\d+")


def _issue(issue_id: str, title: str, severity: Severity, explanation: str, advice: str,
           requirements: tuple[str, ...] = _WEB) -> Issue:
    return Issue(issue_id, title, severity, explanation, advice, requirements)


class HttpHeadersCheck(Check):
    """HTTP security headers, HTTPS redirect, cookies, CORS, disclosure, Observatory grade."""

    id: ClassVar[str] = "http"
    title: ClassVar[str] = N_("HTTP security headers")
    applies_to: ClassVar[frozenset[TargetKind]] = frozenset(
        {TargetKind.URL, TargetKind.DOMAIN, TargetKind.IP})
    issues = catalogue(
        _issue("http.https.missing", N_("The site is not served over HTTPS"), Severity.HIGH,
               N_("Pages and forms travel unencrypted: anyone on the path can read or change "
                  "them."),
               N_("Serve the site over HTTPS with a valid certificate and redirect HTTP to it.")),
        _issue("http.redirect.missing", N_("HTTP does not redirect to HTTPS"), Severity.MEDIUM,
               N_("Visitors who type the address or follow an old link stay on unencrypted "
                  "HTTP."),
               N_("Answer every HTTP request with a permanent redirect (301) to the same "
                  "address over HTTPS on the same host.")),
        _issue("http.hsts.missing", N_("Strict-Transport-Security (HSTS) is missing"),
               Severity.MEDIUM,
               N_("Without HSTS a browser may still try HTTP first, which lets an attacker "
                  "downgrade the connection."),
               N_("Send Strict-Transport-Security: max-age=31536000; includeSubDomains on "
                  "HTTPS responses.")),
        _issue("http.hsts.short", N_("HSTS max-age is shorter than six months"), Severity.LOW,
               N_("A short max-age lets browsers forget the HTTPS requirement quickly."),
               N_("Set max-age to at least 15768000 seconds (six months), ideally one year.")),
        _issue("http.csp.missing", N_("Content-Security-Policy is missing"), Severity.MEDIUM,
               N_("Without a CSP, an injection flaw lets an attacker run scripts in the "
                  "visitors' browsers."),
               N_("Send a Content-Security-Policy that restricts scripts to your own origin, "
                  "starting with default-src 'self'.")),
        _issue("http.csp.unsafe", N_("Content-Security-Policy allows unsafe scripts"),
               Severity.LOW,
               N_("The policy allows inline scripts, eval or any source for scripts, which "
                  "removes most of its protection against script injection."),
               N_("Remove 'unsafe-inline' and 'unsafe-eval' from script-src; use nonces or "
                  "hashes for the inline scripts you need.")),
        _issue("http.xcto.missing", N_("X-Content-Type-Options: nosniff is missing"),
               Severity.LOW,
               N_("Browsers may guess the type of a response and run an upload as a script."),
               N_("Send X-Content-Type-Options: nosniff on every response.")),
        _issue("http.framing.missing", N_("The site can be framed by other sites"), Severity.LOW,
               N_("Neither CSP frame-ancestors nor X-Frame-Options is set: another site can "
                  "embed the pages and trick users into clicking (clickjacking)."),
               N_("Send Content-Security-Policy: frame-ancestors 'self' (or X-Frame-Options: "
                  "DENY).")),
        _issue("http.referrer.missing", N_("Referrer-Policy is missing or unsafe"), Severity.LOW,
               N_("Full addresses of the pages, with their parameters, may leak to other "
                  "sites through the Referer header."),
               N_("Send Referrer-Policy: strict-origin-when-cross-origin (or no-referrer).")),
        _issue("http.cookie.secure", N_("Cookie %(name)s is sent without the Secure flag"),
               Severity.MEDIUM,
               N_("The cookie may travel over unencrypted HTTP, where it can be stolen."),
               N_("Set the Secure flag on every cookie of an HTTPS site.")),
        _issue("http.cookie.httponly", N_("Session cookie %(name)s lacks the HttpOnly flag"),
               Severity.MEDIUM,
               N_("Scripts can read the session cookie, so a script injection steals the "
                  "session."),
               N_("Set the HttpOnly flag on session cookies.")),
        _issue("http.cookie.samesite", N_("Cookie %(name)s has no valid SameSite attribute"),
               Severity.LOW,
               N_("The cookie is sent with requests from other sites, which helps cross-site "
                  "request forgery."),
               N_("Set SameSite=Lax (or Strict) on cookies.")),
        _issue("http.cors.universal",
               N_("CORS lets any site read authenticated responses"), Severity.HIGH,
               N_("The server reflects any Origin in Access-Control-Allow-Origin and allows "
                  "credentials: any web site a user visits can read their data here."),
               N_("Allow only a fixed list of trusted origins, and credentials only for them.")),
        _issue("http.cors.permissive", N_("CORS configuration is permissive"), Severity.LOW,
               N_("The server reflects arbitrary origins or combines a wildcard origin with "
                  "credentials; a later change could expose user data to any site."),
               N_("Allow only a fixed list of trusted origins.")),
        _issue("http.disclosure.version", N_("The %(name)s header discloses a software version"),
               Severity.LOW,
               N_("Version numbers tell attackers which known vulnerabilities to try."),
               N_("Hide version numbers (for example server_tokens off in nginx, "
                  "ServerTokens Prod in Apache, expose_php Off in PHP)."), ("dev-7", "ast-6")),
    )

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Fetch the HTTP and HTTPS forms of ``target`` and judge their headers."""
        http_url, https_url = _urls(target, context)
        try:
            http_chain = await _chain(http_url, context)
            https_chain = await _chain(https_url, context)
            if not https_chain and http_chain and net.redirect_target(http_chain[-1]) is None \
                    and http_chain[-1].url.startswith("https:"):
                https_chain = [http_chain[-1]]
            final = https_chain[-1] if https_chain else (http_chain[-1] if http_chain else None)
            cors = await _cors(final, context)
        except OutOfScope as exc:
            return CheckReport(self.id, error=f"out of scope: {exc}")
        if final is None:
            if target.kind is TargetKind.URL:
                return CheckReport(self.id, error="no answer over HTTP or HTTPS")
            return CheckReport(self.id, facts={"web": False})
        return _judge(self.id, http_chain, https_chain, final, cors)


def _urls(target: Target, context: CheckContext) -> tuple[str, str]:
    host = f"[{target.host}]" if ":" in target.host else target.host
    http_port = context.ports.get("http", 80)
    https_port = context.ports.get("https", 443)
    path = target.path or "/"
    if target.kind is TargetKind.URL and target.port is not None:
        if target.scheme == "http":
            http_port = target.port
        else:
            https_port = target.port
    http = f"http://{host}" + ("" if http_port == 80 else f":{http_port}") + path
    https = f"https://{host}" + ("" if https_port == 443 else f":{https_port}") + path
    return http, https


async def _chain(url: str, context: CheckContext) -> list[net.HttpResponse]:
    """The redirect chain from ``url``; empty when the first hop does not answer, cut
    before the first later hop that fails."""
    try:
        return await net.fetch_chain(url, context, max_redirects=5, partial=True)
    except net.NetError:
        return []


async def _cors(final: net.HttpResponse | None, context: CheckContext) -> net.HttpResponse | None:
    if final is None:
        return None
    try:
        return await net.fetch(final.url, context, headers={"Origin": PROBE_ORIGIN})
    except net.NetError:
        return None


def _judge(check_id: str, http_chain: list[net.HttpResponse],
           https_chain: list[net.HttpResponse], final: net.HttpResponse,
           cors: net.HttpResponse | None) -> CheckReport:
    https = final.url.startswith("https:")
    hsts = final.header("strict-transport-security") if https else None
    csp = ", ".join(final.header_all("content-security-policy")) or None
    cookies = [obs.parse_cookie(value) for response in http_chain + https_chain
               for value in response.header_all("set-cookie")]
    results = {
        "content-security-policy": obs.csp_result(csp),
        "cookies": obs.cookies_result(cookies, hsts=hsts is not None),
        "cross-origin-resource-sharing": obs.cors_result(
            cors.header("access-control-allow-origin") if cors else None,
            cors.header("access-control-allow-credentials") if cors else None,
            probe_origin=PROBE_ORIGIN),
        "redirection": obs.redirection_result(_hops(http_chain)),
        "referrer-policy": obs.referrer_result(final.header("referrer-policy")),
        "strict-transport-security": obs.hsts_result(hsts, https=https),
        "x-content-type-options": obs.xcto_result(final.header("x-content-type-options")),
        "x-frame-options": obs.xfo_result(final.header("x-frame-options"), csp),
    }
    observations = [*_header_observations(results, final),
                    *_cookie_observations(cookies, https=https),
                    *_cors_observations(cors),
                    *_disclosure_observations(final)]
    if not https:
        observations.insert(0, Observation("http.https.missing", evidence={"url": final.url}))
    facts = obs.score(results).as_facts()
    facts.update({"url": final.url, "status": final.status, "address": final.address})
    return CheckReport(check_id, observations=tuple(observations), facts=facts)


def _hops(chain: list[net.HttpResponse]) -> list[tuple[str, int]] | None:
    """The chain's ``(url, status)`` hops, with the redirect it did not follow (status 0)."""
    if not chain:
        return None
    hops = [(response.url, response.status) for response in chain]
    following = net.redirect_target(chain[-1])
    if following is not None:
        hops.append((following, 0))
    return hops


def _header_observations(results: dict[str, str],
                         final: net.HttpResponse) -> list[Observation]:
    seen = {"url": final.url}
    found: list[Observation] = []
    redirection = results["redirection"]
    if redirection in ("redirection-missing", "redirection-not-to-https",
                       "redirection-not-to-https-on-initial-redirection"):
        found.append(Observation("http.redirect.missing", evidence={"result": redirection}))
    hsts = results["strict-transport-security"]
    if hsts in ("hsts-not-implemented", "hsts-header-invalid"):
        found.append(Observation("http.hsts.missing", evidence={
            **seen, "header": final.header("strict-transport-security") or ""}))
    elif hsts == "hsts-implemented-max-age-less-than-six-months":
        found.append(Observation("http.hsts.short", evidence={
            **seen, "header": final.header("strict-transport-security") or ""}))
    csp = results["content-security-policy"]
    if csp in ("csp-not-implemented", "csp-header-invalid"):
        found.append(Observation("http.csp.missing", evidence={**seen, "result": csp}))
    elif csp in ("csp-implemented-with-unsafe-inline", "csp-implemented-with-unsafe-eval",
                 "csp-implemented-with-insecure-scheme"):
        found.append(Observation("http.csp.unsafe", evidence={
            **seen, "result": csp, "header": final.header("content-security-policy") or ""}))
    if results["x-content-type-options"] != "x-content-type-options-nosniff":
        found.append(Observation("http.xcto.missing", evidence=seen))
    if results["x-frame-options"] in ("x-frame-options-not-implemented",
                                      "x-frame-options-header-invalid"):
        found.append(Observation("http.framing.missing", evidence=seen))
    if results["referrer-policy"] in ("referrer-policy-not-implemented",
                                      "referrer-policy-unsafe", "referrer-policy-header-invalid"):
        found.append(Observation("http.referrer.missing", evidence={
            **seen, "header": final.header("referrer-policy") or ""}))
    return found


def _cookie_observations(cookies: list[obs.Cookie], *, https: bool) -> list[Observation]:
    found: list[Observation] = []
    for cookie in {c.name: c for c in cookies}.values():
        params = {"name": cookie.name}
        evidence = {"cookie": cookie.name, "secure": cookie.secure,
                    "httponly": cookie.httponly, "samesite": cookie.samesite or ""}
        if https and not cookie.secure:
            severity = Severity.HIGH if cookie.is_session else None
            found.append(Observation("http.cookie.secure", cookie.name, evidence, params,
                                     severity))
        if cookie.is_session and not cookie.httponly:
            found.append(Observation("http.cookie.httponly", cookie.name, evidence, params))
        if (cookie.samesite or "").lower() not in ("strict", "lax", "none"):
            found.append(Observation("http.cookie.samesite", cookie.name, evidence, params))
    return found


def _cors_observations(cors: net.HttpResponse | None) -> list[Observation]:
    if cors is None:
        return []
    origin = (cors.header("access-control-allow-origin") or "").strip()
    credentials = (cors.header("access-control-allow-credentials") or "").lower() == "true"
    evidence = {"sent_origin": PROBE_ORIGIN, "allow_origin": origin,
                "allow_credentials": credentials}
    if origin == PROBE_ORIGIN and credentials:
        return [Observation("http.cors.universal", evidence=evidence)]
    if origin == PROBE_ORIGIN or (origin == "*" and credentials):
        return [Observation("http.cors.permissive", evidence=evidence)]
    return []


def _disclosure_observations(final: net.HttpResponse) -> list[Observation]:
    found: list[Observation] = []
    for name in ("server", "x-powered-by", "x-aspnet-version"):
        value = final.header(name)
        if value and _VERSION.search(value):
            label = "-".join(part.capitalize() for part in name.split("-"))
            found.append(Observation("http.disclosure.version", name,
                                     {"header": label, "value": value[:200]}, {"name": label}))
    return found
