"""Advisories: the service's rules (TLP, publication, revisions, notifications, who reads
what) on a real database, with real signatures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.config import Settings
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.core.jobs.models import Job
from lakana.core.notifications.models import Notification
from lakana.csirt import advisories as service
from lakana.csirt import advisory_demo, csaf
from lakana.csirt.advisories import AdvisoryCreate, AdvisoryRevise, AdvisoryUpdate
from lakana.csirt.advisory_models import Advisory
from tests.csirt.conftest import ADMIN, actor_of


def create(session_factory: sessionmaker[Session], data: dict[str, Any]) -> Advisory:
    """A committed draft made by the centre."""
    with session_factory.begin() as session:
        advisory = service.create_advisory(session=session, actor=ADMIN,
                                           data=AdvisoryCreate.model_validate(data))
        session.flush()
        session.expunge(advisory)
        return advisory


def publish(session_factory: sessionmaker[Session], settings: Settings,
            advisory_id: int) -> Advisory:
    """Publish a committed draft."""
    with session_factory.begin() as session:
        current = session.get(Advisory, advisory_id)
        assert current is not None
        advisory = service.publish(session=session, actor=ADMIN, settings=settings,
                                   advisory_id=advisory_id, version=current.version)
        session.flush()
        session.expunge(advisory)
        return advisory


def test_tracking_ids_follow_each_other(session_factory: sessionmaker[Session]) -> None:
    first = create(session_factory, advisory_demo.SCAM)
    second = create(session_factory, advisory_demo.CMS)
    year = first.created_at.year
    assert first.tracking_id == f"ML-CSIRT-{year}-0001"
    assert second.tracking_id == f"ML-CSIRT-{year}-0002"
    assert first.status == "draft" and first.revisions == []


@pytest.mark.parametrize("label", ["TLP:RED", "amber+strict"])
def test_red_and_amber_strict_advisories_are_refused(
        session_factory: sessionmaker[Session], label: str) -> None:
    with pytest.raises(Invalid) as caught:
        create(session_factory, advisory_demo.VPN | {"tlp": label})
    assert caught.value.errors[0]["field"] == "tlp"
    with session_factory() as session:
        assert session.scalars(select(Advisory)).all() == []


@pytest.mark.parametrize("label", ["green", "amber"])
def test_public_advisory_must_be_clear(session_factory: sessionmaker[Session],
                                       label: str) -> None:
    with pytest.raises(Invalid, match="TLP:CLEAR"):
        create(session_factory, advisory_demo.SCAM | {"tlp": label})


def test_an_update_cannot_make_a_public_advisory_green(
        session_factory: sessionmaker[Session]) -> None:
    advisory = create(session_factory, advisory_demo.VPN)  # institutions, GREEN
    with session_factory() as session, pytest.raises(Invalid):
        service.update_advisory(session=session, actor=ADMIN, advisory_id=advisory.id,
                                data=AdvisoryUpdate(audience="public", version=1))


def test_publish_signs_stores_and_ledgers(session_factory: sessionmaker[Session],
                                          settings: Settings) -> None:
    draft = create(session_factory, advisory_demo.VPN)
    published = publish(session_factory, settings, draft.id)
    # the document kept is exactly what was signed and hashed
    assert published.status == "published"
    assert published.csaf_document is not None and published.csaf_signature is not None
    data = published.csaf_document.encode()
    assert csaf.digests(data) == (published.csaf_sha256, published.csaf_sha512)
    assert csaf.verify(data, published.csaf_signature, csaf.public_key(settings))
    assert published.signing_key == csaf.fingerprint(settings)
    doc = json.loads(data)
    assert csaf.validate_document(doc) == []
    tracking = doc["document"]["tracking"]
    assert tracking["status"] == "final" and tracking["version"] == "1"
    assert tracking["revision_history"][0]["summary"] == "Publication initiale."
    assert service.verify_published(published, settings)
    with session_factory() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "csirt.advisory.publish")).one()
        assert entry.object_repr == published.tracking_id
        assert published.csaf_sha256 in entry.details


def test_case_link_is_never_exported(session_factory: sessionmaker[Session],
                                     settings: Settings, make_case: Any,
                                     csirt_institutions: Any) -> None:
    case_id = make_case(csirt_institutions.a, title="Compromission VPN de l'institution A")
    draft = create(session_factory, advisory_demo.VPN | {"case_id": case_id})
    published = publish(session_factory, settings, draft.id)
    assert published.case_id == case_id
    assert published.csaf_document is not None
    assert "Compromission VPN" not in published.csaf_document
    assert f"/cases/{case_id}" not in published.csaf_document


def test_tampered_artefact_no_longer_verifies(session_factory: sessionmaker[Session],
                                              settings: Settings) -> None:
    published = publish(session_factory, settings, create(session_factory,
                                                          advisory_demo.CMS).id)
    assert published.csaf_document is not None
    published.csaf_document = published.csaf_document.replace("3.2.7", "3.2.8", 1)
    assert not service.verify_published(published, settings)


def test_schema_invalid_document_blocks_publication_and_changes_nothing(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a draft whose stored data no longer fits CSAF (written by an older version)
    draft = create(session_factory, advisory_demo.VPN)
    with session_factory.begin() as session:
        row = session.get(Advisory, draft.id)
        assert row is not None
        row.cves = ["CVE-26-1"]
    # When it is published
    with session_factory() as session:
        current = session.get(Advisory, draft.id)
        assert current is not None
        with pytest.raises(Invalid) as caught:
            service.publish(session=session, actor=ADMIN, settings=settings,
                            advisory_id=draft.id, version=current.version)
        session.rollback()
    # Then the error names the JSON path, and nothing was published, signed or ledgered
    assert {"path": "$.vulnerabilities[0].cve"} .items() <= caught.value.errors[0].items()
    with session_factory() as session:
        row = session.get(Advisory, draft.id)
        assert row is not None
        assert row.status == "draft" and row.csaf_document is None and row.revisions == []
        assert session.scalars(select(AuditEntry).where(
            AuditEntry.action == "csirt.advisory.publish")).all() == []


def test_revision_increments_version_and_history(session_factory: sessionmaker[Session],
                                                 settings: Settings) -> None:
    published = publish(session_factory, settings, create(session_factory,
                                                          advisory_demo.VPN).id)
    first_sha = published.csaf_sha256
    with session_factory.begin() as session:
        revised = service.revise(session=session, actor=ADMIN, settings=settings,
                                 advisory_id=published.id, data=AdvisoryRevise(
                                     version=published.version, severity="high",
                                     revision_summary="Score révisé après analyse."))
        session.flush()
        session.expunge(revised)
    assert revised.severity == "high" and revised.csaf_sha256 != first_sha
    assert [r["number"] for r in revised.revisions] == ["1", "2"]
    assert revised.csaf_document is not None
    tracking = json.loads(revised.csaf_document)["document"]["tracking"]
    assert tracking["version"] == "2"
    assert [r["summary"] for r in tracking["revision_history"]] == [
        "Publication initiale.", "Score révisé après analyse."]
    assert tracking["initial_release_date"] == published.revisions[0]["date"]
    assert json.loads(revised.csaf_document)["document"]["aggregate_severity"]["text"] == \
        "Élevée"
    assert service.verify_published(revised, settings)


def test_published_advisory_changes_only_through_a_revision(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    published = publish(session_factory, settings, create(session_factory,
                                                          advisory_demo.CMS).id)
    with session_factory() as session:
        with pytest.raises(Conflict):
            service.update_advisory(session=session, actor=ADMIN, advisory_id=published.id,
                                    data=AdvisoryUpdate(title_fr="Autre titre",
                                                        version=published.version))
        with pytest.raises(Conflict):
            service.publish(session=session, actor=ADMIN, settings=settings,
                            advisory_id=published.id, version=published.version)
        with pytest.raises(Invalid):  # a revision says what changed
            service.revise(session=session, actor=ADMIN, settings=settings,
                           advisory_id=published.id,
                           data=AdvisoryRevise(version=published.version))


def test_stale_version_is_a_conflict(session_factory: sessionmaker[Session],
                                     settings: Settings) -> None:
    draft = create(session_factory, advisory_demo.CMS)
    with session_factory() as session, pytest.raises(Conflict):
        service.publish(session=session, actor=ADMIN, settings=settings,
                        advisory_id=draft.id, version=draft.version + 5)


def test_institution_advisory_notifies_every_focal_point_by_inbox_and_mail(
        session_factory: sessionmaker[Session], settings: Settings, focal_a: User,
        focal_b: User, viewer_a: User, analyst: User) -> None:
    published = publish(session_factory, settings, create(session_factory,
                                                          advisory_demo.VPN).id)
    with session_factory() as session:
        rows = session.scalars(select(Notification)).all()
        assert {n.user_id for n in rows} == {focal_a.id, focal_b.id}
        assert all(n.link == f"/csirt/advisories/{published.id}" for n in rows)
        assert rows[0].params["tracking_id"] == published.tracking_id
        mails = [j for j in session.scalars(select(Job)).all() if j.name == "core.send_email"]
        recipients = sorted(address for j in mails for address in j.payload["to"])
        assert recipients == sorted([focal_a.email, focal_b.email])
        assert published.tracking_id in mails[0].payload["subject"]


def test_public_advisory_notifies_nobody(session_factory: sessionmaker[Session],
                                         settings: Settings, focal_a: User) -> None:
    publish(session_factory, settings, create(session_factory, advisory_demo.SCAM).id)
    with session_factory() as session:
        assert session.scalars(select(Notification)).all() == []


def test_focal_point_reads_published_advisories_but_not_drafts_and_cannot_write(
        session_factory: sessionmaker[Session], settings: Settings, focal_a: User) -> None:
    draft = create(session_factory, advisory_demo.CMS)
    published = publish(session_factory, settings, create(session_factory,
                                                          advisory_demo.VPN).id)
    actor = actor_of(focal_a)
    with session_factory() as session:
        rows, total = service.list_advisories(session=session, actor=actor)
        assert [a.id for a in rows] == [published.id] and total == 1
        assert service.get_advisory(session=session, actor=actor,
                                    advisory_id=published.id).tlp == "green"
        with pytest.raises(NotFound):
            service.get_advisory(session=session, actor=actor, advisory_id=draft.id)
        with pytest.raises(NotFound):  # a draft stays unknown, even to a writer's verb
            service.publish(session=session, actor=actor, settings=settings,
                            advisory_id=draft.id, version=draft.version)
        with pytest.raises(Forbidden):
            service.create_advisory(session=session, actor=actor,
                                    data=AdvisoryCreate.model_validate(advisory_demo.CMS))
        with pytest.raises(Forbidden):
            service.revise(session=session, actor=actor, settings=settings,
                           advisory_id=published.id, data=AdvisoryRevise(
                               version=published.version, revision_summary="Tentative"))


def test_public_reads_only_published_clear_advisories(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    scam = publish(session_factory, settings, create(session_factory, advisory_demo.SCAM).id)
    cms = publish(session_factory, settings, create(session_factory, advisory_demo.CMS).id)
    vpn = publish(session_factory, settings, create(session_factory, advisory_demo.VPN).id)
    draft = create(session_factory, advisory_demo.SCAM | {"title_fr": "Brouillon public"})
    with session_factory() as session:
        rows, total = service.list_public(session=session)
        assert {a.id for a in rows} == {scam.id, cms.id} and total == 2
        assert service.get_public(session=session,
                                  tracking_id=scam.tracking_id.lower()).id == scam.id
        for hidden in (vpn, draft):
            with pytest.raises(NotFound):
                service.get_public(session=session, tracking_id=hidden.tracking_id)


def test_demo_loads_once(session_factory: sessionmaker[Session], settings: Settings) -> None:
    with session_factory.begin() as session:
        assert advisory_demo.load_demo(session=session, actor=ADMIN, settings=settings) == {
            "advisories": 3}
    with session_factory.begin() as session:
        assert advisory_demo.load_demo(session=session, actor=ADMIN, settings=settings) == {
            "advisories": 0}
        rows = session.scalars(select(Advisory).order_by(Advisory.id)).all()
        assert [a.status for a in rows] == ["published"] * 3
        assert [len(a.revisions) for a in rows] == [1, 1, 2]
        for advisory in rows:
            assert service.verify_published(advisory, settings)


def test_input_is_checked_at_the_edge() -> None:
    with pytest.raises(ValueError):
        AdvisoryCreate.model_validate(advisory_demo.VPN | {"cves": ["CVE-2026-1"]})
    with pytest.raises(ValueError):
        AdvisoryCreate.model_validate(advisory_demo.VPN | {
            "references": [{"url": "javascript:alert(1)"}]})
    with pytest.raises(ValueError):
        AdvisoryCreate.model_validate(advisory_demo.VPN | {"products": [{"vendor": "x"}]})
    checked = AdvisoryCreate.model_validate(advisory_demo.VPN | {
        "cves": ["cve-2026-31337", "CVE-2026-31337"]})
    assert checked.cves == ["CVE-2026-31337"]
