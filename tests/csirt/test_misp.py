"""MISP event JSON: export of a case (TLP enforced), import of partner events (idempotent,
objects included), hostile documents refused with nothing written, and the CLI."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pymisp import MISPEvent
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.config import Settings
from lakana.core.errors import Forbidden, Invalid, NotFound, TooLarge
from lakana.csirt import misp, observable_service
from lakana.csirt.cli import app
from lakana.csirt.exchange_models import ExternalReference
from lakana.csirt.models import Case, CaseObservable, Observable
from lakana.csirt.observable_service import NewObservable
from tests.csirt.conftest import ADMIN, Institutions, actor_of

runner = CliRunner()

EVENT_UUID = "5f3c8a2e-9b1d-4c7e-8f0a-2d4e6b8c1a3f"
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _add(session_factory: sessionmaker[Session], case_id: int,
         items: list[NewObservable]) -> None:
    with session_factory.begin() as session:
        observable_service.add_many(session=session, actor=ADMIN, case_id=case_id, items=items)


MIXED = [
    NewObservable(value="203.0.113.10", tlp="green", comment="Serveur C2"),
    NewObservable(value="secure-login.example.ml", tlp="clear"),
    NewObservable(value="hxxps://secure-login[.]example[.]ml/owa", tlp="amber"),
    NewObservable(value=SHA256, tlp="amber+strict"),
    NewObservable(value="agent.paie@example.ml", tlp="red"),
    NewObservable(value="CVE-2024-3400", tlp="green", is_ioc=False),
]


@pytest.fixture
def green_case(make_case: Callable[..., int], csirt_institutions: Institutions,
               session_factory: sessionmaker[Session]) -> int:
    """A TLP:GREEN phishing case under investigation, with indicators of every label."""
    case_id = make_case(csirt_institutions.a, tlp="green", taxonomy_class="fraud",
                        taxonomy_type="phishing", severity="critical", status="investigation")
    _add(session_factory, case_id, MIXED)
    return case_id


def _counts(session_factory: sessionmaker[Session]) -> tuple[int, int, int, int]:
    with session_factory() as session:
        return tuple(session.scalar(select(func.count()).select_from(table)) or 0  # type: ignore[return-value]
                     for table in (Case, CaseObservable, Observable, ExternalReference))


def _import(session_factory: sessionmaker[Session], data: bytes | str, actor: Any = ADMIN,
            **kwargs: Any) -> misp.ImportResult:
    with session_factory.begin() as session:
        return misp.import_events(session=session, actor=actor, data=data, **kwargs)


def _observables(session_factory: sessionmaker[Session], case_id: int
                 ) -> dict[tuple[str, str], CaseObservable]:
    with session_factory() as session:
        rows = session.scalars(select(CaseObservable).where(CaseObservable.case_id == case_id))
        out = {(r.observable.kind, r.observable.value): r for r in rows}
        session.expunge_all()
        return out


# --- export -----------------------------------------------------------------------------

def test_export_leaves_out_strict_indicators_and_maps_levels(
        green_case: int, analyst: User, session_factory: sessionmaker[Session]) -> None:
    # Given a GREEN case with indicators labelled CLEAR … RED
    # When an analyst exports it
    with session_factory.begin() as session:
        doc = misp.export_case(session=session, actor=actor_of(analyst), case_id=green_case)
        again = misp.export_case(session=session, actor=actor_of(analyst), case_id=green_case)
        reference = session.get(Case, green_case).reference  # type: ignore[union-attr]
    event = doc["Event"]
    # Then the event carries the case's levels, labels and classification
    assert event["uuid"] == again["Event"]["uuid"]  # deterministic: MISP updates, not copies
    assert event["info"].startswith(f"{reference} — ")
    assert (event["threat_level_id"], event["analysis"], event["distribution"]) == ("1", "1", "1")
    assert event["published"] is False
    assert event["Orgc"]["name"] == misp.CENTRE_NAME
    assert {t["name"] for t in event["Tag"]} == {"tlp:green", 'rsit:fraud="phishing"'}
    # And AMBER+STRICT and RED indicators are left out, the others typed as MISP types them
    by_value = {a["value"]: a for a in event["Attribute"]}
    assert set(by_value) == {"203.0.113.10", "secure-login.example.ml",
                             "https://secure-login.example.ml/owa", "CVE-2024-3400"}
    ip = by_value["203.0.113.10"]
    assert (ip["type"], ip["category"], ip["to_ids"], ip["distribution"]) == (
        "ip-dst", "Network activity", True, "5")
    assert ip["comment"] == "Serveur C2" and "Tag" not in ip
    url = by_value["https://secure-login.example.ml/owa"]
    assert url["distribution"] == "0" and [t["name"] for t in url["Tag"]] == ["tlp:amber"]
    assert [t["name"] for t in by_value["secure-login.example.ml"]["Tag"]] == ["tlp:clear"]
    cve = by_value["CVE-2024-3400"]
    assert (cve["type"], cve["category"], cve["to_ids"]) == (
        "vulnerability", "External analysis", False)
    assert "description" not in json.dumps(doc) and "agent.paie" not in json.dumps(doc)
    # And PyMISP reads the document back as a valid event
    loaded = MISPEvent()
    loaded.load(doc)
    assert len(loaded.attributes) == 4
    # And the export is ledgered with its counts
    with session_factory() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "csirt.case.export")).first()
        assert entry is not None
        assert json.loads(entry.details)["left_out"] == 2


@pytest.mark.parametrize("label", ["red", "amber+strict"])
def test_a_strict_case_refuses_to_leave(label: str, make_case: Callable[..., int],
                                        csirt_institutions: Institutions,
                                        session_factory: sessionmaker[Session]) -> None:
    case_id = make_case(csirt_institutions.a, tlp=label)
    with session_factory.begin() as session, pytest.raises(Forbidden):
        misp.export_case(session=session, actor=ADMIN, case_id=case_id)


def test_export_follows_case_visibility(green_case: int, focal_a: User, focal_b: User,
                                        session_factory: sessionmaker[Session]) -> None:
    # A focal point exports its institution's case; another institution's gets 404
    with session_factory.begin() as session:
        doc = misp.export_case(session=session, actor=actor_of(focal_a), case_id=green_case)
        assert len(doc["Event"]["Attribute"]) == 4
        with pytest.raises(NotFound):
            misp.export_case(session=session, actor=actor_of(focal_b), case_id=green_case)


def test_scanning_addresses_are_sources(make_case: Callable[..., int],
                                        csirt_institutions: Institutions,
                                        session_factory: sessionmaker[Session]) -> None:
    case_id = make_case(csirt_institutions.a, tlp="clear", taxonomy_class="information-gathering",
                        taxonomy_type="scanner", severity="low", status="closed")
    _add(session_factory, case_id, [NewObservable(value="198.51.100.0/24")])
    with session_factory.begin() as session:
        event = misp.export_case(session=session, actor=ADMIN, case_id=case_id)["Event"]
    assert (event["threat_level_id"], event["analysis"], event["distribution"]) == ("3", "2", "3")
    assert event["Attribute"][0]["type"] == "ip-src"


# --- import -----------------------------------------------------------------------------

def test_round_trip_reproduces_the_indicators(green_case: int,
                                              session_factory: sessionmaker[Session]) -> None:
    # Given a case exported as a MISP event, given a new UUID as a partner's copy would have
    with session_factory.begin() as session:
        doc = misp.export_case(session=session, actor=ADMIN, case_id=green_case)
    doc["Event"]["uuid"] = str(uuid.uuid4())
    exported = {(a["type"], a["value"]) for a in doc["Event"]["Attribute"]}
    # When it is imported
    result = _import(session_factory, json.dumps(doc))
    # Then a partner case holds the same indicators, labels and classification
    (event,) = result.events
    assert event.created and event.added == len(exported) == 4
    with session_factory() as session:
        case = session.get(Case, event.case_id)
        assert case is not None
        assert (case.source, case.tlp, case.taxonomy_class, case.taxonomy_type) == (
            "partner", "green", "fraud", "phishing")
    imported = _observables(session_factory, event.case_id)
    original = {k: v for k, v in _observables(session_factory, green_case).items()
                if v.tlp not in ("amber+strict", "red")}
    assert {k: (v.tlp, v.is_ioc) for k, v in imported.items()} == {
        k: (v.tlp, v.is_ioc) for k, v in original.items()}


def test_reimport_is_idempotent_and_adds_only_new_indicators(
        session_factory: sessionmaker[Session], csirt_institutions: Institutions) -> None:
    doc: dict[str, Any] = {"Event": {
        "uuid": EVENT_UUID, "info": "Hameçonnage DGI", "Tag": [{"name": "tlp:amber"}],
        "Attribute": [{"type": "domain", "value": "dgi-impots.example.ml", "to_ids": True}]}}
    first = _import(session_factory, json.dumps(doc), institution_id=csirt_institutions.a)
    second = _import(session_factory, json.dumps(doc))
    assert first.events[0].created and not second.events[0].created
    assert second.events[0].case_id == first.events[0].case_id
    assert (second.events[0].added, second.events[0].already) == (0, 1)
    doc["Event"]["Attribute"].append({"type": "url", "value": "http://dgi-impots.example.ml/x"})
    third = _import(session_factory, json.dumps(doc))
    assert (third.events[0].added, third.events[0].already) == (1, 1)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ExternalReference)) == 1
        case = session.get(Case, first.events[0].case_id)
        assert case is not None and case.institution_id == csirt_institutions.a
        assert case.tlp == "amber"
        details = [json.loads(e.details) for e in session.scalars(select(AuditEntry).where(
            AuditEntry.action == "csirt.case.import").order_by(AuditEntry.seq))]
    assert [(d["created"], d["added"]) for d in details] == [(True, 1), (False, 0), (False, 1)]


def misp_event() -> dict[str, Any]:
    """An event as MISP 2.4/2.5 writes it (``GET /events/view/…``), trimmed to one of each."""
    def tag(name: str, ident: str) -> dict[str, Any]:
        return {"id": ident, "name": name, "colour": "#ffc000", "exportable": True,
                "user_id": "0", "hide_tag": False, "numerical_value": None,
                "is_galaxy": False, "is_custom_galaxy": False, "local_only": False,
                "local": 0, "relationship_type": ""}

    def attribute(ident: str, kind: str, category: str, value: str, *, to_ids: bool = True,
                  relation: str | None = None, object_id: str = "0",
                  tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": ident, "type": kind, "category": category, "to_ids": to_ids,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_OID, ident)), "event_id": "1342",
            "distribution": "5", "timestamp": "1767225600", "comment": "",
            "sharing_group_id": "0", "deleted": False, "disable_correlation": False,
            "object_id": object_id, "object_relation": relation, "first_seen": None,
            "last_seen": None, "value": value, "Galaxy": [], "ShadowAttribute": []}
        if tags:
            out["Tag"] = tags
        return out

    org = {"id": "7", "name": "CERT-SN", "uuid": "56c42374-fdb8-4544-a218-41ffc0a8ab16",
           "local": False}
    return {"Event": {
        "id": "1342", "orgc_id": "7", "org_id": "1", "date": "2026-01-01",
        "threat_level_id": "1", "info": "Campagne d'hameçonnage visant les administrations "
                                        "ouest-africaines", "published": True,
        "uuid": EVENT_UUID, "attribute_count": "9", "analysis": "2",
        "timestamp": "1767225600", "distribution": "1", "proposal_email_lock": False,
        "locked": False, "publish_timestamp": "1767229200", "sharing_group_id": "0",
        "disable_correlation": False, "extends_uuid": "", "protected": None,
        "event_creator_email": "analyste@cert.example.sn",
        "Org": {"id": "1", "name": "ORGNAME", "uuid": "5c1f0a2b-0000-4000-8000-000000000001",
                "local": True},
        "Orgc": org,
        "Attribute": [
            attribute("1", "ip-dst", "Network activity", "203.0.113.7",
                      tags=[tag("tlp:amber", "3")]),
            attribute("2", "ip-dst|port", "Network activity", "198.51.100.23|8443"),
            attribute("3", "url", "Network activity",
                      "https://connexion-tresor.example.sn/login.php?id=1"),
            attribute("4", "email-src", "Payload delivery", "rh@tresor-public.example.sn"),
            attribute("5", "text", "Other", "Le courriel imite le Trésor public.",
                      to_ids=False),
            attribute("6", "link", "External analysis", "https://cert.example.sn/bulletin/42",
                      to_ids=False),
        ],
        "ShadowAttribute": [], "RelatedEvent": [], "Galaxy": [], "EventReport": [],
        "CryptographicKey": [],
        "Object": [
            {"id": "88", "name": "file", "meta-category": "file",
             "description": "File object describing a file with meta-information",
             "template_uuid": "688c46fb-5edb-40a3-8273-1af7923e2215",
             "template_version": "24", "event_id": "1342",
             "uuid": "0f6e5a8c-2d1e-4b3a-9c8d-7e6f5a4b3c2d", "timestamp": "1767225600",
             "distribution": "5", "sharing_group_id": "0", "comment": "", "deleted": False,
             "first_seen": None, "last_seen": None, "ObjectReference": [],
             "Attribute": [
                 attribute("7", "filename", "Payload delivery", "Avis_imposition.pdf.exe",
                           relation="filename", object_id="88", to_ids=False),
                 attribute("8", "sha256", "Payload delivery", SHA256.upper(),
                           relation="sha256", object_id="88"),
                 attribute("9", "md5", "Payload delivery", MD5, relation="md5",
                           object_id="88", tags=[tag("tlp:red", "4")]),
             ]},
            {"id": "89", "name": "domain-ip", "meta-category": "network",
             "description": "A domain/hostname and IP address seen as a tuple",
             "template_uuid": "43b3b146-77eb-4931-b4cc-b66c60f28734",
             "template_version": "11", "event_id": "1342",
             "uuid": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "timestamp": "1767225600",
             "distribution": "5", "sharing_group_id": "0", "comment": "", "deleted": False,
             "first_seen": None, "last_seen": None, "ObjectReference": [],
             "Attribute": [
                 attribute("10", "domain", "Network activity", "Connexion-Tresor.EXAMPLE.sn",
                           relation="domain", object_id="89"),
                 attribute("11", "ip-dst", "Network activity", "2001:db8::5",
                           relation="ip", object_id="89"),
             ]},
        ],
        "Tag": [tag("tlp:green", "1"), tag('rsit:fraud="phishing"', "2"),
                tag('misp-galaxy:threat-actor="Sample"', "5")],
    }}


def test_a_real_misp_event_with_objects_imports(session_factory: sessionmaker[Session],
                                                 analyst: User) -> None:
    # When an analyst imports an event as a partner's MISP emits it
    result = _import(session_factory, json.dumps(misp_event()), actor=actor_of(analyst))
    (event,) = result.events
    # Then one partner case holds every supported attribute, those of objects included
    assert event.created and event.producer == "CERT-SN"
    assert event.skipped == {"filename": 1, "link": 1, "text": 1}
    items = _observables(session_factory, event.case_id)
    assert {k: v.tlp for k, v in items.items()} == {
        ("ipv4", "203.0.113.7"): "amber",  # the attribute's own label
        ("ipv4", "198.51.100.23"): "green",
        ("url", "https://connexion-tresor.example.sn/login.php?id=1"): "green",
        ("email", "rh@tresor-public.example.sn"): "green",
        ("sha256", SHA256): "green",
        ("md5", MD5): "red",  # TLP:RED stays RED inside
        ("domain", "connexion-tresor.example.sn"): "green",
        ("ipv6", "2001:db8::5"): "green",
    }
    assert items[("sha256", SHA256)].comment.startswith("[file/sha256]")
    with session_factory() as session:
        case = session.get(Case, event.case_id)
        assert case is not None and case.source == "partner" and case.institution_id is None
        assert case.title.startswith("Campagne d'hameçonnage")
        assert (case.taxonomy_class, case.taxonomy_type, case.tlp) == ("fraud", "phishing",
                                                                       "green")
        ref = session.scalar(select(ExternalReference))
        assert ref is not None and (ref.source, ref.external_id, ref.producer) == (
            "misp", EVENT_UUID, "CERT-SN")


def test_several_events_and_a_bare_event(session_factory: sessionmaker[Session]) -> None:
    one = {"uuid": str(uuid.uuid4()), "info": "Un", "Tag": [{"name": "tlp:red"}],
           "Attribute": [{"type": "hostname", "value": "c2.example.ml"}]}
    two = {"uuid": str(uuid.uuid4()), "info": "Deux", "Tag": [{"name": "tlp:white"}],
           "Attribute": [{"type": "domain|ip", "value": "a.example.ml|192.0.2.1"}]}
    result = _import(session_factory, json.dumps({"response": [{"Event": one},
                                                               {"Event": two}]}))
    assert [e.added for e in result.events] == [1, 2]
    with session_factory() as session:
        labels = [session.get(Case, e.case_id).tlp for e in result.events]  # type: ignore[union-attr]
    assert labels == ["red", "clear"]
    bare = _import(session_factory, json.dumps(one))
    assert bare.events[0].case_id == result.events[0].case_id


def _deep(levels: int) -> bytes:
    return b'{"Event": ' + b"[" * levels + b"]" * levels + b"}"


def _event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"uuid": EVENT_UUID, "info": "Test",
                             "Attribute": [{"type": "domain", "value": "ok.example.ml"}]}
    event.update(fields)
    return {"Event": event}


HOSTILE: dict[str, tuple[bytes, int]] = {
    "deep nesting": (_deep(200), 422),
    "huge array": (json.dumps({"Event": {"uuid": EVENT_UUID, "Tag": [0] * 1_100_000}})
                   .encode(), 413),
    "too many attributes": (json.dumps(_event(Attribute=[
        {"type": "domain", "value": f"d{n}.example.ml"} for n in range(10_001)])).encode(), 413),
    "attribute is a string": (json.dumps(_event(Attribute="x")).encode(), 422),
    "value is a number": (json.dumps(_event(Attribute=[{"type": "ip-dst", "value": 5}]))
                          .encode(), 422),
    "invalid utf-8": (b'{"Event": {"uuid": "' + EVENT_UUID.encode() + b'", "info": "\xff\xfe"}}',
                      422),
    "NaN": (b'{"Event": {"uuid": "' + EVENT_UUID.encode() + b'", "threat_level_id": NaN}}', 422),
    "not JSON": (b"<Event/>", 422),
    "no uuid": (json.dumps({"Event": {"info": "x"}}).encode(), 422),
    "bad uuid": (json.dumps(_event(uuid="nope")).encode(), 422),
    "a list": (b"[]", 422),
    "response not a list": (json.dumps({"response": "x"}).encode(), 422),
    "impossible IPv4": (json.dumps(_event(Attribute=[
        {"type": "domain", "value": "ok.example.ml"},
        {"type": "ip-dst", "value": "999.1.1.1"}])).encode(), 422),
    "URL with spaces": (json.dumps(_event(Attribute=[
        {"type": "url", "value": "http://a.example.ml/x y"}])).encode(), 422),
    "second event invalid": (json.dumps({"response": [
        {"Event": {"uuid": str(uuid.uuid4()), "info": "bon",
                   "Attribute": [{"type": "domain", "value": "ok.example.ml"}]}},
        {"Event": {"uuid": EVENT_UUID, "info": "mauvais",
                   "Attribute": [{"type": "md5", "value": "abc"}]}}]}).encode(), 422),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_documents_write_nothing(name: str, session_factory: sessionmaker[Session]
                                         ) -> None:
    data, status = HOSTILE[name]
    before = _counts(session_factory)
    with pytest.raises((Invalid, TooLarge)) as raised:
        _import(session_factory, data)
    assert raised.value.status == status
    assert _counts(session_factory) == before


def test_invalid_values_are_named_or_skipped_on_request(session_factory: sessionmaker[Session]
                                                        ) -> None:
    data = HOSTILE["impossible IPv4"][0]
    with pytest.raises(Invalid) as raised:
        _import(session_factory, data)
    (error,) = raised.value.errors
    assert (error["field"], error["type"], error["value"]) == (
        "Event.Attribute[1]", "ip-dst", "999.1.1.1")
    result = _import(session_factory, data, skip_invalid=True)
    assert result.events[0].added == 1 and len(result.events[0].invalid) == 1


def test_shape_errors_name_the_json_path(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(Invalid) as raised:
        _import(session_factory, HOSTILE["attribute is a string"][0])
    assert raised.value.errors[0]["field"] == "Event.Attribute"


def test_only_the_centre_imports(focal_a: User, session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(Forbidden):
        _import(session_factory, json.dumps(misp_event()), actor=actor_of(focal_a))
    assert _counts(session_factory)[0] == 0


def test_unknown_institution_is_refused(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(Invalid):
        _import(session_factory, json.dumps(misp_event()), institution_id=424242)


def test_tlp_and_rsit_tags() -> None:
    tags = [misp.MispTag(name=n) for n in ("TLP:AMBER", "tlp:ex:chr", "tlp:red")]
    assert misp.tlp_of(tags) == "red"
    assert misp.tlp_of([misp.MispTag(name="tlp:white")]) == "clear"
    assert misp.tlp_of([]) is None
    assert misp.rsit_tag("fraud", "unauthorised-use-of-resources") == \
        'rsit:fraud="unauthorized-use-of-resources"'
    assert misp.classification_of([misp.MispTag(
        name='rsit:fraud="unauthorized-use-of-resources"')]) == (
        "fraud", "unauthorised-use-of-resources")
    assert misp.classification_of([misp.MispTag(name='rsit:nope="x"')]) == (None, None)


# --- CLI --------------------------------------------------------------------------------

@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_cli_export_then_import(env: None, green_case: int, tmp_path: Path,
                                session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        reference = session.get(Case, green_case).reference  # type: ignore[union-attr]
    out = tmp_path / "event.json"
    done = runner.invoke(app, ["export-misp", str(reference).lower(), "--output", str(out)])
    assert done.exit_code == 0, done.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["Event"]["Attribute"]) == 4
    doc["Event"]["uuid"] = str(uuid.uuid4())
    out.write_text(json.dumps(doc), encoding="utf-8")
    done = runner.invoke(app, ["import-misp", str(out), "--institution", "INSTB", "--json"])
    assert done.exit_code == 0, done.output
    (event,) = json.loads(done.stdout)["events"]
    assert event["created"] and event["added"] == 4
    with session_factory() as session:
        case = session.get(Case, event["case_id"])
        assert case is not None and case.source == "partner"
    # Again from standard input: nothing new
    done = runner.invoke(app, ["import-misp", "-"], input=json.dumps(doc))
    assert done.exit_code == 0, done.output
    assert "\tupdated\t+0 indicator(s)" in done.stdout


def test_cli_refusals(env: None, make_case: Callable[..., int],
                      csirt_institutions: Institutions, tmp_path: Path,
                      session_factory: sessionmaker[Session]) -> None:
    case_id = make_case(csirt_institutions.a, tlp="red")
    with session_factory() as session:
        reference = session.get(Case, case_id).reference  # type: ignore[union-attr]
    done = runner.invoke(app, ["export-misp", str(reference)])
    assert done.exit_code == 2 and "may not leave the platform" in done.output
    bad = tmp_path / "bad.json"
    bad.write_bytes(HOSTILE["impossible IPv4"][0])
    before = _counts(session_factory)
    done = runner.invoke(app, ["import-misp", str(bad)])
    assert done.exit_code == 2
    assert "Event.Attribute[1]: 999.1.1.1" in done.output
    assert _counts(session_factory) == before


def test_export_document_is_stable_json(green_case: int,
                                        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        doc = misp.export_case(session=session, actor=ADMIN, case_id=green_case)
    copied = copy.deepcopy(doc)
    assert json.loads(misp.export_json(doc)) == copied
    assert misp.export_filename(green_case, doc).endswith(".misp.json")
