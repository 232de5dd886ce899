"""Hand-over of a case to other authorities, and the reports that go with it.

Two hand-overs are tracked on the case:

* **data protection authority** (APDP, law 2013-015): a personal-data breach is notified;
  recording the notification also meets the APDP statutory clock (``dpa_notified``);
* **cybercrime referral** to the judicial police (law 2019-056).

Each is first *flagged* (needed) by an analyst, then *marked done* with its date. The
generated report (French: it goes to Malian authorities) gathers the case's facts:
reference, institution, dates, taxonomy, data and people affected, the measures taken
(timeline events of kind ``incident`` and ``status`` the reader may see) and the contact at
the centre; it is an HTML page and a PDF drawn by WeasyPrint, which fetches nothing
(every URL but ``data:`` is refused). Generating one is ledgered as a read of the case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.audit import record, record_read
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import check_version, flush_or_conflict
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Conflict, Invalid
from lakana.core.i18n import N_
from lakana.core.web import pdf
from lakana.core.web.templating import build_environment
from lakana.csirt import access, clocks, severity, taxonomy, timeline, tlp
from lakana.csirt.models import Case, CaseEvent
from lakana.csirt.permissions import CsirtPermission
from lakana.registry import service as registry_service

TEMPLATES_DIR = Path(__file__).parent / "templates"
DOCUMENT = "csirt/clocks/handover_document.html"
KINDS = ("dpa", "referral")
#: Kinds of timeline events that describe the measures taken.
MEASURE_KINDS = ("incident", "status")
REPORT_LANGUAGE = "fr"
PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; color: #111; }
h1 { font-size: 16pt; margin: 0 0 4mm; } h2 { font-size: 12pt; margin: 6mm 0 2mm; }
dl { display: grid; grid-template-columns: 45mm auto; gap: 1mm 4mm; }
dt { font-weight: bold; } dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 0.3mm solid #999; padding: 1mm 2mm; text-align: left; vertical-align: top; }
.tlp { font-weight: bold; } .hint { color: #444; font-size: 9pt; }
.report-actions { display: none; }
"""


@dataclass(frozen=True)
class Measure:
    """A measure taken (or a step of the case), as the report lists it."""

    at: dt.datetime
    kind: str
    text: str


@dataclass(frozen=True)
class HandoverReport:
    """Everything a hand-over report shows."""

    kind: str
    title: str
    case: Case
    institution: str
    taxonomy: str
    measures: tuple[Measure, ...]
    contact_name: str
    contact_email: str
    generated_at: dt.datetime
    generated_by: str
    tlp_label: str


# --- flags ------------------------------------------------------------------------------

def _flag_state(case: Case) -> dict[str, Any]:
    return {"dpa_notice_required": case.dpa_notice_required,
            "dpa_notified_at": case.dpa_notified_at.isoformat() if case.dpa_notified_at else None,
            "cybercrime_referral": case.cybercrime_referral,
            "referred_at": case.referred_at.isoformat() if case.referred_at else None}


def _change(session: Session, actor: Actor, case: Case, action: str, before: dict[str, Any],
            message: str, params: dict[str, Any] | None = None) -> Case:
    case.updated_at = utcnow()
    flush_or_conflict(session)
    timeline.add_event(session, case, kind="flag", actor=actor, message=message,
                       params=params or {})
    record(session=session, actor=actor, action=f"csirt.case.{action}",
           object_type="csirt.case", object_id=case.id, object_repr=case.reference or "",
           before=before, after=_flag_state(case), institution_id=case.institution_id)
    return case


def check_can_hand_over(*, session: Session, actor: Actor, case_id: int) -> Case:
    """The case if the actor may hand it over (404 when invisible, 403 without the right)."""
    return access.get_case(session, actor, case_id, CsirtPermission.CASE_MANAGE)


def _managed(session: Session, actor: Actor, case_id: int, version: int | None) -> Case:
    case = access.get_case(session, actor, case_id, CsirtPermission.CASE_MANAGE)
    if version is not None:
        check_version(case.version, version)
    return case


def flag_dpa_notice(*, session: Session, actor: Actor, case_id: int, required: bool = True,
                    version: int | None = None) -> Case:
    """Say whether the case must be notified to the data protection authority (APDP)."""
    case = _managed(session, actor, case_id, version)
    if not required and case.dpa_notified_at is not None:
        raise Conflict("The authority was already notified: the flag stays.")
    before = _flag_state(case)
    case.dpa_notice_required = required
    return _change(session, actor, case, "flag_dpa", before,
                   N_("Notice to the data protection authority (APDP) flagged as needed.")
                   if required else
                   N_("Notice to the data protection authority (APDP) no longer needed."))


def flag_cybercrime_referral(*, session: Session, actor: Actor, case_id: int,
                             required: bool = True, version: int | None = None) -> Case:
    """Say whether the case must be referred to the judicial police (cybercrime)."""
    case = _managed(session, actor, case_id, version)
    if not required and case.referred_at is not None:
        raise Conflict("The case was already referred: the flag stays.")
    before = _flag_state(case)
    case.cybercrime_referral = required
    return _change(session, actor, case, "flag_referral", before,
                   N_("Referral to the judicial police (cybercrime) flagged as needed.")
                   if required else
                   N_("Referral to the judicial police (cybercrime) no longer needed."))


def _when(at: dt.datetime | None, case: Case) -> dt.datetime:
    moment = as_utc(at) if at is not None else utcnow()
    if moment > utcnow() + dt.timedelta(minutes=5):
        raise Invalid("The date cannot be in the future.")
    if moment < as_utc(case.reported_at) - dt.timedelta(days=366):
        raise Invalid("The date is too far before the report.")
    return moment


