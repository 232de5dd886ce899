"""The awareness figures the national strategy follows (see :mod:`lakana.core.indicators`),
composed from the training, phishing and skills services (never their tables), with the
definitions of the awareness overview (:mod:`lakana.awareness.dashboard.service`): people
mailed are the base of phishing rates, trainees the base of training coverage, and a security
officer is an active holder of the ECSF CISO profile on the day.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lakana.awareness.phishing import service as phishing
from lakana.awareness.skills import service as skills
from lakana.awareness.skills.schemas import InstitutionStaffing
from lakana.awareness.training import service as training
from lakana.core.auth.rbac import Actor
from lakana.core.i18n import N_
from lakana.core.indicators import IndicatorSource, Measurement, Period

#: The ECSF profile of the institution's security officer (RSSI).
CISO_PROFILE = "ciso"
#: The criticality tier of critical institutions.
CRITICAL_TIER = 1

NO_TRAINEE = N_("No trainee had been registered by the end of the period.")
NO_EXERCISE = N_("No phishing exercise was sent to anyone in the period.")
NO_INSTITUTION = N_("No institution is registered.")
NO_CRITICAL_INSTITUTION = N_("No critical (tier 1) institution is registered.")


def _share(part: int, whole: int) -> float:
    return round(100 * part / whole, 1)


def trained_share(session: Session, actor: Actor, period: Period) -> Measurement:
    """Trainees with a completed training by the period's end, in percent."""
    trainees, trained = training.coverage_on(session=session, actor=actor, day=period.end)
    if not trainees:
        return Measurement.none(NO_TRAINEE)
    return Measurement(value=_share(trained, trainees),
                       inputs={"numerator": trained, "denominator": trainees})


def click_rate(session: Session, actor: Actor, period: Period) -> Measurement:
    """People mailed in the exercises sent in ``period`` who clicked, in percent."""
    exercises = [t for t in phishing.exercise_totals(session=session, actor=actor)
                 if period.start <= t.day <= period.end]
    mailed = sum(t.sent for t in exercises)
    if not mailed:
        return Measurement.none(NO_EXERCISE)
    clicked = sum(t.clicked for t in exercises)
    return Measurement(value=_share(clicked, mailed),
                       inputs={"numerator": clicked, "denominator": mailed,
                               "exercises": len(exercises)})


def _has_ciso(row: InstitutionStaffing) -> bool:
    return any(p.profile_id == CISO_PROFILE and p.held > 0 for p in row.profiles)


def _ciso_share(session: Session, actor: Actor, period: Period, *,
                critical_only: bool) -> Measurement:
    staffing = skills.national_staffing(session=session, actor=actor, day=period.end)
    rows = [r for r in staffing.institutions if not critical_only or r.tier == CRITICAL_TIER]
    if not rows:
        return Measurement.none(NO_CRITICAL_INSTITUTION if critical_only else NO_INSTITUTION)
    staffed = sum(1 for r in rows if _has_ciso(r))
    return Measurement(value=_share(staffed, len(rows)),
                       inputs={"numerator": staffed, "denominator": len(rows),
                               "as_of": period.end.isoformat()})


def ciso_share(session: Session, actor: Actor, period: Period) -> Measurement:
    """Critical institutions with an active security officer on the period's last day."""
    return _ciso_share(session, actor, period, critical_only=True)


def ciso_share_all(session: Session, actor: Actor, period: Period) -> Measurement:
    """Institutions (every tier) with an active security officer on the period's last day."""
    return _ciso_share(session, actor, period, critical_only=False)


SOURCES: tuple[IndicatorSource, ...] = (
    IndicatorSource(
        key="awareness.training.trained_share", label=N_("Staff trained"),
        formula=N_("Trainees with at least one completed training in a session ended by the "
                   "end of the period ÷ trainees registered by then (or trained by then) × "
                   "100."),
        unit="%", compute=trained_share, direction="higher"),
    IndicatorSource(
        key="awareness.phishing.click_rate", label=N_("Phishing exercise click rate"),
        formula=N_("People who clicked the link ÷ people mailed, in the phishing exercises "
                   "sent during the period × 100."),
        unit="%", compute=click_rate, direction="lower"),
    IndicatorSource(
        key="awareness.skills.ciso_share",
        label=N_("Critical institutions with a security officer"),
        formula=N_("Tier 1 institutions with an active holder of the CISO (RSSI) role in the "
                   "skills register on the last day of the period ÷ tier 1 institutions × "
                   "100."),
        unit="%", compute=ciso_share, direction="higher"),
    IndicatorSource(
        key="awareness.skills.ciso_share_all",
        label=N_("Institutions with a security officer"),
        formula=N_("Institutions with an active holder of the CISO (RSSI) role in the skills "
                   "register on the last day of the period ÷ registered institutions × 100."),
        unit="%", compute=ciso_share_all, direction="higher"),
)
