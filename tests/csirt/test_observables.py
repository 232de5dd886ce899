"""Indicators without a database: recognition, validation, normalization, defanging and
pastes of many."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakana.core.errors import Invalid, TooLarge
from lakana.core.i18n import gettext, use_language
from lakana.csirt.observables import defang, parse, parse_many, refang


@pytest.mark.parametrize(("kind", "raw", "expected_kind", "value"), [
    # IPv4 / IPv6
    (None, "10.0.0.1", "ipv4", "10.0.0.1"),
    (None, " 10.0.0[.]1 ", "ipv4", "10.0.0.1"),
    (None, "192(.)168{.}1[dot]7", "ipv4", "192.168.1.7"),
    ("ipv4", "0.0.0.0", "ipv4", "0.0.0.0"),
    (None, "2001:DB8:0:0::1", "ipv6", "2001:db8::1"),
    (None, "2001:db8[:]:1", "ipv6", "2001:db8::1"),
    (None, "[2001:db8::1]", "ipv6", "2001:db8::1"),
    (None, "::ffff:10.0.0.1", "ipv4", "10.0.0.1"),
    ("ipv6", "::ffff:10.0.0.1", "ipv4", "10.0.0.1"),
    # networks
    (None, "10.1.2.3/8", "cidr", "10.0.0.0/8"),
    ("cidr", "192.168.1[.]77/24", "cidr", "192.168.1.0/24"),
    (None, "2001:db8::1/32", "cidr", "2001:db8::/32"),
    # domains
    (None, "Example.ML", "domain", "example.ml"),
    (None, "www.example.ml.", "domain", "www.example.ml"),
    (None, "evil[.]example[.]ml", "domain", "evil.example.ml"),
    (None, "ministère.gouv.ml", "domain", "xn--ministre-60a.gouv.ml"),
    (None, "MINISTÈRE.gouv.ml", "domain", "xn--ministre-60a.gouv.ml"),
    (None, "xn--ministre-60a.gouv.ml", "domain", "xn--ministre-60a.gouv.ml"),
    (None, "_dmarc.example.ml", "domain", "_dmarc.example.ml"),
    # URLs
    (None, "hxxps://Example[.]ML:443/Path?q=1#frag", "url", "https://example.ml/Path?q=1"),
    (None, "hXXp[://]evil[.]ml", "url", "http://evil.ml/"),
    (None, "http://evil.ml:8080/a", "url", "http://evil.ml:8080/a"),
    (None, "fxp://files.example.ml:21/x", "url", "ftp://files.example.ml/x"),
    (None, "http://10.0.0[.]1/x", "url", "http://10.0.0.1/x"),
    (None, "http://[2001:DB8::1]:80/", "url", "http://[2001:db8::1]/"),
    (None, "https://ministère.gouv.ml/é", "url", "https://xn--ministre-60a.gouv.ml/%C3%A9"),
    (None, "http://bank.ml@evil.ml/", "url", "http://bank.ml@evil.ml/"),
    # e-mail
    (None, "User[@]Example[.]ML", "email", "User@example.ml"),
    (None, "agent@ministère.gouv.ml", "email", "agent@xn--ministre-60a.gouv.ml"),
    ("email", "a.b+tag(@)example(.)ml", "email", "a.b+tag@example.ml"),
    # hashes
    (None, "D41D8CD98F00B204E9800998ECF8427E", "md5", "d41d8cd98f00b204e9800998ecf8427e"),
    (None, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "sha1",
     "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    (None, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "sha256",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (None, "A" * 128, "sha512", "a" * 128),
    # CVE
    (None, "cve-2021-44228", "cve", "CVE-2021-44228"),
    ("CVE", "CVE-2024-123456", "cve", "CVE-2024-123456"),
])
def test_valid_indicators_are_normalized(kind: str | None, raw: str, expected_kind: str,
                                         value: str) -> None:
    # When an indicator is parsed (kind given or recognised)
    parsed = parse(kind, raw)
    # Then it has its kind and its one normalized value, and displays defanged
    assert (parsed.kind, parsed.value) == (expected_kind, value)
    assert parsed.display == defang(expected_kind, value)


@pytest.mark.parametrize(("kind", "raw", "reason"), [
    (None, "999.1.1.1", "IPv4"),
    (None, "1.2.3", "IPv4"),
    (None, "010.1.1.1", "leading zero"),
    ("ipv4", "10.0.0.01", "leading zero"),
    ("ipv4", "2001:db8::1", "IPv4"),
    ("ipv6", "10.0.0.1", "IPv6"),
    (None, "fe80::1%eth0", "zone"),
    (None, "2001:db8::g", "IPv6"),
    (None, "10.0.0.0/33", "network"),
    (None, "010.0.0.0/8", "leading zero"),
    (None, "http://exa mple.com", "spaces"),
    (None, "http:// example.com", "spaces"),
    (None, "javascript://alert(1)", "http, https and ftp"),
    ("url", "example.ml/login", "starts with"),
    (None, "http:///path", "no host"),
    (None, "http://evil.ml:99999/", "port"),
    (None, "exa mple.ml", "spaces"),
    (None, "example", "two labels"),
    (None, "a..b.ml", "empty label"),
    (None, "-bad.example.ml", "hyphen"),
    (None, "___.example.ml", "hyphen"),
    (None, ("a" * 64) + ".ml", "63"),
    (None, ".".join(["a" * 60] * 5) + ".ml", "253"),
    (None, "example.123", "top-level"),
    (None, "example.c0m", "top-level"),
    (None, "xn--zz.ml", "punycode"),
    (None, "user@", "e-mail"),
    ("email", "no-at-sign.ml", "@"),
    ("md5", "abc", "32"),
    ("sha1", "d41d8cd98f00b204e9800998ecf8427e", "40"),
    ("sha256", "z" * 64, "hexadecimal"),
    (None, "CVE-21-1234", "CVE-YYYY"),
    (None, "CVE-1990-1234", "CVE-YYYY"),
    ("cve", "CVE-2021-123", "CVE-YYYY"),
    ("hostname", "example.ml", "Unknown indicator kind"),
    (None, "   ", "empty"),
    (None, "x" * 2049, "too long"),
    (None, "10.0.0.1\n10.0.0.2", "line breaks"),
])
def test_invalid_indicators_are_refused_with_value_and_reason(kind: str | None, raw: str,
                                                              reason: str) -> None:
    # When an invalid indicator is parsed / Then Invalid names the reason
    with pytest.raises(Invalid) as caught:
        parse(kind, raw)
    with use_language("en"):
        text = gettext(caught.value.message, **caught.value.params)
    assert reason.lower() in text.lower(), text
    # And the value (cut) when there is one
    if raw.strip() and kind != "hostname":
        assert raw.strip()[:20] in text or raw[:20] in text


def test_refusals_read_in_french() -> None:
    # Given an invalid address / When the error is shown in French
    with pytest.raises(Invalid) as caught:
        parse(None, "999.1.1.1")
    with use_language("fr"):
        text = gettext(caught.value.message, **caught.value.params)
    # Then both the message and its reason are French and name the value
    assert "999.1.1.1" in text and "n'est pas un indicateur valide" in text
    assert "adresse IPv4" in text


def test_long_values_are_cut_in_messages() -> None:
    with pytest.raises(Invalid) as caught:
        parse("md5", "f" * 300)
    assert len(str(caught.value.params["value"])) <= 80


@pytest.mark.parametrize(("kind", "value", "shown"), [
    ("url", "https://example.ml/path", "hxxps://example[.]ml/path"),
    ("url", "http://10.0.0.1:8080/a.php?x=1.2", "hxxp://10.0.0[.]1:8080/a.php?x=1.2"),
    ("url", "ftp://files.example.ml/", "fxp://files[.]example[.]ml/"),
    ("url", "http://bank.ml@evil.ml/", "hxxp://bank[.]ml[@]evil[.]ml/"),
    ("ipv4", "10.0.0.1", "10.0.0[.]1"),
    ("ipv6", "2001:db8::1", "2001:db8:[:]1"),
    ("cidr", "10.0.0.0/8", "10.0.0[.]0/8"),
    ("domain", "www.example.ml", "www[.]example[.]ml"),
    ("email", "user@example.ml", "user[@]example[.]ml"),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204e9800998ecf8427e"),
    ("cve", "CVE-2021-44228", "CVE-2021-44228"),
])
def test_defang_and_back(kind: str, value: str, shown: str) -> None:
    # When a value is defanged for display / Then it reads as expected and parses back
    assert defang(kind, value) == shown
    assert parse(None, shown).value == value
    assert refang(shown) == value


# Labels as registrars sell them (a "??--" label is reserved for punycode).
_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda label: label[2:4] != "--")


@given(st.ip_addresses(v=4))
def test_ipv4_survives_defanging(address: ipaddress.IPv4Address) -> None:
    value = str(address)
    assert parse(None, defang("ipv4", value)).value == value
    assert parse(None, value).display == defang("ipv4", value)


@given(st.ip_addresses(v=6))
def test_ipv6_survives_defanging(address: ipaddress.IPv6Address) -> None:
    parsed = parse(None, str(address))
    assert parse(None, parsed.display) == parsed


@given(st.lists(_LABEL, min_size=1, max_size=4),
       st.sampled_from(["ml", "com", "org", "gouv", "xn--mgbaam7a8h"]))
def test_domains_survive_defanging(labels: list[str], tld: str) -> None:
    value = ".".join([*labels, tld])
    parsed = parse(None, value)
    assert parsed.value == value
    assert parse(None, defang("domain", value)) == parsed
    assert parse(None, f"hxxps://{defang('domain', value)}/x").value == f"https://{value}/x"


def test_a_paste_is_partly_accepted_with_line_numbers() -> None:
    # Given a paste mixing valid, defanged, duplicate, blank, comment and invalid lines
    text = "\n".join([
        "# from the phishing mail", "hxxp://evil[.]ml/login", "", "10.0.0[.]1",
        "999.1.1.1", "10.0.0.1", "http://exa mple.com", "CVE-2021-44228"])
    # When it is parsed
    result = parse_many(text)
    # Then the valid ones are kept once, with their line numbers
    assert [(i.line, i.parsed.kind, i.parsed.value) for i in result.items] == [
        (2, "url", "http://evil.ml/login"), (4, "ipv4", "10.0.0.1"),
        (8, "cve", "CVE-2021-44228")]
    # And each refused line is reported with its number and text
    assert [(e.line, e.text) for e in result.errors] == [(5, "999.1.1.1"),
                                                        (7, "http://exa mple.com")]


def test_a_paste_has_limits() -> None:
    # A line over 2,048 characters is one refused line
    result = parse_many("10.0.0.1\n" + "a" * 3000)
    assert len(result.items) == 1 and result.errors[0].line == 2
    # More than 1,000 indicators is refused as a whole
    with pytest.raises(TooLarge):
        parse_many("\n".join(f"10.0.{i // 250}.{i % 250}" for i in range(1001)))
    assert len(parse_many("\n".join(f"10.0.{i // 250}.{i % 250}" for i in range(1000)))
               .items) == 1000


def test_a_paste_with_a_given_kind() -> None:
    result = parse_many("10.0.0.1\nexample.ml", kind="domain")
    assert [i.parsed.value for i in result.items] == ["example.ml"]
    assert result.errors[0].line == 1
