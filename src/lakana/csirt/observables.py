"""Indicators (observables): recognise, validate, normalize and defang them. No database here.

Analysts paste indicators as they find them in reports and mails, often *defanged* so that
nobody clicks them (``hxxps://example[.]ml``, ``10.0.0[.]1``, ``user[@]example[.]ml``).
:func:`parse` refangs, recognises the kind when it is not given, refuses what is not a
valid indicator with a message naming the value and the reason, and returns the one
normalized form under which the indicator is stored and shared across cases:

* IP addresses through :mod:`ipaddress` (IPv4 with a leading zero such as ``010.1.1.1`` is
  refused: octal or decimal is ambiguous); an IPv4-mapped IPv6 address becomes IPv4.
* CIDR blocks become their network (``10.1.2.3/8`` → ``10.0.0.0/8``).
* Domains lower-case, IDNA (punycode) encoded, without the trailing dot.
* URLs: http, https or ftp only; host normalized as a domain or an IP; default port dropped;
  an empty path becomes ``/``; non-ASCII characters percent-encoded; a URL holding spaces
  is refused (not encoded: a space usually means two things were pasted together). The
  **fragment is dropped**: browsers never send it to the server, so it does not identify
  the resource, and phishing links often carry the victim's address in it.
* E-mail addresses: syntax checked by ``email-validator`` (no DNS), domain lower-case and
  IDNA encoded; the local part keeps its case (RFC 5321 makes it case-sensitive).
* Hashes lower-case hexadecimal of exact length; CVE identifiers upper-case.

Values are always *displayed* defanged (:func:`defang`), never as links; IDN domains are
displayed in punycode so that a look-alike (homograph) domain cannot pass for the real one.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlsplit

import idna
from email_validator import EmailNotValidError, validate_email

from lakana.core.errors import Invalid, TooLarge
from lakana.core.i18n import N_, Msg


class Kind(StrEnum):
    """The kinds of indicator the centre keeps."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CIDR = "cidr"
    DOMAIN = "domain"
    URL = "url"
    EMAIL = "email"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"
    CVE = "cve"


KIND_LABELS: dict[Kind, str] = {
    Kind.IPV4: N_("IPv4 address"), Kind.IPV6: N_("IPv6 address"), Kind.CIDR: N_("IP network"),
    Kind.DOMAIN: N_("Domain name"), Kind.URL: N_("URL"), Kind.EMAIL: N_("E-mail address"),
    Kind.MD5: N_("MD5 hash"), Kind.SHA1: N_("SHA-1 hash"), Kind.SHA256: N_("SHA-256 hash"),
    Kind.SHA512: N_("SHA-512 hash"), Kind.CVE: N_("CVE identifier"),
}
HASH_LENGTHS: dict[Kind, int] = {Kind.MD5: 32, Kind.SHA1: 40, Kind.SHA256: 64,
                                 Kind.SHA512: 128}
URL_SCHEMES = ("http", "https", "ftp")
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
#: Limits of one value and of one paste.
MAX_LENGTH = 2048
MAX_ITEMS = 1000
#: How much of a refused value a message repeats.
SHOWN = 80

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_CVE = re.compile(r"^CVE-(\d{4})-(\d{4,19})$", re.IGNORECASE)
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_SCHEME_FANG = re.compile(r"^\s*(?:h(?:xx|\*\*|XX|Xx|xX)p(s?)|fxp)(?=\[?:)", re.IGNORECASE)
# Defanging brackets as analysts and tools write them (CyberChef, ioc-fanger conventions).
_FANGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\}",
                re.IGNORECASE), "."),
    (re.compile(r"\[\s*(?:@|at)\s*\]|\(\s*(?:@|at)\s*\)|\{\s*(?:@|at)\s*\}", re.IGNORECASE),
     "@"),
    (re.compile(r"\[\s*:\s*\]|\(\s*:\s*\)|\{\s*:\s*\}"), ":"),
    (re.compile(r"\[\s*(://)\s*\]|\[\s*(/)\s*\]"), r"\1\2"),
)
_URL_SAFE = string.punctuation  # keep every printable ASCII; escape only the rest
Normalizer = Callable[[str, str], "tuple[Kind, str]"]


@dataclass(frozen=True)
class Parsed:
    """A recognised indicator: its kind, its normalized value and how to display it."""

    kind: str
    value: str
    display: str


@dataclass(frozen=True)
class ParsedLine:
    """An indicator accepted from one line of a paste."""

    line: int
    parsed: Parsed


@dataclass(frozen=True)
class LineError:
    """A line of a paste that was refused: its number, the text and the (translatable)
    error."""

    line: int
    text: str
    error: Invalid


