"""Every route of the application, as anonymous, without permission, and from another institution.

The routes are read from the application's route table, so a new route is covered
automatically: a route with a path parameter this file does not know fails the suite until
someone says how to make an object of another institution for it (``OBJECT_MAKERS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.awareness.campaigns import makers as awareness_campaign_makers
from tests.awareness.phishing import makers as phishing_makers
from tests.awareness.skills import makers as skills_makers
from tests.awareness.training import makers as training_makers
from tests.biometry import makers as biometry_makers
from tests.compliance.campaigns import makers as campaign_makers
from tests.compliance.remediation.makers import make_action
from tests.conftest import Factory, csrf_from
from tests.strategy import makers as strategy_makers

#: Routes anyone may call (the log-in flow itself, the language switch, API docs).
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/language"), ("POST", "/logout"),
          ("GET", "/api/docs"),
          # Public incident reports: no account, rate limited (csirt/public_*.py)
          ("GET", "/public/report"), ("POST", "/public/report"), ("GET", "/public/status"),
          ("POST", "/public/status"), ("POST", "/api/v1/public/reports"),
          ("GET", "/api/v1/public/reports/status"),
          # Public advisories and their CSAF 2.0 distribution (csirt/advisory_*.py)
          ("GET", "/advisories"), ("GET", "/advisories/{tracking_id}"),
          ("GET", "/.well-known/csaf/provider-metadata.json"),
          ("GET", "/.well-known/csaf/openpgp/{key_fingerprint}.asc"),
          ("GET", "/.well-known/csaf/white/"), ("GET", "/.well-known/csaf/white/index.txt"),
          ("GET", "/.well-known/csaf/white/changes.csv"),
          ("GET", "/.well-known/csaf/white/{csaf_year}/"),
          ("GET", "/.well-known/csaf/white/{csaf_year}/{csaf_file}"),
          # The biometric registry's citizen pages and public statistics (biometry/
          # pages_citizen.py, pages_oversight.py): no account, throttled, session by SMS code
          ("GET", "/registre"), ("POST", "/registre"), ("GET", "/registre/code"),
          ("POST", "/registre/code"), ("GET", "/registre/moi"), ("POST", "/registre/moi/locks"),
          ("POST", "/registre/moi/complaint"), ("POST", "/registre/logout"),
          ("GET", "/registre/statistiques"), ("GET", "/api/v1/biometry/statistics"),
          # Relying services: their own signed tokens (EdDSA JWT), never a user's
          ("POST", "/api/v1/biometry/relying/verify"),
          ("POST", "/api/v1/biometry/relying/identify"),
          ("POST", "/api/v1/biometry/relying/attributes"),
          # The public training certificate checker (awareness/training/public_pages.py):
          # no account, throttled per address
          ("GET", "/certificats/verifier"), ("POST", "/certificats/verifier"),
          # The public portal and its security advice (awareness/portal/): no account
          ("GET", "/portail"), ("GET", "/portail/conseils"),
          # Phishing exercise tracking (awareness/phishing/public_pages.py, api.py): the
          # signed token is the only credential; any other token is a neutral 404
          ("GET", "/p/o/{tracking_token}"), ("GET", "/p/c/{tracking_token}"),
          ("POST", "/p/s/{tracking_token}"), ("GET", "/p/r/{tracking_token}"),
          ("POST", "/api/v1/awareness/phishing/report")}
#: Routes reachable with a password-only session (the second-factor steps).
PENDING_SESSION = {("GET", "/login/mfa"), ("POST", "/login/mfa"),
                   ("GET", "/login/mfa/enroll"), ("POST", "/login/mfa/enroll")}
#: Routes where any logged-in person acts on their own account or inbox only.
SELF_SERVICE_PREFIXES = ("/account", "/api/v1/me", "/api/v1/tokens", "/notifications",
                         "/api/v1/notifications")

#: The TAXII 2.1 server (csirt/taxii_api.py): its own media type and authentication (HTTP
#: Basic, tokens, or a session); anonymous callers get 401, other refusals are TAXII errors.
TAXII_PREFIX = "/taxii2/"

#: Query strings that GET routes with required query parameters need to answer 200.
REQUIRED_QUERY = {"/audit/export": "from_seq=1&to_seq=1",
                  "/api/v1/audit/export": "from_seq=1&to_seq=1"}

PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")


@dataclass(frozen=True)
class RouteCase:
    """One method of one route."""

    method: str
    path: str

    @property
    def params(self) -> list[str]:
        """The path parameter names."""
        return PARAM.findall(self.path)

    @property
    def is_api(self) -> bool:
        """Whether this is a JSON API route."""
        return self.path.startswith("/api/")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    # FastAPI 0.163 keeps included routers lazily (``original_router`` plus an include
    # context holding the prefix): follow them down to the real APIRoute objects.
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            context_prefix = getattr(getattr(route, "include_context", None), "prefix", "")
            yield from _walk(route.original_router.routes, prefix + context_prefix)


def route_cases(app: FastAPI) -> list[RouteCase]:
    """Every (method, path) of the application's route table."""
    cases = []
    for path, route in _walk(list(app.routes)):
        for method in sorted(route.methods - {"HEAD"}):
            cases.append(RouteCase(method, path))
    return cases


