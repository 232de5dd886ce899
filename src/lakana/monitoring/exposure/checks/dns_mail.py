"""Domain and mail protection: DNSSEC, SPF, DMARC, CAA, MX STARTTLS and security.txt.

DNS questions go to ``context.nameservers`` (the system's resolvers when empty); they are
not connections to the target. SMTP and HTTP go through ``net`` and the scope guard: an MX
host outside the scan's scope (not under the registered domain) is listed as "not checked:
out of scope" and never contacted.

Domain targets get every test. For URL targets whose host is a name, only ``security.txt``
is checked (the other records belong to the registered domain, which is its own target).
DNSSEC is checked as DS present at the parent, DNSKEY present, and the DNSKEY RRset's
signature valid under the zone's own keys (no chain to the root).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from typing import Any, ClassVar

import dns.asyncresolver
import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

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

_MAIL = ("net-8",)


def _issue(issue_id: str, title: str, severity: Severity, explanation: str, advice: str,
           requirements: tuple[str, ...] = _MAIL) -> Issue:
    return Issue(issue_id, title, severity, explanation, advice, requirements)


class DnsMailCheck(Check):
    """DNSSEC, SPF, DMARC, CAA and MX STARTTLS of a domain; security.txt of a site."""

    id: ClassVar[str] = "dns"
    title: ClassVar[str] = N_("Domain and mail protection")
    applies_to: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.DOMAIN, TargetKind.URL})
    issues = catalogue(
        _issue("dns.dnssec.missing", N_("The domain is not signed with DNSSEC"),
               Severity.MEDIUM,
               N_("Without DNSSEC, resolvers cannot detect forged answers for this domain."),
               N_("Sign the zone and publish its DS record at the parent zone.")),
        _issue("dns.dnssec.invalid", N_("The DNSSEC signature does not validate"),
               Severity.HIGH,
               N_("Validating resolvers will refuse the domain's answers: it may become "
                  "unreachable."),
               N_("Re-sign the zone and check that the DS record matches the published key.")),
        _issue("dns.spf.missing", N_("No SPF record"), Severity.MEDIUM,
               N_("Anyone can send mail that claims to come from this domain."),
               N_("Publish a TXT record \"v=spf1 ... -all\" listing the domain's mail senders.")),
        _issue("dns.spf.permissive", N_("The SPF record allows any sender"), Severity.HIGH,
               N_("\"+all\" or \"?all\" makes SPF authorise, or not judge, every server."),
               N_("End the SPF record with \"-all\" (or \"~all\" while testing).")),
        _issue("dns.spf.multiple", N_("Several SPF records"), Severity.MEDIUM,
               N_("More than one SPF record is a permanent error: receivers ignore SPF."),
               N_("Merge the SPF records into one.")),
        _issue("dns.dmarc.missing", N_("No DMARC record"), Severity.MEDIUM,
               N_("Receivers have no policy for mail failing SPF and DKIM, and the domain "
                  "gets no reports of spoofing."),
               N_("Publish \"v=DMARC1; p=quarantine; rua=mailto:...\" at _dmarc.")),
        _issue("dns.dmarc.none", N_("The DMARC policy is \"none\""), Severity.LOW,
               N_("Mail spoofing the domain is reported but still delivered."),
               N_("Move the DMARC policy to \"quarantine\", then \"reject\".")),
        _issue("dns.caa.missing", N_("No CAA record"), Severity.LOW,
               N_("Any certificate authority may issue certificates for the domain."),
               N_("Publish CAA records naming the authorities the institution uses.")),
        _issue("dns.mx.starttls_missing", N_("Mail server %(host)s does not offer STARTTLS"),
               Severity.MEDIUM,
               N_("Mail to the domain travels unencrypted between servers."),
               N_("Enable STARTTLS with a valid certificate on the mail server."),
               ("net-8", "dat-2")),
        _issue("dns.mx.starttls_failed", N_("STARTTLS fails on mail server %(host)s"),
               Severity.MEDIUM,
               N_("The server announces STARTTLS but the TLS handshake fails, so senders "
                  "fall back to clear text or fail."),
               N_("Fix the mail server's TLS configuration and certificate."),
               ("net-8", "dat-2")),
        _issue("dns.securitytxt.missing", N_("No security.txt file"), Severity.LOW,
               N_("Researchers who find a vulnerability have no published way to report it "
                  "(RFC 9116)."),
               N_("Publish /.well-known/security.txt with Contact: and Expires: fields."),
               ("dev-7",)),
        _issue("dns.securitytxt.invalid", N_("The security.txt file is incomplete or expired"),
               Severity.LOW,
               N_("security.txt must give a Contact: and an Expires: date in the future."),
               N_("Add the missing fields and renew the Expires: date."), ("dev-7",)),
    )

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Run the DNS and mail tests on a domain, security.txt on a named URL host."""
        if target.is_ip:
            return CheckReport(self.id, facts={"applicable": False})
        observations: list[Observation] = []
        facts: dict[str, Any] = {}
        if target.kind is TargetKind.DOMAIN:
            resolver = _resolver(context)
            try:
                await _records(target.host, resolver, observations, facts)
                await _mail_servers(target.host, resolver, context, observations, facts)
            except dns.exception.DNSException as exc:
                return CheckReport(self.id, error=f"DNS: {type(exc).__name__}: {exc}"[:300])
        await _security_txt(target.host, context, observations, facts)
        return CheckReport(self.id, observations=tuple(observations), facts=facts)