@dataclass(frozen=True)
class ParsedMany:
    """What a paste gave: accepted indicators (duplicates in the paste dropped) and refused
    lines."""

    items: list[ParsedLine]
    errors: list[LineError]


def shown(value: str) -> str:
    """``value`` cut for an error message."""
    return value if len(value) <= SHOWN else value[:SHOWN - 1] + "…"


def kind_label(kind: str) -> str:
    """The English label (a message id) of a kind."""
    try:
        return KIND_LABELS[Kind(kind)]
    except ValueError:
        return kind


def refang(raw: str) -> str:
    """Undo the usual defanging: ``hxxp``/``fxp`` schemes, ``[.]``, ``(.)``, ``{.}``,
    ``[dot]``, ``[:]``, ``[@]``, ``[at]``, ``[://]``; surrounding blanks removed."""
    text = raw.strip()
    text = _SCHEME_FANG.sub(lambda m: "ftp" if m.group(0).strip().lower() == "fxp"
                            else "http" + m.group(1).lower(), text)
    for pattern, replacement in _FANGS:
        text = pattern.sub(replacement, text)
    return text


def _refuse(value: str, reason: str) -> Invalid:
    return Invalid("%(value)s is not a valid indicator: %(reason)s", value=shown(value),
                   reason=Msg(reason))


# --- one value ---------------------------------------------------------------------------