def _route_app() -> FastAPI:
    import tempfile

    from lakana.app import create_app
    from lakana.core.audit.signing import create_key
    from lakana.core.config import Settings

    home = Path(tempfile.mkdtemp(prefix="lakana-routes-"))
    create_key(home / "keys" / "ledger-ed25519.pem")
    settings = Settings(home=home, database_url="sqlite://",  # type: ignore[call-arg]
                        secret_key="x", _env_file=None)
    return create_app(settings)


ROUTE_APP = _route_app()
ALL_CASES = route_cases(ROUTE_APP)


class Objects:
    """Objects of one institution for the path parameters, each made the first time a route
    names it: making every object for every case took most of this file's run time (about
    1.5 s a case), while a route names at most a few."""

    def __init__(self, factory: Factory, institution_id: int) -> None:
        self.factory = factory
        self.institution_id = institution_id
        self._made: dict[str, Any] = {}

    def get(self, name: str, default: Any = None) -> Any:
        """The object for the path parameter ``name`` (made now if need be), or ``default``
        for a parameter no maker knows."""
        if name not in OBJECT_MAKERS:
            return default
        if name not in self._made:
            for needed in MAKER_NEEDS.get(name, ()):
                self.get(needed)
            self._made[name] = OBJECT_MAKERS[name](self.factory, self.institution_id)
        return self._made[name]

    def make_all(self) -> None:
        """Make an object for every known parameter (so lists show the institution's data)."""
        for name in OBJECT_MAKERS:
            self.get(name)


@dataclass
class World:
    """Two institutions, A and B, each with people; objects of B made on demand."""

    factory: Factory
    institution_a: int
    institution_b: int
    objects_b: Objects


def _make_system(world_factory: Factory, institution_id: int) -> int:
    from lakana.core.auth.rbac import system_actor
    from lakana.registry import service as registry_service
    from lakana.registry.schemas import SystemCreate

    with world_factory.session_factory.begin() as session:
        system = registry_service.create_system(
            session=session, actor=system_actor("tests"),
            data=SystemCreate(name="Système B", institution_id=institution_id,
                              purpose="test", criticality="high",
                              data_classification="internal", hosting="own_premises"))
        return system.id


def _make_token(world_factory: Factory, institution_id: int) -> int:
    from lakana.core.auth.models import ApiToken

    owner = world_factory.user(Role.FOCAL_POINT, institution_id=institution_id)
    world_factory.token(owner)
    with world_factory.session_factory() as session:
        token = session.query(ApiToken).filter_by(user_id=owner.id).one()
        return token.id


def _make_notification(world_factory: Factory, institution_id: int) -> int:
    from lakana.core.notifications import service as notifications

    owner = world_factory.user(Role.FOCAL_POINT, institution_id=institution_id)
    with world_factory.session_factory.begin() as session:
        created = notifications.notify(session=session, user_ids=[owner.id],
                                       title="Test", body="", email=False)
        return created[0].id


def _make_catalog_version(world_factory: Factory, institution_id: int) -> int:
    from tests.compliance.conftest import catalog_doc, load

    return load(world_factory.session_factory, catalog_doc())