def _resolver(context: CheckContext) -> dns.asyncresolver.Resolver:
    if not context.nameservers:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port)
                                for ip, port in context.nameservers]
    resolver.lifetime = context.timeout
    resolver.timeout = min(context.timeout, 3.0)
    resolver.use_edns(0, dns.flags.DO, 1232)
    return resolver


async def _query(resolver: dns.asyncresolver.Resolver, name: str,
                 rdtype: str) -> dns.resolver.Answer | None:
    """The answer, or None when the name or the type does not exist."""
    try:
        return await resolver.resolve(name, rdtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None


def _texts(answer: dns.resolver.Answer | None) -> list[str]:
    if answer is None or answer.rrset is None:
        return []
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rrset]


async def _records(domain: str, resolver: dns.asyncresolver.Resolver,
                   observations: list[Observation], facts: dict[str, Any]) -> None:
    facts["dnssec"] = await _dnssec(domain, resolver)
    if not (facts["dnssec"]["ds"] and facts["dnssec"]["dnskey"]):
        observations.append(Observation("dns.dnssec.missing", evidence=facts["dnssec"]))
    elif not facts["dnssec"]["valid"]:
        observations.append(Observation("dns.dnssec.invalid", evidence=facts["dnssec"]))
    spf = [t for t in _texts(await _query(resolver, domain, "TXT"))
           if t.lower().startswith("v=spf1")]
    facts["spf"] = spf
    if not spf:
        observations.append(Observation("dns.spf.missing"))
    elif len(spf) > 1:
        observations.append(Observation("dns.spf.multiple", evidence={"records": spf}))
    elif {"+all", "?all", "all"} & {t.lower() for t in spf[0].split()}:
        observations.append(Observation("dns.spf.permissive", evidence={"record": spf[0]}))
    dmarc = [t for t in _texts(await _query(resolver, f"_dmarc.{domain}", "TXT"))
             if t.lower().startswith("v=dmarc1")]
    policy = _tag(dmarc[0], "p") if dmarc else None
    facts["dmarc"] = {"record": dmarc[0] if dmarc else None, "policy": policy}
    if not dmarc:
        observations.append(Observation("dns.dmarc.missing"))
    elif policy not in ("quarantine", "reject"):
        observations.append(Observation("dns.dmarc.none", evidence={"record": dmarc[0]}))
    caa = await _query(resolver, domain, "CAA")
    facts["caa"] = [r.to_text() for r in caa.rrset] if caa and caa.rrset else []
    if not facts["caa"]:
        observations.append(Observation("dns.caa.missing"))