def parse(kind: str | None, raw: str) -> Parsed:
    """Recognise (when ``kind`` is None), validate and normalize one indicator.

    Defanged input is accepted. Raises :class:`Invalid` naming the value and the reason.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("The indicator is empty.")
    if len(raw) > MAX_LENGTH:
        raise Invalid("The indicator %(value)s is too long (%(length)s characters, at most "
                      "%(max)s).", value=shown(raw), length=len(raw), max=MAX_LENGTH)
    text = refang(raw)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise _refuse(raw, N_("it holds control characters or line breaks"))
    if kind is None or not kind.strip():
        found = detect(text)
    else:
        try:
            found = Kind(kind.strip().lower())
        except ValueError:
            raise Invalid("Unknown indicator kind %(kind)s (use %(allowed)s).",
                          kind=shown(kind), allowed=", ".join(k.value for k in Kind)) from None
    found, value = _NORMALIZERS[found](text, raw)
    return Parsed(kind=found.value, value=value, display=defang(found.value, value))


def detect(text: str) -> Kind:
    """The kind of an (already refanged) indicator, by its shape; the normalizer of that
    kind then decides whether it is valid."""
    if _CVE.match(text) or text[:4].upper() == "CVE-":
        return Kind.CVE
    if _HEX.match(text):
        for kind, length in HASH_LENGTHS.items():
            if len(text) == length:
                return kind
    if "://" in text:
        return Kind.URL
    if "/" in text:
        before = text.split("/", 1)[0]
        return Kind.CIDR if ":" in before or _looks_like_ipv4(before) else Kind.URL
    if "@" in text:
        return Kind.EMAIL
    if ":" in text or _looks_like_ipv4(text):
        return Kind.IPV6 if ":" in text else Kind.IPV4
    return Kind.DOMAIN


def _looks_like_ipv4(text: str) -> bool:
    """Digits and dots only: meant as an IPv4 address (``999.1.1.1`` included), never a
    domain (no top-level domain is numeric)."""
    return bool(text) and all(ch.isdigit() or ch == "." for ch in text) and "." in text


def _ip(text: str, raw: str, want: Kind | None) -> tuple[Kind, str]:
    """An IP address normalized; IPv4-mapped IPv6 becomes IPv4."""
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if "%" in candidate:
        raise _refuse(raw, N_("an address with a zone index (%) is local to one machine"))
    if re.search(r"(?:^|\.)0\d", candidate) and ":" not in candidate:
        raise _refuse(raw, N_("a number with a leading zero is ambiguous (octal or decimal)"))
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        if want is Kind.IPV6 or ":" in candidate:
            raise _refuse(raw, N_("not an IPv6 address")) from None
        raise _refuse(raw, N_("not an IPv4 address (four numbers from 0 to 255)")) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    found = Kind.IPV4 if address.version == 4 else Kind.IPV6
    if want is not None and want is not found and not (want is Kind.IPV6 and ":" in candidate):
        raise _refuse(raw, N_("not an IPv4 address (four numbers from 0 to 255)")
                      if want is Kind.IPV4 else N_("not an IPv6 address"))
    return found, str(address)


def _ipv4(text: str, raw: str) -> tuple[Kind, str]:
    return _ip(text, raw, Kind.IPV4)


def _ipv6(text: str, raw: str) -> tuple[Kind, str]:
    return _ip(text, raw, Kind.IPV6)


def _cidr(text: str, raw: str) -> tuple[Kind, str]:
    """A network block, normalized to its network address (host bits cleared)."""
    address, slash, prefix = text.partition("/")
    if not slash or not prefix.isdigit():
        raise _refuse(raw, N_("a network is written address/prefix, such as 10.0.0.0/8"))
    if ":" not in address and re.search(r"(?:^|\.)0\d", address):
        raise _refuse(raw, N_("a number with a leading zero is ambiguous (octal or decimal)"))
    try:
        network = ipaddress.ip_network(f"{address}/{int(prefix)}", strict=False)
    except ValueError:
        raise _refuse(raw, N_("not a valid network (address/prefix, prefix 0–32 for IPv4, "
                              "0–128 for IPv6)")) from None
    return Kind.CIDR, str(network)


def normalize_domain(text: str, raw: str | None = None) -> str:
    """A domain name lower-case, IDNA encoded, trailing dot removed; raises :class:`Invalid`.

    Labels of letters, digits, hyphens and underscores (``_dmarc``: DNS allows them and
    malicious hosts use them), 63 characters at most, 253 in all; at least two labels and a
    top-level domain that is not numeric.
    """
    raw = text if raw is None else raw
    name = text.strip().removesuffix(".")
    if not name:
        raise _refuse(raw, N_("the domain name is empty"))
    if any(ch.isspace() for ch in name):
        raise _refuse(raw, N_("a domain name holds no spaces"))
    labels = [_label(label, raw) for label in name.split(".")]
    if len(labels) < 2:
        raise _refuse(raw, N_("a domain name needs at least two labels (example.ml)"))
    if not _TLD.match(labels[-1]):
        if all(ch.isdigit() for label in labels for ch in label):
            raise _refuse(raw, N_("not an IPv4 address (four numbers from 0 to 255)"))
        raise _refuse(raw, N_("the top-level domain is not valid"))
    encoded = ".".join(labels)
    if len(encoded) > 253:
        raise _refuse(raw, N_("a domain name has at most 253 characters"))
    return encoded


def _label(label: str, raw: str) -> str:
    """One label, lower-case and, when it holds non-ASCII letters, IDNA encoded."""
    if not label:
        raise _refuse(raw, N_("a domain name has no empty label (two dots in a row)"))
    if not label.isascii():
        try:
            label = idna.alabel(idna.uts46_remap(label, std3_rules=True,
                                                 transitional=False)).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise _refuse(raw, N_("an international label that IDNA refuses")) from None
    label = label.lower()
    if len(label) > 63:
        raise _refuse(raw, N_("a label of a domain name has at most 63 characters"))
    if not _LABEL.match(label) or set(label) <= {"_", "-"}:
        raise _refuse(raw, N_("a label holds only letters, digits, hyphens and underscores, "
                              "and neither starts nor ends with a hyphen"))
    if label.startswith("xn--"):
        try:
            idna.decode(label)
        except (idna.IDNAError, UnicodeError):
            raise _refuse(raw, N_("a punycode label (xn--) that does not decode")) from None
    return label


def _domain(text: str, raw: str) -> tuple[Kind, str]:
    return Kind.DOMAIN, normalize_domain(text, raw)


def _url(text: str, raw: str) -> tuple[Kind, str]:
    """A web or FTP address, normalized (see the module's notes)."""
    if any(ch.isspace() for ch in text):
        raise _refuse(raw, N_("a URL holds no spaces (was something pasted with it?)"))
    if "://" not in text:
        raise _refuse(raw, N_("a URL starts with http://, https:// or ftp://"))
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _refuse(raw, N_("the URL's host or port is not valid")) from None
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        raise _refuse(raw, N_("only http, https and ftp URLs are kept"))
    netloc = parts.netloc
    userinfo = netloc.rpartition("@")[0]
    host = parts.hostname or ""
    if not host:
        raise _refuse(raw, N_("the URL has no host"))
    if host.startswith("[") or ":" in host or _looks_like_ipv4(host):
        _, address = _ip(host, raw, None)
        host = f"[{address}]" if ":" in address else address
    else:
        host = normalize_domain(host, raw)
    authority = (f"{quote(userinfo, safe=_URL_SAFE)}@" if "@" in netloc else "") + host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        authority += f":{port}"
    path = quote(parts.path, safe=_URL_SAFE) or "/"
    query = f"?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else ""
    value = f"{scheme}://{authority}{path}{query}"
    if len(value) > MAX_LENGTH:
        raise _refuse(raw, N_("the URL is too long once normalized"))
    return Kind.URL, value


def _email(text: str, raw: str) -> tuple[Kind, str]:
    """An e-mail address: syntax only (no DNS), domain lower-case and IDNA encoded."""
    if "@" not in text:
        raise _refuse(raw, N_("an e-mail address has an @"))
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid("%(value)s is not a valid e-mail address: %(detail)s",
                      value=shown(raw), detail=str(exc)) from None
    domain = normalize_domain(result.ascii_domain or result.domain, raw)
    return Kind.EMAIL, f"{result.local_part}@{domain}"


def _hash(kind: Kind) -> Normalizer:
    def normalize(text: str, raw: str) -> tuple[Kind, str]:
        value = text.strip()
        if not _HEX.match(value):
            raise _refuse(raw, N_("a hash holds only hexadecimal digits (0-9, a-f)"))
        if len(value) != HASH_LENGTHS[kind]:
            raise Invalid("%(value)s is not a valid %(kind)s: it has %(length)s hexadecimal "
                          "digits instead of %(expected)s.", value=shown(raw),
                          kind=Msg(KIND_LABELS[kind]), length=len(value),
                          expected=HASH_LENGTHS[kind])
        return kind, value.lower()
    return normalize


def _cve(text: str, raw: str) -> tuple[Kind, str]:
    """A CVE identifier ``CVE-YYYY-NNNN…``, upper-case."""
    found = _CVE.match(text.strip())
    if not found or not 1999 <= int(found.group(1)) <= 2100:
        raise _refuse(raw, N_("a CVE identifier is written CVE-YYYY-NNNN (year from 1999, at "
                              "least four digits)"))
    return Kind.CVE, f"CVE-{found.group(1)}-{found.group(2)}"


_NORMALIZERS: dict[Kind, Normalizer] = {
    Kind.IPV4: _ipv4, Kind.IPV6: _ipv6, Kind.CIDR: _cidr, Kind.DOMAIN: _domain,
    Kind.URL: _url, Kind.EMAIL: _email, Kind.CVE: _cve,
    **{kind: _hash(kind) for kind in HASH_LENGTHS},
}


# --- display -----------------------------------------------------------------------------

def _defang_host(host: str) -> str:
    if host.startswith("["):
        return host.replace(":", "[:]", 1) if host.count(":") else host
    if _looks_like_ipv4(host):
        head, _, last = host.rpartition(".")
        return f"{head}[.]{last}"
    return host.replace(".", "[.]")


def defang(kind: str, value: str) -> str:
    """``value`` made inert for display: ``hxxps://example[.]ml/path``, ``10.0.0[.]1``,
    ``user[@]example[.]ml``; hashes and CVE identifiers unchanged."""
    if kind in (Kind.IPV4, Kind.DOMAIN):
        return _defang_host(value)
    if kind == Kind.IPV6:
        head, _, last = value.rpartition(":")
        return f"{head}[:]{last}"
    if kind == Kind.CIDR:
        address, _, prefix = value.partition("/")
        shown_address = defang(Kind.IPV6 if ":" in address else Kind.IPV4, address)
        return f"{shown_address}/{prefix}"
    if kind == Kind.EMAIL:
        local, _, domain = value.rpartition("@")
        return f"{local}[@]{_defang_host(domain)}"
    if kind == Kind.URL:
        return _defang_url(value)
    return value


def _defang_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value.replace(".", "[.]")
    fanged = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}.get(scheme, scheme)
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        end = hostport.find("]") + 1
        host, port = hostport[:end], hostport[end:]
    else:
        host, colon, port = hostport.partition(":")
        port = colon + port
    shown_user = f"{userinfo.replace('.', '[.]')}[@]" if at else ""
    shown_authority = shown_user + _defang_host(host) + port
    return f"{fanged}://{shown_authority}{tail}"


# --- a paste of many ---------------------------------------------------------------------

def parse_many(text: str, kind: str | None = None) -> ParsedMany:
    """Parse a paste, one indicator per line: blank lines and ``#`` comments are skipped,
    duplicates (after normalization) kept once, refused lines reported with their number.

    More than :data:`MAX_ITEMS` indicators is refused as a whole (:class:`TooLarge`).
    """
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if len(lines) > MAX_ITEMS:
        raise TooLarge("Too many indicators in one paste (%(count)s, at most %(max)s).",
                       count=len(lines), max=MAX_ITEMS)
    items: list[ParsedLine] = []
    errors: list[LineError] = []
    seen: set[tuple[str, str]] = set()
    for number, line in lines:
        try:
            parsed = parse(kind, line)
        except Invalid as exc:
            errors.append(LineError(line=number, text=line[:MAX_LENGTH], error=exc))
            continue
        if (parsed.kind, parsed.value) not in seen:
            seen.add((parsed.kind, parsed.value))
            items.append(ParsedLine(line=number, parsed=parsed))
    return ParsedMany(items=items, errors=errors)
