"""Lifecycle events reach webhooks: a case's status change goes to its institution's
webhooks (title withheld for labels that never leave), a published advisory to every
subscriber."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.config import Settings
from lakana.csirt import advisories, advisory_demo, service, webhooks
from lakana.csirt.advisories import AdvisoryCreate
from lakana.csirt.coordination_models import WebhookDelivery
from lakana.csirt.models import Case
from lakana.csirt.schemas import CaseTransition, Status
from tests.csirt.conftest import ADMIN, Institutions, actor_of


def _subscribe(session_factory: sessionmaker[Session], settings: Settings, user: User,
               events: list[str]) -> int:
    settings.webhook_allow_http = True  # the URL is never called here: nothing runs jobs
    with session_factory.begin() as session:
        hook, _secret = webhooks.create_webhook(
            session=session, actor=actor_of(user), settings=settings,
            url="http://127.0.0.1:9/hook", events=events)
        return hook.id


def _payloads(session_factory: sessionmaker[Session], hook_id: int) -> list[dict[str, object]]:
    with session_factory() as session:
        return [d.payload for d in session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id)
            .order_by(WebhookDelivery.id))]


def _move(session_factory: sessionmaker[Session], case_id: int, to: Status) -> None:
    with session_factory.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        service.transition(session=session, actor=ADMIN, case_id=case_id,
                           data=CaseTransition(to=to, version=case.version))


def test_status_changes_reach_the_institutions_webhooks_only(
        session_factory: sessionmaker[Session], settings: Settings, focal_a: User,
        focal_b: User, csirt_institutions: Institutions,
        make_case: Callable[..., int]) -> None:
    a_hook = _subscribe(session_factory, settings, focal_a, ["case.status_changed"])
    b_hook = _subscribe(session_factory, settings, focal_b, ["case.status_changed"])
    green = make_case(csirt_institutions.a, title="Défacement du portail", tlp="green")
    red = make_case(csirt_institutions.a, title="Compromission du DG", tlp="red")
    _move(session_factory, green, Status.TRIAGE)
    _move(session_factory, red, Status.TRIAGE)
    sent = _payloads(session_factory, a_hook)
    assert [p["status_to"] for p in sent] == ["triage", "triage"]
    assert sent[0]["title"] == "Défacement du portail" and sent[0]["tlp"] == "green"
    # The RED case is announced by reference and status only
    assert "title" not in sent[1] and "tlp" not in sent[1]
    assert "Compromission" not in str(sent[1])
    assert _payloads(session_factory, b_hook) == []


def test_publishing_an_advisory_reaches_subscribers(
        session_factory: sessionmaker[Session], settings: Settings, focal_b: User) -> None:
    hook = _subscribe(session_factory, settings, focal_b, ["advisory.published"])
    with session_factory.begin() as session:
        draft = advisories.create_advisory(session=session, actor=ADMIN,
                                           data=AdvisoryCreate.model_validate(
                                               advisory_demo.VPN))
        session.flush()
        published = advisories.publish(session=session, actor=ADMIN, settings=settings,
                                       advisory_id=draft.id, version=draft.version)
        tracking_id, sha256 = published.tracking_id, published.csaf_sha256
    [payload] = _payloads(session_factory, hook)
    assert payload["tracking_id"] == tracking_id and payload["sha256"] == sha256
    assert payload["audience"] == "institutions" and payload["revision"] == 1
