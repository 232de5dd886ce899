"""The national severity scale of an incident, computed from a few facts, with its reasons.

The level is the highest one reached by any of the rules below; each rule that fires adds a
reason (an English message id with parameters, translated when shown on the case page), so
anyone can see *why* a case is critical. A case template may add a floor ("a ransomware is
at least high"), which is a rule too.

==========  ======================================================================
level       reached when any of these holds
==========  ======================================================================
critical    biometric data are involved;
            two institutions or more are affected;
            a service of a tier-1 institution is unavailable;
            100 000 people or more are affected.
high        a service is unavailable (tier 2 or 3, or tier unknown);
            a service of a tier-1 institution is degraded;
            personal data are involved;
            1 000 people or more are affected.
medium      a service is degraded (tier 2 or 3, or tier unknown);
            50 people or more are affected;
            the institution is of tier 1 (vital to the nation);
            the case template's floor is medium.
low         none of the above.
==========  ======================================================================

Tiers come from the registry (1 = vital, 2 = important, 3 = other). The same inputs always
give the same level: nothing here reads the clock or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lakana.core.i18n import N_, gettext


class Severity(StrEnum):
    """A level of the national scale."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ServiceImpact(StrEnum):
    """What the incident does to the institution's service."""

    NONE = "none"
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"


#: From the least to the most severe.
ORDER: tuple[Severity, ...] = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
LABELS: dict[str, str] = {"low": N_("Low"), "medium": N_("Medium"), "high": N_("High"),
                          "critical": N_("Critical")}
IMPACT_LABELS: dict[str, str] = {"none": N_("No impact on the service"),
                                 "degraded": N_("Service degraded"),
                                 "unavailable": N_("Service unavailable")}
#: People affected from which a case reaches each level.
PEOPLE_CRITICAL = 100_000
PEOPLE_HIGH = 1_000
PEOPLE_MEDIUM = 50


@dataclass(frozen=True)
class Reason:
    """One rule that fired: the level it gives and why (a message id with parameters)."""

    level: Severity
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The reason in the current language."""
        return gettext(self.message, **self.params)


@dataclass(frozen=True)
class Assessment:
    """The level and every reason that led to it (most severe first)."""

    level: Severity
    reasons: tuple[Reason, ...]


def rank(level: str) -> int:
    """The position of ``level`` in :data:`ORDER` (0 = low)."""
    return ORDER.index(Severity(level))


def _impact_reasons(impact: ServiceImpact, tier: int | None) -> list[Reason]:
    if impact is ServiceImpact.UNAVAILABLE:
        if tier == 1:
            return [Reason(Severity.CRITICAL,
                           N_("A service of a tier-1 institution is unavailable."))]
        return [Reason(Severity.HIGH, N_("A service is unavailable."))]
    if impact is ServiceImpact.DEGRADED:
        if tier == 1:
            return [Reason(Severity.HIGH, N_("A service of a tier-1 institution is degraded."))]
        return [Reason(Severity.MEDIUM, N_("A service is degraded."))]
    return []


def _people_reasons(people: int | None) -> list[Reason]:
    if people is None:
        return []
    for threshold, level in ((PEOPLE_CRITICAL, Severity.CRITICAL),
                             (PEOPLE_HIGH, Severity.HIGH), (PEOPLE_MEDIUM, Severity.MEDIUM)):
        if people >= threshold:
            return [Reason(level, N_("%(count)s people affected (%(threshold)s or more)."),
                           {"count": people, "threshold": threshold})]
    return []


def assess(*, service_impact: str = "none", people_affected: int | None = None,
           personal_data: bool = False, biometric_data: bool = False,
           institutions_affected: int = 1, tier: int | None = None,
           floor: str | None = None) -> Assessment:
    """The level of an incident from its facts (see the module's table) and its reasons.

    ``tier`` is the affected institution's criticality tier (None when unknown, for a public
    report not yet attributed); ``floor`` a minimum level set by a case template.
    """
    reasons: list[Reason] = []
    if biometric_data:
        reasons.append(Reason(Severity.CRITICAL, N_("Biometric data are involved.")))
    if institutions_affected >= 2:
        reasons.append(Reason(Severity.CRITICAL,
                              N_("%(count)s institutions are affected."),
                              {"count": institutions_affected}))
    reasons += _impact_reasons(ServiceImpact(service_impact), tier)
    if personal_data:
        reasons.append(Reason(Severity.HIGH, N_("Personal data are involved.")))
    reasons += _people_reasons(people_affected)
    if tier == 1:
        reasons.append(Reason(Severity.MEDIUM,
                              N_("The institution is of tier 1 (vital to the nation).")))
    if floor is not None and Severity(floor) is not Severity.LOW:
        reasons.append(Reason(Severity(floor),
                              N_("The case template sets this level at least.")))
    if not reasons:
        return Assessment(Severity.LOW, (Reason(Severity.LOW, N_(
            "No aggravating factor: no service impact, no sensitive data, one institution.")),))
    reasons.sort(key=lambda r: -rank(r.level))
    return Assessment(reasons[0].level, tuple(reasons))
