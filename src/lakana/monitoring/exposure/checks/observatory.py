"""The HTTP Observatory score and grade, computed from response headers (pure functions).

Each ``*_result`` function classifies one test the way Mozilla's HTTP Observatory names its
results; :func:`score` adds the published modifiers to 100 (bonuses count only when the score
before bonuses is at least 90) and maps the total to a grade. Tests the Observatory runs that
need a browser view of the page (subresource integrity, meta tags) are not scored here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

MODIFIERS: dict[str, int] = {
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "cookies-secure-with-httponly-sessions-and-samesite": 5,
    "cookies-secure-with-httponly-sessions": 0,
    "cookies-not-found": 0,
    "cookies-without-secure-flag-but-protected-by-hsts": -5,
    "cookies-session-without-secure-flag-but-protected-by-hsts": -10,
    "cookies-without-secure-flag": -20,
    "cookies-samesite-flag-invalid": -20,
    "cookies-anticsrf-without-samesite-flag": -20,
    "cookies-session-without-httponly-flag": -30,
    "cookies-session-without-secure-flag": -40,
    "cross-origin-resource-sharing-not-implemented": 0,
    "cross-origin-resource-sharing-implemented-with-public-access": 0,
    "cross-origin-resource-sharing-implemented-with-restricted-access": 0,
    "cross-origin-resource-sharing-implemented-with-universal-access": -50,
    "redirection-to-https": 0,
    "redirection-not-needed-no-http": 0,
    "redirection-off-host-from-http": -5,
    "redirection-not-to-https-on-initial-redirection": -10,
    "redirection-not-to-https": -20,
    "redirection-missing": -20,
    "referrer-policy-private": 5,
    "referrer-policy-no-referrer-when-downgrade": 0,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "hsts-not-implemented-no-https": -20,
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 0,
    "x-frame-options-allow-from-origin": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
}

#: Six months in seconds, the Observatory's HSTS threshold.
SIX_MONTHS = 15_768_000
_GRADES: tuple[tuple[int, str], ...] = (
    (100, "A+"), (90, "A"), (85, "A-"), (80, "B+"), (70, "B"), (65, "B-"), (60, "C+"),
    (50, "C"), (45, "C-"), (40, "D+"), (30, "D"), (25, "D-"), (0, "F"),
)
_PRIVATE_REFERRER = {"no-referrer", "same-origin", "strict-origin",
                     "strict-origin-when-cross-origin"}
_UNSAFE_REFERRER = {"origin", "origin-when-cross-origin", "unsafe-url"}
_ALL_REFERRER = _PRIVATE_REFERRER | _UNSAFE_REFERRER | {"no-referrer-when-downgrade"}
_PASSIVE = ("img-src", "media-src")
_DIRECTIVE = re.compile(r"^[a-z0-9-]+$")


@dataclass(frozen=True)
class Cookie:
    """A ``Set-Cookie`` header, parsed enough to judge its flags."""

    name: str
    secure: bool
    httponly: bool
    samesite: str | None

    @property
    def is_session(self) -> bool:
        """Whether the name looks like a session or login cookie (the Observatory's rule)."""
        lowered = self.name.lower()
        return "sess" in lowered or "login" in lowered

    @property
    def is_anticsrf(self) -> bool:
        """Whether the name looks like an anti-CSRF token."""
        return "csrf" in self.name.lower()


@dataclass(frozen=True)
class ObservatoryScore:
    """The total score, its grade and the per-test results with their modifiers."""

    score: int
    grade: str
    results: Mapping[str, str]

    def as_facts(self) -> dict[str, object]:
        """The JSON facts stored on the scan result."""
        return {"score": self.score, "grade": self.grade,
                "modifiers": {test: {"result": result, "modifier": MODIFIERS[result]}
                              for test, result in self.results.items()}}


def score(results: Mapping[str, str]) -> ObservatoryScore:
    """Score per-test ``results`` (test name -> result name) the Observatory's way."""
    modifiers = [MODIFIERS[result] for result in results.values()]
    total = 100 + sum(m for m in modifiers if m < 0)
    if total >= 90:
        total += sum(m for m in modifiers if m > 0)
    total = max(total, 0)
    return ObservatoryScore(score=total, grade=grade(total), results=dict(results))


def grade(total: int) -> str:
    """The letter grade of a score."""
    return next(letter for floor, letter in _GRADES if total >= floor)


def parse_csp(value: str) -> dict[str, list[str]] | None:
    """Directives of a CSP header (first occurrence of each wins); None when invalid."""
    policy: dict[str, list[str]] = {}
    for part in value.split(";"):
        tokens = part.strip().split()
        if not tokens:
            continue
        name = tokens[0].lower()
        if not _DIRECTIVE.match(name):
            return None
        policy.setdefault(name, [token.lower() for token in tokens[1:]])
    return policy or None


def csp_result(header: str | None) -> str:
    """The Observatory's content-security-policy result."""
    if header is None:
        return "csp-not-implemented"
    policy = parse_csp(header)
    if policy is None:
        return "csp-header-invalid"
    default = policy.get("default-src")
    script = policy.get("script-src", default)
    if script is None:
        # Neither script-src nor default-src: scripts are not restricted at all.
        return "csp-implemented-with-unsafe-inline"
    keyed = any(s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in script)
    if ("'unsafe-inline'" in script and not keyed) or any(
            s in ("*", "data:", "https:", "http:") for s in script):
        return "csp-implemented-with-unsafe-inline"
    if any(s.startswith("http:") for s in script):
        return "csp-implemented-with-insecure-scheme"
    if "'unsafe-eval'" in script:
        return "csp-implemented-with-unsafe-eval"
    passive = [s for name in _PASSIVE for s in policy.get(name, default or [])]
    if any(s.startswith("http:") for s in passive):
        return "csp-implemented-with-insecure-scheme-in-passive-content-only"
    style = policy.get("style-src", default or [])
    if "'unsafe-inline'" in style:
        return "csp-implemented-with-unsafe-inline-in-style-src-only"
    if default == ["'none'"]:
        return "csp-implemented-with-no-unsafe-default-src-none"
    return "csp-implemented-with-no-unsafe"


def hsts_max_age(header: str) -> int | None:
    """The max-age of an HSTS header, or None when it has no valid one."""
    match = re.search(r"(?:^|;)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:;|$)", header, re.IGNORECASE)
    return int(match.group(1)) if match else None


def hsts_result(header: str | None, *, https: bool) -> str:
    """The Observatory's strict-transport-security result."""
    if not https:
        return "hsts-not-implemented-no-https"
    if header is None:
        return "hsts-not-implemented"
    max_age = hsts_max_age(header)
    if max_age is None:
        return "hsts-header-invalid"
    if max_age < SIX_MONTHS:
        return "hsts-implemented-max-age-less-than-six-months"
    return "hsts-implemented-max-age-at-least-six-months"


def xcto_result(header: str | None) -> str:
    """The Observatory's x-content-type-options result."""
    if header is None:
        return "x-content-type-options-not-implemented"
    if header.strip().lower() == "nosniff":
        return "x-content-type-options-nosniff"
    return "x-content-type-options-header-invalid"


def xfo_result(header: str | None, csp: str | None) -> str:
    """The Observatory's x-frame-options result (CSP ``frame-ancestors`` counts first)."""
    policy = parse_csp(csp) if csp else None
    if policy is not None and "frame-ancestors" in policy:
        return "x-frame-options-implemented-via-csp"
    if header is None:
        return "x-frame-options-not-implemented"
    value = header.strip().lower()
    if value in ("deny", "sameorigin"):
        return "x-frame-options-sameorigin-or-deny"
    if value.startswith("allow-from "):
        return "x-frame-options-allow-from-origin"
    return "x-frame-options-header-invalid"


def referrer_result(header: str | None) -> str:
    """The Observatory's referrer-policy result (the last valid policy listed applies)."""
    if header is None:
        return "referrer-policy-not-implemented"
    valid = [p for p in (v.strip().lower() for v in header.split(",")) if p in _ALL_REFERRER]
    if not valid:
        return "referrer-policy-header-invalid"
    policy = valid[-1]
    if policy in _PRIVATE_REFERRER:
        return "referrer-policy-private"
    if policy in _UNSAFE_REFERRER:
        return "referrer-policy-unsafe"
    return "referrer-policy-no-referrer-when-downgrade"


def parse_cookie(header: str) -> Cookie:
    """Parse one ``Set-Cookie`` header value."""
    name, _, rest = header.partition(";")
    attributes: dict[str, str] = {}
    for attribute in rest.split(";"):
        key, _, value = attribute.strip().partition("=")
        attributes[key.strip().lower()] = value.strip()
    return Cookie(name=name.partition("=")[0].strip(), secure="secure" in attributes,
                  httponly="httponly" in attributes, samesite=attributes.get("samesite"))


def cookies_result(cookies: Sequence[Cookie], *, hsts: bool) -> str:
    """The Observatory's cookies result: the worst of the cookies' flaws."""
    if not cookies:
        return "cookies-not-found"
    found: list[str] = []
    for cookie in cookies:
        if not cookie.secure:
            found.append(_insecure_cookie(cookie, hsts=hsts))
        if cookie.is_session and not cookie.httponly:
            found.append("cookies-session-without-httponly-flag")
        if cookie.samesite is not None and cookie.samesite.lower() not in ("strict", "lax",
                                                                           "none"):
            found.append("cookies-samesite-flag-invalid")
        if cookie.is_anticsrf and cookie.samesite is None:
            found.append("cookies-anticsrf-without-samesite-flag")
    if found:
        return min(found, key=lambda result: MODIFIERS[result])
    if all(cookie.samesite is not None for cookie in cookies):
        return "cookies-secure-with-httponly-sessions-and-samesite"
    return "cookies-secure-with-httponly-sessions"


def cors_result(allow_origin: str | None, allow_credentials: str | None, *,
                probe_origin: str) -> str:
    """The Observatory's CORS result for a response to a request sent with ``probe_origin``."""
    if allow_origin is None:
        return "cross-origin-resource-sharing-not-implemented"
    credentials = (allow_credentials or "").strip().lower() == "true"
    if allow_origin.strip() == probe_origin and credentials:
        return "cross-origin-resource-sharing-implemented-with-universal-access"
    if allow_origin.strip() == "*":
        return "cross-origin-resource-sharing-implemented-with-public-access"
    return "cross-origin-resource-sharing-implemented-with-restricted-access"


def redirection_result(chain: Sequence[tuple[str, int]] | None) -> str:
    """The Observatory's redirection result for the ``(url, status)`` hops of the plain-HTTP
    request (None: nothing answers on HTTP)."""
    if not chain:
        return "redirection-not-needed-no-http"
    if len(chain) == 1:
        return "redirection-missing"
    first_host = urlsplit(chain[0][0]).hostname
    final = urlsplit(chain[-1][0])
    if final.scheme != "https":
        return "redirection-not-to-https"
    second = urlsplit(chain[1][0])
    if second.scheme != "https":
        return "redirection-not-to-https-on-initial-redirection"
    if second.hostname != first_host:
        return "redirection-off-host-from-http"
    return "redirection-to-https"


def _insecure_cookie(cookie: Cookie, *, hsts: bool) -> str:
    if cookie.is_session:
        return ("cookies-session-without-secure-flag-but-protected-by-hsts" if hsts
                else "cookies-session-without-secure-flag")
    return "cookies-without-secure-flag-but-protected-by-hsts" if hsts \
        else "cookies-without-secure-flag"