def _tag(record: str, name: str) -> str | None:
    for part in record.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == name:
            return value.strip().lower()
    return None


async def _dnssec(domain: str, resolver: dns.asyncresolver.Resolver) -> dict[str, Any]:
    ds = await _query(resolver, domain, "DS")
    keys = await _query(resolver, domain, "DNSKEY")
    result: dict[str, Any] = {"ds": bool(ds and ds.rrset), "dnskey": bool(keys and keys.rrset),
                              "valid": False}
    if keys is None or keys.rrset is None:
        return result
    name = dns.name.from_text(domain)
    try:
        signatures = keys.response.find_rrset(keys.response.answer, name, dns.rdataclass.IN,
                                              dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
    except KeyError:
        result["error"] = "no RRSIG over the DNSKEY set"
        return result
    result["valid"] = any(verify_rrsig(keys.rrset, sig, keys.rrset) for sig in signatures)
    if not result["valid"]:
        result["error"] = "no valid RRSIG over the DNSKEY set"
    return result


def verify_rrsig(rrset: dns.rrset.RRset, rrsig: Any, dnskeys: dns.rrset.RRset) -> bool:
    """Whether ``rrsig`` over ``rrset`` verifies under one of ``dnskeys`` and is within its
    validity period (ECDSA P-256/P-384, Ed25519, RSA/SHA-256/512).

    dnspython 2.9's own ``dns.dnssec.validate`` needs cryptography >= 50 (for ML-DSA) and
    the project pins 46, so the signature itself is checked with cryptography here; the
    signed data is built by dnspython (RFC 4034 canonical form)."""
    now = dt.datetime.now(dt.UTC).timestamp()
    if not rrsig.inception <= now <= rrsig.expiration:
        return False
    data = dns.dnssec._make_rrsig_signature_data(rrset, rrsig)
    for key in dnskeys:
        if key.algorithm != rrsig.algorithm or dns.dnssec.key_id(key) != rrsig.key_tag:
            continue
        try:
            _verify(int(key.algorithm), key.key, rrsig.signature, data)
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def _verify(algorithm: int, key: bytes, signature: bytes, data: bytes) -> None:
    if algorithm in (13, 14):
        curve: ec.EllipticCurve = ec.SECP256R1() if algorithm == 13 else ec.SECP384R1()
        half = len(signature) // 2
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + key)
        der = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                   int.from_bytes(signature[half:], "big"))
        digest = hashes.SHA256() if algorithm == 13 else hashes.SHA384()
        public.verify(der, data, ec.ECDSA(digest))
    elif algorithm == 15:
        ed25519.Ed25519PublicKey.from_public_bytes(key).verify(signature, data)
    elif algorithm in (8, 10):
        # RFC 3110: exponent length (1 or 3 bytes), exponent, modulus.
        size, offset = (key[0], 1) if key[0] else (int.from_bytes(key[1:3], "big"), 3)
        exponent = int.from_bytes(key[offset:offset + size], "big")
        modulus = int.from_bytes(key[offset + size:], "big")
        rsa.RSAPublicNumbers(exponent, modulus).public_key().verify(
            signature, data, padding.PKCS1v15(),
            hashes.SHA256() if algorithm == 8 else hashes.SHA512())
    else:
        raise ValueError(f"unsupported DNSSEC algorithm {algorithm}")


