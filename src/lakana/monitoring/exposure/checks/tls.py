"""TLS configuration of an HTTPS endpoint, measured with sslyze.

sslyze is synchronous and opens its own sockets: the check runs the scope checks itself
(``guard.allow``, resolution through ``net.resolve``, ``guard.allow_address``) and hands
sslyze the resolved address, so sslyze never resolves a name nor reaches another host. The
scan runs in a worker thread with sslyze's own network timeout and a bounded command set
(the commands Mozilla's profile checker needs, nothing more).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)
from sslyze.plugins.certificate_info.implementation import CertificateInfoExtraArgument
from sslyze.plugins.openssl_cipher_suites.implementation import CipherSuitesScanResult
from sslyze.scanner.models import (
    ScanCommandsExtraArguments,
    ServerConnectivityStatusEnum,
    ServerScanRequest,
    ServerScanResult,
)
from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum
from sslyze.scanner.scanner import Scanner
from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

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

_REQ = ("dat-2", "dev-7")
_OLD_PROTOCOLS = (("ssl_2_0_cipher_suites", "SSLv2", "tls.protocol.sslv2"),
                  ("ssl_3_0_cipher_suites", "SSLv3", "tls.protocol.sslv3"),
                  ("tls_1_0_cipher_suites", "TLSv1.0", "tls.protocol.tls1_0"),
                  ("tls_1_1_cipher_suites", "TLSv1.1", "tls.protocol.tls1_1"))
_MODERN_PROTOCOLS = (("tls_1_2_cipher_suites", "TLSv1.2"), ("tls_1_3_cipher_suites", "TLSv1.3"))
#: The scan commands the observations are built from (every command the scan runs: the
#: protocol probes, the certificate and what Mozilla's profile checker needs). One that failed
#: (a timeout on the way) leaves what it tested unknown: reported as "not seen", it would mark
#: open findings fixed, so the whole check reports an error instead.
_ESSENTIAL_COMMANDS = tuple(sorted(command.value
                                   for command in SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER))
#: Name fragments of IANA cipher suite names that are broken whatever the configuration.
_WEAK_MARKERS = ("_NULL_", "_EXPORT", "_RC4_", "_3DES_", "_DES_", "_DES40_", "_anon_", "_MD5")
#: Days before expiry from which a certificate is reported as expiring soon.
EXPIRY_WARNING_DAYS = 30


def _issue(issue_id: str, title: str, severity: Severity, explanation: str,
           advice: str) -> Issue:
    return Issue(issue_id, title, severity, explanation, advice, _REQ)


_PROTOCOL_ADVICE = N_("Disable SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1 in the server configuration; "
                      "keep TLS 1.2 and TLS 1.3 only.")


class TlsCheck(Check):
    """Protocol versions, cipher suites, forward secrecy and the certificate of a TLS
    endpoint, and its compliance with Mozilla's modern and intermediate profiles."""

    id: ClassVar[str] = "tls"
    title: ClassVar[str] = N_("TLS configuration")
    applies_to: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.URL, TargetKind.DOMAIN})
    issues = catalogue(
        _issue("tls.protocol.sslv2", N_("SSL 2.0 is enabled"), Severity.HIGH,
               N_("SSL 2.0 is broken: an attacker on the path can decrypt or alter traffic."),
               _PROTOCOL_ADVICE),
        _issue("tls.protocol.sslv3", N_("SSL 3.0 is enabled"), Severity.HIGH,
               N_("SSL 3.0 is vulnerable to the POODLE attack and must not be offered."),
               _PROTOCOL_ADVICE),
        _issue("tls.protocol.tls1_0", N_("TLS 1.0 is enabled"), Severity.HIGH,
               N_("TLS 1.0 is obsolete (RFC 8996) and exposes clients to downgrade and "
                  "CBC attacks."), _PROTOCOL_ADVICE),
        _issue("tls.protocol.tls1_1", N_("TLS 1.1 is enabled"), Severity.HIGH,
               N_("TLS 1.1 is obsolete (RFC 8996) and no longer supported by browsers."),
               _PROTOCOL_ADVICE),
        _issue("tls.cipher.weak", N_("Weak cipher suites are accepted"), Severity.MEDIUM,
               N_("The server accepts cipher suites with no or broken encryption (NULL, "
                  "EXPORT, RC4, DES, 3DES, anonymous or MD5)."),
               N_("Remove these suites; use Mozilla's intermediate cipher list.")),
        _issue("tls.forward_secrecy.missing", N_("No forward secrecy"), Severity.MEDIUM,
               N_("No accepted cipher suite uses an ephemeral key exchange: a stolen private "
                  "key decrypts all recorded traffic."),
               N_("Enable ECDHE cipher suites and TLS 1.3.")),
        _issue("tls.cert.expired", N_("The certificate has expired"), Severity.HIGH,
               N_("Browsers refuse the site or users learn to click through warnings."),
               N_("Renew the certificate and automate renewal (ACME).")),
        _issue("tls.cert.not_yet_valid", N_("The certificate is not yet valid"), Severity.HIGH,
               N_("The certificate's validity starts in the future; clients refuse it."),
               N_("Install a certificate valid today and check the server's clock.")),
        _issue("tls.cert.expires_soon", N_("The certificate expires in %(days)s days"),
               Severity.MEDIUM,
               N_("The certificate will expire soon and the service will become unusable."),
               N_("Renew the certificate now and automate renewal (ACME).")),
        _issue("tls.cert.hostname_mismatch",
               N_("The certificate does not match the name %(hostname)s"), Severity.HIGH,
               N_("The certificate was issued for other names; clients cannot authenticate "
                  "the server."),
               N_("Install a certificate whose subject alternative names include this name.")),
        _issue("tls.cert.self_signed", N_("The certificate is self-signed"), Severity.HIGH,
               N_("Nobody vouches for a self-signed certificate: users cannot tell the server "
                  "from an impostor."),
               N_("Use a certificate issued by a publicly trusted authority.")),
        _issue("tls.cert.untrusted", N_("The certificate chain is not trusted"), Severity.HIGH,
               N_("The chain does not lead to a trusted root (unknown authority or missing "
                  "intermediate certificate)."),
               N_("Serve the full chain of a publicly trusted authority.")),
        _issue("tls.cert.weak_key", N_("The certificate key is too short (%(key)s)"),
               Severity.HIGH,
               N_("RSA keys under 2048 bits and EC keys under 256 bits can be broken."),
               N_("Issue a new certificate with an RSA 2048+ or ECDSA P-256 key.")),
        _issue("tls.profile.intermediate",
               N_("The configuration does not meet Mozilla's intermediate profile"),
               Severity.LOW,
               N_("Mozilla's intermediate profile is the baseline for general-purpose "
                  "servers; the differences are listed in the evidence."),
               N_("Apply the configuration generated by the Mozilla SSL Configuration "
                  "Generator (intermediate).")),
    )

    def __init__(self, *, custom_ca_file: Path | None = None) -> None:
        #: An extra trust store (the tests' CA; a national PKI's root in production).
        self.custom_ca_file = custom_ca_file

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Scan the target's TLS endpoint (URL port for https URLs, 443 for domains)."""
        if target.kind is TargetKind.URL and target.scheme != "https":
            return CheckReport(self.id, facts={"applicable": False})
        port = target.port if target.kind is TargetKind.URL and target.port else \
            context.ports.get("https", 443)
        try:
            context.guard.allow(target.host, port)
            addresses = await net.resolve(target.host, context, port)
            address = sorted(addresses, key=lambda a: ":" in a)[0]  # IPv4 first
            context.guard.allow_address(target.host, address, port)
        except (OutOfScope, net.NetError) as exc:
            return CheckReport(self.id, error=str(exc) or type(exc).__name__)
        try:
            result = await asyncio.wait_for(
                asyncio.to_thread(self._scan, target.host, address, port, context.timeout),
                timeout=context.timeout * 10)
        except TimeoutError:
            return CheckReport(self.id, error="timed out")
        if result.connectivity_status is not ServerConnectivityStatusEnum.COMPLETED:
            message = str(result.connectivity_error_trace or "no TLS service").splitlines()[-1]
            return CheckReport(self.id, error=f"TLS handshake failed: {message}"[:300])
        return _analyse(result, target.host)

    def _scan(self, host: str, address: str, port: int, timeout: float) -> ServerScanResult:
        extra = ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=self.custom_ca_file)
        ) if self.custom_ca_file else ScanCommandsExtraArguments()
        request = ServerScanRequest(
            server_location=ServerNetworkLocation(host, port, ip_address=address),
            network_configuration=ServerNetworkConfiguration(
                tls_server_name_indication=host, network_timeout=max(1, int(timeout)),
                network_max_retries=1),
            scan_commands=set(SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER),
            scan_commands_extra_arguments=extra)
        scanner = Scanner(per_server_concurrent_connections_limit=5,
                          concurrent_server_scans_limit=1)
        scanner.queue_scans([request])
        # Read the generator to its end: left paused after the first result, sslyze's
        # producer thread blocks forever on its queue, keeping the scan's state (a thread
        # and ~9 MiB per scan: 5 GiB over 500 endpoints, measured in bench_exposure).
        (result,) = list(scanner.get_results())
        return result


