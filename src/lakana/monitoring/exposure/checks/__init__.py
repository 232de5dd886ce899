"""The built-in exposure checks, listed explicitly (no module scanning)."""

from __future__ import annotations

from lakana.monitoring.exposure.checks.base import Check


def builtin_checks() -> dict[str, type[Check]]:
    """Every built-in check class by id, in the order a scan runs them."""
    from lakana.monitoring.exposure.checks.dns_mail import DnsMailCheck
    from lakana.monitoring.exposure.checks.http_headers import HttpHeadersCheck
    from lakana.monitoring.exposure.checks.ports import OpenPortsCheck
    from lakana.monitoring.exposure.checks.sensitive_paths import SensitivePathsCheck
    from lakana.monitoring.exposure.checks.software import SoftwareCheck
    from lakana.monitoring.exposure.checks.tls import TlsCheck

    classes: list[type[Check]] = [TlsCheck, HttpHeadersCheck, SensitivePathsCheck, OpenPortsCheck,
                                  SoftwareCheck, DnsMailCheck]
    return {cls.id: cls for cls in classes}