def _make_requirement(world_factory: Factory, institution_id: int) -> int:
    from lakana.compliance import service as compliance_service
    from lakana.core.auth.rbac import system_actor

    version_id = _make_catalog_version(world_factory, institution_id)
    with world_factory.session_factory() as session:
        return compliance_service.all_requirements(
            session=session, actor=system_actor("tests"), catalog_version_id=version_id)[0].id


def _make_profile(world_factory: Factory, institution_id: int) -> int:
    from tests.compliance.conftest import profile_doc

    _make_catalog_version(world_factory, institution_id)
    from tests.compliance.conftest import load

    return load(world_factory.session_factory, profile_doc())


def _make_risk(world_factory: Factory, institution_id: int) -> int:
    from lakana.compliance.risks import service as risks_service
    from lakana.compliance.risks.schemas import RiskCreate
    from lakana.core.auth.rbac import system_actor

    with world_factory.session_factory.begin() as session:
        return risks_service.create_risk(session=session, actor=system_actor("tests"),
                                         data=RiskCreate(
            institution_id=institution_id, title="Risque B", asset="Serveur",
            threat="Rançongiciel", likelihood=4, impact=5)).id


def _make_priority(world_factory: Factory, institution_id: int) -> int:
    from lakana.compliance.risks import service as risks_service
    from lakana.compliance.risks.schemas import PriorityCreate
    from lakana.core.auth.rbac import system_actor

    risk_id = _make_risk(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        return risks_service.create_priority(session=session, actor=system_actor("tests"),
                                             data=PriorityCreate(title="Priorité B",
                                                                 risk_ids=[risk_id])).id


def _make_csirt_case(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt.models import Case

    with world_factory.session_factory.begin() as session:
        case = Case(title="Incident B", source="institution", institution_id=institution_id)
        session.add(case)
        session.flush()
        return case.id


def _make_clock(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt import clocks
    from lakana.csirt.models import Case

    case_id = _make_csirt_case(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        started = clocks.start_for_case(session, case)
        return next(c.id for c in started if c.clock == "early-warning")


def _make_case_task(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt.models import CaseTask

    case_id = _make_csirt_case(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        task = CaseTask(case_id=case_id, title="Tâche B")
        session.add(task)
        session.flush()
        return task.id


def _make_case_note(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt.models import CaseNote

    case_id = _make_csirt_case(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        note = CaseNote(case_id=case_id, body="Note B", tlp="amber")
        session.add(note)
        session.flush()
        return note.id


def _make_case_attachment(world_factory: Factory, institution_id: int) -> int:
    from lakana.core.auth.rbac import system_actor
    from lakana.csirt import tasks_service

    case_id = _make_csirt_case(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        return tasks_service.add_attachment(
            session=session, actor=system_actor("tests"),
            settings=world_factory.settings,  # type: ignore[attr-defined]
            case_id=case_id, data=b"journal B\n", name="b.txt").id


def _make_case_observable(world_factory: Factory, institution_id: int) -> int:
    from lakana.core.auth.rbac import system_actor
    from lakana.csirt import observable_service

    case_id = _make_csirt_case(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        return observable_service.add_to_case(
            session=session, actor=system_actor("tests"), case_id=case_id, kind=None,
            value=f"case{case_id}.example.ml").id


def _make_advisory(world_factory: Factory, institution_id: int) -> int:
    """A draft advisory: advisories belong to no institution, and a draft is the centre's
    alone (anyone else gets 404)."""
    from lakana.core.auth.rbac import system_actor
    from lakana.csirt import advisories
    from lakana.csirt.advisories import AdvisoryCreate

    with world_factory.session_factory.begin() as session:
        return advisories.create_advisory(
            session=session, actor=system_actor("tests"), data=AdvisoryCreate(
                title_fr="Avis B", summary_fr="Brouillon", audience="institutions",
                tlp="green")).id


def _advisory_file(world_factory: Factory, institution_id: int) -> str:
    """The CSAF file name of the newest advisory (made just before by ``_make_advisory``)."""
    from sqlalchemy import select

    from lakana.csirt import csaf
    from lakana.csirt.advisory_models import Advisory

    with world_factory.session_factory() as session:
        tracking_id = session.scalars(select(Advisory.tracking_id)
                                      .order_by(Advisory.id.desc())).first()
    return csaf.file_name(tracking_id or "none")


def _advisory_tracking_id(world_factory: Factory, institution_id: int) -> str:
    from sqlalchemy import select

    from lakana.csirt.advisory_models import Advisory

    advisory_id = _make_advisory(world_factory, institution_id)
    with world_factory.session_factory() as session:
        return session.scalars(select(Advisory.tracking_id)
                               .where(Advisory.id == advisory_id)).one()


def _make_notice(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt.coordination_models import CaseNotice

    case_id = _make_csirt_case(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        notice = CaseNotice(case_id=case_id, institution_id=institution_id, message="Avis B",
                            tlp="amber")
        session.add(notice)
        session.flush()
        return notice.id


def _make_webhook(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt.coordination_models import Webhook

    with world_factory.session_factory.begin() as session:
        hook = Webhook(institution_id=institution_id, url="https://8.8.8.8/hook",
                       secret_encrypted="v1.x", events=["case.notification"])
        session.add(hook)
        session.flush()
        return hook.id


def _make_webhook_delivery(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt.coordination_models import WebhookDelivery

    hook_id = _make_webhook(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        delivery = WebhookDelivery(webhook_id=hook_id, event="test", payload={},
                                   status="failed")
        session.add(delivery)
        session.flush()
        return delivery.id


def _make_observable(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt.models import CaseObservable

    link_id = _make_case_observable(world_factory, institution_id)
    with world_factory.session_factory() as session:
        link = session.get(CaseObservable, link_id)
        assert link is not None
        return link.observable_id


def _sharing_group(world_factory: Factory, institution_id: int) -> int:
    from lakana.core.auth import sharing
    from lakana.core.auth.rbac import system_actor

    name = f"routes-{institution_id}"
    with world_factory.session_factory.begin() as session:
        try:
            return sharing.get_group_by_name(session=session, name=name).id
        except Exception:
            return sharing.create_group(session=session, actor=system_actor("tests"),
                                        name=name).id


def _make_collection(world_factory: Factory, institution_id: int) -> str:
    # A sharing group's TAXII collection (groups belong to no institution: the focal point
    # of A is refused because it pulls nothing, and answered 404 like any unknown collection)
    from lakana.csirt.sharing_service import collection_id

    return collection_id(_sharing_group(world_factory, institution_id))


def _make_shared_object(world_factory: Factory, institution_id: int) -> str:
    import uuid

    from lakana.core.db import utcnow
    from lakana.csirt.sharing_models import SharedObject

    stix_id = f"identity--{uuid.uuid4()}"
    with world_factory.session_factory.begin() as session:
        session.add(SharedObject(
            group_id=_sharing_group(world_factory, institution_id), stix_id=stix_id,
            stix_type="identity", version="2026-01-01T00:00:00.000Z", version_at=utcnow(),
            payload={"type": "identity", "id": stix_id, "spec_version": "2.1",
                     "name": "Routes", "created": "2026-01-01T00:00:00.000Z",
                     "modified": "2026-01-01T00:00:00.000Z"}))
    return stix_id


def _make_case_share(world_factory: Factory, institution_id: int) -> int:
    from lakana.csirt.sharing_models import CaseShare

    case_id = _make_csirt_case(world_factory, institution_id)
    with world_factory.session_factory.begin() as session:
        share = CaseShare(case_id=case_id, group_id=_sharing_group(world_factory,
                                                                   institution_id))
        session.add(share)
        session.flush()
        return share.id


#: Parameters of national objects (the security baseline belongs to no institution): everyone
#: may read them, so another institution's person gets 200 on GET and 403 on writes.
def _make_exposure_finding(world_factory: Factory, institution_id: int) -> int:
    import uuid

    from lakana.monitoring.exposure.models import ExposureFinding
    with world_factory.session_factory.begin() as session:
        finding = ExposureFinding(
            fingerprint=uuid.uuid4().hex * 2, institution_id=institution_id,
            target="url:https://b.example.ml/", check_id="tls",
            issue_id="tls.protocol.tls1_0", subject="TLSv1.0", severity="high")
        session.add(finding)
        session.flush()
        return finding.id


def _make_exposure_scan(world_factory: Factory, institution_id: int) -> int:
    from lakana.monitoring.exposure.models import ExposureScan
    with world_factory.session_factory.begin() as session:
        scan = ExposureScan(institution_id=institution_id, status="done", checks=["tls"])
        session.add(scan)
        session.flush()
        return scan.id


def _make_detection_alert(world_factory: Factory, institution_id: int) -> int:
    from lakana.monitoring.detection.models import DetectionAlert
    with world_factory.session_factory.begin() as session:
        alert = DetectionAlert(
            group_key="0" * 64, institution_id=institution_id,
            rule_id="aa7eeeea-cfbd-54ef-bd13-57d70607ba4b",
            rule_title="SSH login attempt with an invalid user", level="medium",
            subject="203.0.113.9")
        session.add(alert)
        session.flush()
        return alert.id


# --- detection policies (helper POLICIES) ---
def _make_escalation_rule(world_factory: Factory, institution_id: int) -> int:
    from lakana.monitoring.detection.models import EscalationRule
    with world_factory.session_factory.begin() as session:
        rule = EscalationRule(rule_id="", min_level="critical", institution_id=institution_id,
                              reason="test")
        session.add(rule)
        session.flush()
        return rule.id
# --- end detection policies ---


# --- syslog senders (helper SYSLOG) ---
def _make_syslog_source(world_factory: Factory, institution_id: int) -> int:
    from lakana.monitoring.detection.models import SyslogSource
    with world_factory.session_factory.begin() as session:
        source = SyslogSource(institution_id=institution_id,
                              network=f"198.51.100.{institution_id % 250}/32")
        session.add(source)
        session.flush()
        return source.id
# --- end syslog senders ---


#: Objects of the biometric registry (national, and readable by registry roles only).
REGISTRY_PARAMS = {"person_id", "adjudication_id", "capture_id", "complaint_id", "service_id",
                   "enrollment_id", "position", "abis_request_id"}
NATIONAL_PARAMS = {"catalog_version_id", "requirement_id", "profile_id", "priority_id",
                   "source", "course_id", "session_id",
                   # awareness campaigns (awareness/campaigns/) are national
                   "awareness_campaign_id", "reach_id", "outcome_id",
                   # the national strategy's action plan (strategy/) is national
                   "strategy_action_id", "indicator_code", "snapshot_label",
                   "axis_code", "objective_code",
                   # and so is its ITU GCI self-assessment (strategy/gci*.py)
                   "question_code"}

#: How to make, for a path parameter, an object that belongs to institution B (or to a
#: person of B, for objects owned by a person).
OBJECT_MAKERS: dict[str, Callable[[Factory, int], Any]] = {
    "institution_id": lambda f, b: b,
    "system_id": _make_system,
    "user_id": lambda f, b: f.user(Role.FOCAL_POINT, institution_id=b).id,
    "token_id": _make_token,
    "notification_id": _make_notification,
    "catalog_version_id": _make_catalog_version,
    "requirement_id": _make_requirement,
    "profile_id": _make_profile,
    "campaign_id": campaign_makers.make_campaign,
    "assessment_id": campaign_makers.make_assessment,
    "answer_id": campaign_makers.make_answer,
    "evidence_id": lambda f, b: campaign_makers.make_evidence(f, b, f.settings),
    "risk_id": _make_risk,
    "action_id": make_action,
    "priority_id": _make_priority,
    "case_id": _make_csirt_case,
    "clock_id": _make_clock,
    "task_id": _make_case_task,
    "note_id": _make_case_note,
    "attachment_id": _make_case_attachment,
    "case_observable_id": _make_case_observable,
    "observable_id": _make_observable,
    "tracking_id": _advisory_tracking_id,
    "advisory_id": _make_advisory,
    "csaf_file": _advisory_file,
    "csaf_year": lambda f, b: "2026",
    "key_fingerprint": lambda f, b: "0" * 40,
    "collection_id": _make_collection,
    "object_id": _make_shared_object,
    "share_id": _make_case_share,
    "notice_id": _make_notice,
    "webhook_id": _make_webhook,
    "delivery_id": _make_webhook_delivery,
    "finding_id": _make_exposure_finding,
    "alert_id": _make_detection_alert,
    "scan_id": _make_exposure_scan,
    "source": lambda f, b: "kev",
    "source_id": _make_syslog_source,  # syslog senders (helper SYSLOG)
    "escalation_id": _make_escalation_rule,  # detection policies
    "holder_id": skills_makers.make_holder,  # the skills register (awareness/skills/)
    "certification_id": skills_makers.make_certification,
    # Training (awareness/training/): the catalogue (courses, sessions) is national;
    # trainees, enrolments and certificates belong to the trainee's institution
    "course_id": training_makers.make_course,
    "session_id": training_makers.make_session,
    "trainee_id": training_makers.make_trainee,
    "enrolment_id": training_makers.make_enrolment,
    "certificate_id": training_makers.make_certificate,
    # Phishing exercises (awareness/phishing/): an exercise belongs to its institution;
    # tracking tokens are signed, so a maker can only forge one (404 for everyone)
    "exercise_id": phishing_makers.make_exercise,
    "tracking_token": phishing_makers.forged_token,
    # Awareness campaigns (awareness/campaigns/): national, run by the agency
    "awareness_campaign_id": awareness_campaign_makers.make_campaign,
    "reach_id": awareness_campaign_makers.make_reach,
    "outcome_id": awareness_campaign_makers.make_outcome,
    # National strategy (strategy/): the action plan is national, edited by the agency
    "strategy_action_id": strategy_makers.make_action,
    "indicator_code": strategy_makers.make_indicator,
    "axis_code": strategy_makers.make_axis,
    "objective_code": strategy_makers.make_objective,
    "snapshot_label": strategy_makers.make_snapshot,  # snapshots and their reports
    # the GCI questions are fixed (strategy/data/gci.yaml): a code, not a row
    "question_code": lambda f, b: "LEG-1",
    # The biometric registry: national objects, not an institution's
    "person_id": biometry_makers.make_person,
    "adjudication_id": biometry_makers.make_adjudication,
    "capture_id": biometry_makers.make_capture,
    "complaint_id": biometry_makers.make_complaint,
    "service_id": biometry_makers.make_relying_service,
    "enrollment_id": biometry_makers.make_enrollment,
    "position": lambda f, b: 2,
    "abis_request_id": biometry_makers.make_abis_request,  # MOSIP ABIS (biometry/abis/)
}


@pytest.fixture
def world(factory: Factory, settings: Any) -> World:
    """Institutions A and B; objects of B for every known path parameter."""
    factory.settings = settings  # type: ignore[attr-defined]  # evidence files need the home
    a = factory.institution("AAA")
    b = factory.institution("BBB")
    return World(factory, a, b, Objects(factory, b))


#: Makers that read what another maker made (the CSAF file of the newest advisory).
MAKER_NEEDS: dict[str, tuple[str, ...]] = {"csaf_file": ("advisory_id",)}


def _fill(case: RouteCase, values: Objects | dict[str, Any]) -> str:
    path = case.path
    for name in case.params:
        path = re.sub(rf"{{{name}(?::[a-z]+)?}}", str(values.get(name, 999999)), path)
    return path


def _call(client: TestClient, case: RouteCase, path: str, csrf: str | None) -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    headers["Accept"] = "application/json" if case.is_api else "text/html"
    if case.path.startswith(TAXII_PREFIX):
        headers["Accept"] = "application/taxii+json;version=2.1"  # TAXII answers 406 to HTML
    if case.method in ("GET", "DELETE"):
        return client.request(case.method, path, headers=headers, follow_redirects=False)
    return client.request(case.method, path, headers=headers, json={},
                          follow_redirects=False)


@pytest.fixture
def anonymous(client: TestClient) -> Iterator[tuple[TestClient, str]]:
    """An anonymous browser with a valid pre-session CSRF token."""
    page = client.get("/login")
    yield client, csrf_from(page.text)


def test_route_table_is_not_empty() -> None:
    """Guard: the parametrised tests below really run over every route."""
    assert len(ALL_CASES) > 10
    # Every operation of the OpenAPI document is in the walked table (no route escapes).
    walked = {(c.method, c.path) for c in ALL_CASES}
    schema = ROUTE_APP.openapi()
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert documented <= walked, documented - walked


def test_every_path_parameter_has_an_object_maker() -> None:
    """A new route with an unknown path parameter must say how to make a foreign object."""
    unknown = {p for case in ALL_CASES for p in case.params} - set(OBJECT_MAKERS)
    assert not unknown, f"add OBJECT_MAKERS entries for: {sorted(unknown)}"


@pytest.mark.parametrize("case", [c for c in ALL_CASES if (c.method, c.path) not in PUBLIC],
                         ids=str)
def test_anonymous_is_refused(case: RouteCase, anonymous: tuple[TestClient, str]) -> None:
    """Without credentials: 401 for the API, a redirect to the log-in page for pages."""
    client, csrf = anonymous
    # When an anonymous visitor calls the route (with a valid CSRF token, to reach auth)
    response = _call(client, case, _fill(case, {}), csrf)
    # Then they are turned away before anything happens
    if case.is_api:
        assert response.status_code == 401, (str(case), response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json")
    else:
        assert response.status_code in (303, 401), (str(case), response.status_code)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/login")


def _is_self_service(case: RouteCase) -> bool:
    return case.path.startswith(SELF_SERVICE_PREFIXES) or (case.method, case.path) in \
        PUBLIC | PENDING_SESSION


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.params], ids=str)
def test_other_institution_gets_404(case: RouteCase, world: World,
                                    login_as: Callable[..., TestClient],
                                    api_as: Callable[..., TestClient]) -> None:
    """A focal point of A never learns that an object of B exists."""
    # Given a focal point of institution A
    user = world.factory.user(Role.FOCAL_POINT, institution_id=world.institution_a)
    client = api_as(user) if case.is_api else login_as(user)
    csrf = None if case.is_api else csrf_from(client.get("/account").text)
    # When they address an object of institution B
    response = _call(client, case, _fill(case, world.objects_b), csrf)
    # Then the answer is 404 (422 only for a body that fails validation before any lookup);
    # national objects are readable by everyone, and writable only by the agency
    if set(case.params) <= NATIONAL_PARAMS:
        allowed = {200} if case.method == "GET" else {403}
    elif set(case.params) <= REGISTRY_PARAMS:
        # The biometric registry belongs to no institution: without a registry role the
        # answer is a refusal before any lookup, or "does not exist" (422 only for a body
        # that fails validation first)
        allowed = {403, 404} if case.method in ("GET", "DELETE") else {403, 404, 422}
    else:
        allowed = {404} if case.method in ("GET", "DELETE") else {404, 422}
    assert response.status_code in allowed, (str(case), response.status_code,
                                             response.text[:300])


@pytest.mark.parametrize(
    "case", [c for c in ALL_CASES if c.method != "GET" and not _is_self_service(c)], ids=str)
def test_read_only_viewer_cannot_change_anything(case: RouteCase, world: World,
                                                 login_as: Callable[..., TestClient],
                                                 api_as: Callable[..., TestClient]) -> None:
    """An institution viewer (read-only) is refused every unsafe route, even on own objects."""
    # Given a viewer of institution A, and objects of A for every parameter
    user = world.factory.user(Role.INSTITUTION_VIEWER, institution_id=world.institution_a)
    objects_a = Objects(world.factory, world.institution_a)
    client = api_as(user) if case.is_api else login_as(user)
    csrf = None if case.is_api else csrf_from(client.get("/account").text)
    # When they call an unsafe route
    response = _call(client, case, _fill(case, objects_a), csrf)
    # Then it is refused (403, or 404 where even reading is out of reach, 422 on bad body)
    assert response.status_code in (403, 404, 422), (str(case), response.status_code,
                                                     response.text[:300])


@pytest.mark.parametrize(
    "case", [c for c in ALL_CASES if c.method == "GET" and (c.method, c.path) not in PUBLIC
             and (c.method, c.path) not in PENDING_SESSION], ids=str)
def test_administrator_reaches_every_page(case: RouteCase, world: World,
                                          login_as: Callable[..., TestClient],
                                          api_as: Callable[..., TestClient]) -> None:
    """With every permission, each GET route answers (no 4xx/5xx) on B's objects."""
    admin = world.factory.user(Role.PLATFORM_ADMIN)
    # Every object of B exists, so list pages render rows, not only empty tables
    world.objects_b.make_all()
    client = api_as(admin) if case.is_api else login_as(admin)
    path = _fill(case, world.objects_b)
    if case.path in REQUIRED_QUERY:
        path += "?" + REQUIRED_QUERY[case.path]
    response = _call(client, case, path, None)
    assert response.status_code < 400, (str(case), response.status_code, response.text[:300])