def _analyse(result: ServerScanResult, host: str) -> CheckReport:
    attempts = result.scan_result
    assert attempts is not None
    failed = [name for name in _ESSENTIAL_COMMANDS
              if getattr(attempts, name).status is ScanCommandAttemptStatusEnum.ERROR]
    if failed:
        reason = getattr(attempts, failed[0]).error_reason
        return CheckReport("tls", error=f"TLS scan incomplete: {', '.join(failed)} failed "
                                        f"({reason.value if reason else 'error'})"[:300])
    observations: list[Observation] = []
    facts: dict[str, Any] = {}
    protocols: dict[str, bool] = {}
    accepted: list[str] = []
    for field_name, label, issue_id in _OLD_PROTOCOLS:
        suites = _suites(getattr(attempts, field_name).result)
        protocols[label] = suites is not None
        if suites is not None:
            accepted += suites
            observations.append(Observation(issue_id, evidence={"cipher_suites": suites[:20]}))
    for field_name, label in _MODERN_PROTOCOLS:
        suites = _suites(getattr(attempts, field_name).result)
        protocols[label] = suites is not None
        accepted += suites or []
    facts["protocols"] = protocols
    weak = sorted({s for s in accepted if any(m in s for m in _WEAK_MARKERS)})
    if weak:
        observations.append(Observation("tls.cipher.weak", evidence={"cipher_suites": weak}))
    # TLS 1.3 suite names carry no key exchange ("TLS_AES_128_GCM_SHA256"): always ephemeral.
    forward = [s for s in accepted if s.startswith(("TLS_ECDHE_", "TLS_DHE_"))
               or (s.startswith("TLS_") and "_WITH_" not in s)]
    facts["forward_secrecy"] = ("all" if len(forward) == len(accepted) else
                                "partial" if forward else "none")
    if accepted and not forward:
        observations.append(Observation("tls.forward_secrecy.missing",
                                        evidence={"cipher_suites": sorted(set(accepted))[:20]}))
    cert_info = attempts.certificate_info.result
    if cert_info and cert_info.certificate_deployments:
        deployment = cert_info.certificate_deployments[0]
        trusted = deployment.verified_certificate_chain is not None
        observations += _certificate(deployment.received_certificate_chain, host, trusted, facts)
    facts["mozilla"] = _mozilla(result)
    if facts["mozilla"].get("intermediate") is False:
        observations.append(Observation("tls.profile.intermediate",
                                        evidence={"differences": facts["mozilla"]["issues"]}))
    return CheckReport("tls", observations=tuple(observations), facts=facts)