def mark_dpa_notified(*, session: Session, actor: Actor, case_id: int,
                      at: dt.datetime | None = None, version: int | None = None) -> Case:
    """Record that the APDP was notified (at ``at``, now by default); meets the APDP clock."""
    case = _managed(session, actor, case_id, version)
    if not case.dpa_notice_required:
        raise Conflict("Flag the notice to the authority as needed first.")
    if case.dpa_notified_at is not None:
        raise Conflict("The authority was already notified.")
    before = _flag_state(case)
    case.dpa_notified_at = _when(at, case)
    _change(session, actor, case, "dpa_notified", before,
            N_("Data protection authority (APDP) notified on %(date)s."),
            {"date": case.dpa_notified_at.strftime("%Y-%m-%d %H:%M")})
    clocks.sync_automatic(session, case, actor=actor)
    return case


def mark_referred(*, session: Session, actor: Actor, case_id: int,
                  at: dt.datetime | None = None, version: int | None = None) -> Case:
    """Record that the case was referred to the judicial police (at ``at``, now by default)."""
    case = _managed(session, actor, case_id, version)
    if not case.cybercrime_referral:
        raise Conflict("Flag the referral as needed first.")
    if case.referred_at is not None:
        raise Conflict("The case was already referred.")
    before = _flag_state(case)
    case.referred_at = _when(at, case)
    return _change(session, actor, case, "referred", before,
                   N_("Case referred to the judicial police on %(date)s."),
                   {"date": case.referred_at.strftime("%Y-%m-%d %H:%M")})


# --- reports ----------------------------------------------------------------------------

def _event_text(event: CaseEvent) -> str:
    # The cases helper's renderer translates label parameters too; imported late because
    # it lives in a module that imports much of the package.
    from lakana.csirt.tasks_service import event_text

    return event_text(event)


def _measures(session: Session, actor: Actor, case: Case) -> tuple[Measure, ...]:
    named = {case.assignee_id, case.reporter_user_id}
    rows = session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind.in_(MEASURE_KINDS))
        .order_by(CaseEvent.at, CaseEvent.id))
    return tuple(Measure(at=as_utc(e.at), kind=e.kind, text=_event_text(e)) for e in rows
                 if e.actor == actor.name or tlp.can_see(actor, e.tlp, named_user_ids=named))


def _contact(session: Session, actor: Actor, case: Case) -> tuple[str, str]:
    """The person to contact at the centre: the case's assignee, else whoever generates."""
    for user_id in (case.assignee_id, actor.user_id):
        if user_id is not None:
            user = session.get(User, user_id)
            if user is not None:
                return user.full_name, user.email
    return actor.name, ""


def build_report(*, session: Session, actor: Actor, case_id: int, kind: str) -> HandoverReport:
    """Gather the facts of a hand-over report (analysts only); the generation is ledgered."""
    if kind not in KINDS:
        raise Invalid("Unknown hand-over %(value)s.", value=kind[:20])
    case = access.get_case(session, actor, case_id, CsirtPermission.CASE_MANAGE)
    institution = ""
    if case.institution_id is not None:
        institution = dict(registry_service.institution_choices(session=session)).get(
            case.institution_id, "")
    with i18n.use_language(REPORT_LANGUAGE):
        title = i18n.gettext(N_("Personal data breach notice") if kind == "dpa"
                             else N_("Referral of a cybercrime case"))
        klass = taxonomy.label(case.taxonomy_class, case.taxonomy_type, REPORT_LANGUAGE) \
            if case.taxonomy_class else ""
        measures = _measures(session, actor, case)
        tlp_label = i18n.gettext(tlp.LABELS[tlp.Tlp(case.tlp)])
    name, email = _contact(session, actor, case)
    record_read(session=session, actor=actor, object_type="csirt.case", object_id=case.id,
                object_repr=case.reference or "", institution_id=case.institution_id,
                reason=f"hand-over report ({kind})")
    return HandoverReport(kind=kind, title=title, case=case, institution=institution,
                          taxonomy=klass, measures=measures, contact_name=name,
                          contact_email=email, generated_at=utcnow(), generated_by=actor.name,
                          tlp_label=tlp_label)


def _environment() -> jinja2.Environment:
    return build_environment([TEMPLATES_DIR])


def report_context(report: HandoverReport) -> dict[str, Any]:
    """What the report templates need (the document and the page alike)."""
    return {"report": report, "case": report.case, "as_utc": as_utc,
            "severity_labels": severity.LABELS}


def render_document(report: HandoverReport) -> str:
    """The standalone report page (French), as the PDF draws it."""
    with i18n.use_language(REPORT_LANGUAGE):
        return _environment().get_template(DOCUMENT).render(report_context(report))


def render_dpa_notice(*, session: Session, actor: Actor, case_id: int) -> str:
    """The personal-data breach notice to the APDP, as a standalone HTML document."""
    return render_document(build_report(session=session, actor=actor, case_id=case_id,
                                        kind="dpa"))


def render_referral(*, session: Session, actor: Actor, case_id: int) -> str:
    """The referral to the judicial police, as a standalone HTML document."""
    return render_document(build_report(session=session, actor=actor, case_id=case_id,
                                        kind="referral"))


def to_pdf(html: str) -> bytes:
    """The PDF of a standalone report (A4; nothing fetched from outside)."""
    return pdf.to_pdf(html, stylesheet=PRINT_CSS)


def report_pdf(*, session: Session, actor: Actor, case_id: int, kind: str) -> tuple[bytes, str]:
    """A hand-over report as PDF, with its file name."""
    report = build_report(session=session, actor=actor, case_id=case_id, kind=kind)
    name = f"{report.case.reference or report.case.id}-{kind}.pdf"
    return to_pdf(render_document(report)), name
