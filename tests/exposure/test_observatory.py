"""The HTTP Observatory scoring, as pure functions."""

from __future__ import annotations

import pytest

from lakana.monitoring.exposure.checks import observatory as obs

PERFECT = {
    "content-security-policy": "csp-implemented-with-no-unsafe-default-src-none",
    "cookies": "cookies-not-found",
    "cross-origin-resource-sharing": "cross-origin-resource-sharing-not-implemented",
    "redirection": "redirection-to-https",
    "referrer-policy": "referrer-policy-private",
    "strict-transport-security": "hsts-implemented-max-age-at-least-six-months",
    "x-content-type-options": "x-content-type-options-nosniff",
    "x-frame-options": "x-frame-options-implemented-via-csp",
}


def test_perfect_site_gets_bonuses_and_a_plus() -> None:
    # Given every test passed with bonuses, When scored, Then 100 + 10 + 5 + 5
    result = obs.score(PERFECT)
    assert (result.score, result.grade) == (120, "A+")
    assert result.as_facts()["modifiers"]["x-frame-options"]["modifier"] == 5  # type: ignore[index]


def test_bonuses_only_count_from_ninety() -> None:
    # Given bonuses but a missing X-Frame-Options (-20) and a missing XCTO (-5)
    results = {**PERFECT, "x-frame-options": "x-frame-options-not-implemented",
               "x-content-type-options": "x-content-type-options-not-implemented"}
    # When scored, Then the bonuses are not added (75, not 90)
    assert (obs.score(results).score, obs.score(results).grade) == (75, "B")


def test_score_never_goes_below_zero() -> None:
    results = {"content-security-policy": "csp-not-implemented",
               "cookies": "cookies-session-without-secure-flag",
               "cross-origin-resource-sharing":
                   "cross-origin-resource-sharing-implemented-with-universal-access",
               "redirection": "redirection-missing"}
    assert obs.score(results).score == 0 and obs.score(results).grade == "F"


@pytest.mark.parametrize(("total", "grade"), [
    (100, "A+"), (99, "A"), (90, "A"), (85, "A-"), (80, "B+"), (70, "B"), (65, "B-"),
    (60, "C+"), (50, "C"), (45, "C-"), (40, "D+"), (30, "D"), (25, "D-"), (24, "F"), (0, "F")])
def test_grade_bands(total: int, grade: str) -> None:
    assert obs.grade(total) == grade


@pytest.mark.parametrize(("header", "result"), [
    (None, "csp-not-implemented"),
    ("default-src 'none'", "csp-implemented-with-no-unsafe-default-src-none"),
    ("default-src 'self'", "csp-implemented-with-no-unsafe"),
    ("default-src 'self'; script-src 'self' 'unsafe-inline'",
     "csp-implemented-with-unsafe-inline"),
    ("script-src 'self' 'nonce-abc' 'unsafe-inline'; default-src 'self'",
     "csp-implemented-with-no-unsafe"),
    ("default-src 'self'; script-src 'self' 'unsafe-eval'", "csp-implemented-with-unsafe-eval"),
    ("default-src 'self'; script-src http://cdn.example", "csp-implemented-with-insecure-scheme"),
    ("default-src 'self'; img-src http://img.example",
     "csp-implemented-with-insecure-scheme-in-passive-content-only"),
    ("default-src 'self'; style-src 'unsafe-inline'",
     "csp-implemented-with-unsafe-inline-in-style-src-only"),
    ("frame-ancestors 'none'", "csp-implemented-with-unsafe-inline"),
    ("def@ult-src x", "csp-header-invalid"),
])
def test_csp(header: str | None, result: str) -> None:
    assert obs.csp_result(header) == result


@pytest.mark.parametrize(("header", "https", "result"), [
    ("max-age=31536000; includeSubDomains", True, "hsts-implemented-max-age-at-least-six-months"),
    ("max-age=3600", True, "hsts-implemented-max-age-less-than-six-months"),
    ("includeSubDomains", True, "hsts-header-invalid"),
    (None, True, "hsts-not-implemented"),
    (None, False, "hsts-not-implemented-no-https"),
])
def test_hsts(header: str | None, https: bool, result: str) -> None:
    assert obs.hsts_result(header, https=https) == result


def test_cookies_worst_flaw_wins() -> None:
    # Given a session cookie without any flag and a plain cookie without Secure
    cookies = [obs.parse_cookie("sessionid=abc; Path=/"), obs.parse_cookie("lang=fr")]
    # Then the worst result is the session cookie without Secure (-40), or -10 under HSTS
    assert obs.cookies_result(cookies, hsts=False) == "cookies-session-without-secure-flag"
    assert obs.cookies_result(cookies, hsts=True) == "cookies-session-without-httponly-flag"


def test_cookies_good() -> None:
    good = obs.parse_cookie("PHPSESSID=1; Secure; HttpOnly; SameSite=Lax")
    assert good.is_session and good.secure and good.httponly and good.samesite == "Lax"
    assert obs.cookies_result([good], hsts=True) == \
        "cookies-secure-with-httponly-sessions-and-samesite"
    assert obs.cookies_result([], hsts=False) == "cookies-not-found"
    assert obs.cookies_result([obs.parse_cookie("csrftoken=1; Secure")], hsts=False) == \
        "cookies-anticsrf-without-samesite-flag"


def test_cors_redirection_referrer_and_framing() -> None:
    probe = "https://probe.invalid"
    assert obs.cors_result(probe, "true", probe_origin=probe) == \
        "cross-origin-resource-sharing-implemented-with-universal-access"
    assert obs.cors_result("*", None, probe_origin=probe) == \
        "cross-origin-resource-sharing-implemented-with-public-access"
    assert obs.cors_result(None, None, probe_origin=probe) == \
        "cross-origin-resource-sharing-not-implemented"
    assert obs.redirection_result(None) == "redirection-not-needed-no-http"
    assert obs.redirection_result([("http://a/", 200)]) == "redirection-missing"
    assert obs.redirection_result([("http://a/", 301), ("https://a/", 200)]) == \
        "redirection-to-https"
    assert obs.redirection_result([("http://a/", 301), ("http://a/x", 301),
                                   ("https://a/x", 200)]) == \
        "redirection-not-to-https-on-initial-redirection"
    assert obs.redirection_result([("http://a/", 301), ("https://b/", 200)]) == \
        "redirection-off-host-from-http"
    assert obs.redirection_result([("http://a/", 301), ("http://b/", 200)]) == \
        "redirection-not-to-https"
    assert obs.referrer_result("no-referrer, strict-origin-when-cross-origin") == \
        "referrer-policy-private"
    assert obs.referrer_result("unsafe-url") == "referrer-policy-unsafe"
    assert obs.referrer_result("bogus") == "referrer-policy-header-invalid"
    assert obs.xfo_result("DENY", None) == "x-frame-options-sameorigin-or-deny"
    assert obs.xfo_result(None, "frame-ancestors 'self'") == "x-frame-options-implemented-via-csp"
    assert obs.xfo_result(None, None) == "x-frame-options-not-implemented"
    assert obs.xcto_result("nosniff") == "x-content-type-options-nosniff"