def _suites(result: CipherSuitesScanResult | None) -> list[str] | None:
    """The accepted suite names, or None when the protocol is not supported."""
    if result is None or not result.is_tls_version_supported:
        return None
    return [accepted.cipher_suite.name for accepted in result.accepted_cipher_suites]


def _certificate(chain: list[x509.Certificate], host: str, trusted: bool,
                 facts: dict[str, Any]) -> list[Observation]:
    leaf = chain[0]
    now = dt.datetime.now(dt.UTC)
    not_after, not_before = leaf.not_valid_after_utc, leaf.not_valid_before_utc
    days_left = (not_after - now).days
    key = leaf.public_key()
    key_label, weak_key = _key(key)
    self_signed = leaf.issuer == leaf.subject and len(chain) == 1
    names = _names(leaf)
    facts["certificate"] = {
        "subject": leaf.subject.rfc4514_string(), "issuer": leaf.issuer.rfc4514_string(),
        "not_before": not_before.isoformat(), "not_after": not_after.isoformat(),
        "days_left": days_left, "names": names[:20], "key": key_label, "trusted": trusted,
        "self_signed": self_signed}
    evidence = {"subject": facts["certificate"]["subject"], "not_after": not_after.isoformat()}
    found: list[Observation] = []
    if not_after < now:
        found.append(Observation("tls.cert.expired", evidence=evidence))
    elif days_left < EXPIRY_WARNING_DAYS:
        found.append(Observation("tls.cert.expires_soon", evidence=evidence,
                                 params={"days": str(days_left)}))
    if not_before > now:
        found.append(Observation("tls.cert.not_yet_valid",
                                 evidence={"not_before": not_before.isoformat()}))
    if not _matches(host, names):
        found.append(Observation("tls.cert.hostname_mismatch", subject=host,
                                 evidence={"names": names[:20]}, params={"hostname": host}))
    if self_signed and not trusted:
        found.append(Observation("tls.cert.self_signed", evidence=evidence))
    elif not trusted:
        found.append(Observation("tls.cert.untrusted",
                                 evidence={**evidence, "issuer": leaf.issuer.rfc4514_string()}))
    if weak_key:
        found.append(Observation("tls.cert.weak_key", evidence={"key": key_label},
                                 params={"key": key_label}))
    return found