async def _mail_servers(domain: str, resolver: dns.asyncresolver.Resolver,
                        context: CheckContext, observations: list[Observation],
                        facts: dict[str, Any]) -> None:
    answer = await _query(resolver, domain, "MX")
    hosts = sorted({r.exchange.to_text().rstrip(".") for r in answer.rrset}
                   if answer and answer.rrset else set())
    port = context.ports.get("smtp", 25)
    results: dict[str, str] = {}
    for host in [h for h in hosts if h][:10]:
        try:
            context.guard.allow(host, port)
        except OutOfScope:
            results[host] = "not checked: out of scope"
            continue
        results[host] = status = await _starttls(host, port, context)
        if status == "no starttls":
            observations.append(Observation("dns.mx.starttls_missing", subject=host,
                                            params={"host": host}))
        elif status.startswith("starttls failed"):
            observations.append(Observation("dns.mx.starttls_failed", subject=host,
                                            params={"host": host},
                                            evidence={"error": status}))
    facts["mx"] = results


async def _starttls(host: str, port: int, context: CheckContext) -> str:
    """``"starttls ok"``, ``"no starttls"``, ``"starttls failed: ..."`` or
    ``"unreachable: ..."`` for one MX host."""
    try:
        reader, writer, _ = await net.open_connection(host, port, context)
    except (net.NetError, OutOfScope, OSError) as exc:
        return f"unreachable: {exc}"
    try:
        return await asyncio.wait_for(_smtp_dialogue(reader, writer, host, context),
                                      context.timeout * 2)
    except (TimeoutError, OSError, ssl.SSLError, ValueError) as exc:
        return f"starttls failed: {type(exc).__name__} {exc}"[:200]
    finally:
        writer.close()


async def _smtp_dialogue(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         host: str, context: CheckContext) -> str:
    greeting = await _smtp_reply(reader)
    if not greeting.startswith("220"):
        return f"unreachable: unexpected greeting {greeting[:60]!r}"
    writer.write(b"EHLO lakana.invalid\r\n")
    await writer.drain()
    ehlo = await _smtp_reply(reader)
    if not any(line[4:].strip().upper() == "STARTTLS" for line in ehlo.splitlines()):
        return "no starttls"
    writer.write(b"STARTTLS\r\n")
    await writer.drain()
    if not (await _smtp_reply(reader)).startswith("220"):
        return "starttls failed: refused"
    # Opportunistic TLS between MTAs does not authenticate: only the handshake is tested.
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    await writer.start_tls(tls, server_hostname=host)
    return "starttls ok"


async def _smtp_reply(reader: asyncio.StreamReader) -> str:
    """One (multi-line) SMTP reply, at most 50 lines of 1 KiB."""
    lines: list[str] = []
    for _ in range(50):
        line = (await reader.readline())[:1024].decode("ascii", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            break
    return "\n".join(lines)


async def _security_txt(host: str, context: CheckContext, observations: list[Observation],
                        facts: dict[str, Any]) -> None:
    found: net.HttpResponse | None = None
    for scheme in ("https", "http"):
        port = context.ports.get(scheme, 443 if scheme == "https" else 80)
        try:
            response = await net.fetch(f"{scheme}://{host}:{port}/.well-known/security.txt",
                                       context)
        except (net.NetError, OutOfScope):
            continue
        if response.status == 200:
            found = response
            break
    if found is None:
        facts["security_txt"] = None
        observations.append(Observation("dns.securitytxt.missing"))
        return
    fields = _fields(found.body.decode("utf-8", "replace"))
    problems = [f"no {name}" for name in ("contact", "expires") if name not in fields]
    expires = fields.get("expires")
    if expires:
        try:
            when = dt.datetime.fromisoformat(expires.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            if when < dt.datetime.now(dt.UTC):
                problems.append("expired")
        except ValueError:
            problems.append("unreadable expires")
    facts["security_txt"] = {"url": found.url, "fields": fields, "problems": problems}
    if problems:
        observations.append(Observation("dns.securitytxt.invalid",
                                        evidence={"url": found.url, "problems": problems}))


def _fields(text: str) -> dict[str, str]:
    """The first value of each field of an RFC 9116 file (names lower-cased)."""
    fields: dict[str, str] = {}
    for line in text.splitlines()[:500]:
        name, sep, value = line.partition(":")
        if sep and not line.startswith("#") and name.strip():
            fields.setdefault(name.strip().lower(), value.strip()[:300])
    return fields