def _key(key: object) -> tuple[str, bool]:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}", key.key_size < 2048
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size < 256
    return type(key).__name__, False


def _names(cert: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a certificate is valid for (SAN, else the CN)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return ([n.lower() for n in san.get_values_for_type(x509.DNSName)]
            + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)])


def _matches(host: str, names: list[str]) -> bool:
    """RFC 6125 matching: exact name or IP, or a wildcard for the leftmost label only."""
    host = host.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host)) in names
    except ValueError:
        pass
    for name in names:
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _mozilla(result: ServerScanResult) -> dict[str, Any]:
    """Compliance with Mozilla's modern and intermediate profiles (sslyze's checker)."""
    outcome: dict[str, Any] = {}
    for profile in (TlsConfigurationEnum.MOZILLA_MODERN, TlsConfigurationEnum.MOZILLA_INTERMEDIATE):
        try:
            check_server_against_tls_configuration(result, MozillaTlsConfiguration.get(profile))
        except ServerNotCompliantWithTlsConfiguration as exc:
            outcome[profile.value] = False
            if profile is TlsConfigurationEnum.MOZILLA_INTERMEDIATE:
                outcome["issues"] = dict(exc.issues)
        except ServerScanResultIncomplete:
            outcome[profile.value] = None
        else:
            outcome[profile.value] = True
    return outcome
