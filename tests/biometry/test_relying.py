"""Relying services: purpose-bound verification, identification and attributes, signed
tokens, refusals recorded, rate limits and the CSIRT alert (service level)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import wsq
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import persons, relying, runtime
from lakana.biometry.engine import FaceSample, FingerSample, MatchingEngine
from lakana.biometry.matching.faces import DlibFaceEncoder
from lakana.biometry.models import Capture, Enrollment, ServiceAccess
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.relying import (
    AttributesIn,
    IdentifyIn,
    ServiceClient,
    ServiceIn,
    ServiceUpdate,
    VerifyIn,
)
from lakana.biometry.schemas import Demographics
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Actor, Role, system_actor
from lakana.core.config import Settings
from lakana.core.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from lakana.csirt import service as csirt
from tests.biometry.faces import real_face

WSQ = Path(wsq.__file__).parent / "tests" / "test.wsq"
ADMIN = system_actor("tests")
POSITION = 2


def png(image: Image.Image) -> bytes:
    """An image as PNG bytes."""
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@cache
def fingers() -> dict[str, bytes]:
    """The real test print (WSQ), a crop of it (same finger) and its mirror image (scores
    like another finger: 18 with Bozorth3, under the threshold of 40)."""
    raw = WSQ.read_bytes()
    image = Image.open(io.BytesIO(raw))
    return {"wsq": raw, "crop": png(image.crop((20, 20, 520, 500))),
            "other": png(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))}


@cache
def reference_sample() -> FingerSample:
    """The enrolled finger (extracted once for the module)."""
    return runtime.engine().finger_from_image(fingers()["wsq"], position=POSITION)


def b64(data: bytes) -> str:
    """Base64 text of bytes."""
    return base64.b64encode(data).decode()


def enroll(session_factory: sessionmaker[Session], store: MasterKeyStore, nin: str, *,
           status: str = "active", locked: str = "", surname: str = "Traoré",
           with_finger: bool = True, face: FaceSample | None = None) -> int:
    """An issued person with one finger (the real test print) sealed like intake does, and
    ``face`` if given."""
    sample = reference_sample()
    with session_factory.begin() as session:
        person = persons.create_person(session=session, store=store, demographics=Demographics(
            nin=nin, surname=surname, given_names="Awa", sex="F",
            date_of_birth=dt.date(1990, 5, 17), place_of_birth="Ségou", region="Ségou",
            phone="+22370000000"))
        person.status = status
        person.locked_modalities = locked
        enrollment = Enrollment(packet_id=f"packet-{nin}", packet_digest="0" * 64,
                                person_id=person.id, centre="Bamako I", device="test",
                                captured_at=dt.datetime.now(dt.UTC), state="issued")
        session.add(enrollment)
        session.flush()
        if with_finger:
            assert sample.wsq is not None
            session.add(Capture(
                person_id=person.id, enrollment_id=enrollment.id, modality="finger",
                position=POSITION, quality=sample.nfiq2, minutiae=sample.minutiae,
                image_object_id=persons.seal_for_person(
                    session=session, store=store, person_id=person.id,
                    kind=persons.KIND_FINGER_WSQ, data=sample.wsq),
                template_object_id=persons.seal_for_person(
                    session=session, store=store, person_id=person.id,
                    kind=persons.KIND_FINGER_TEMPLATE, data=sample.iso_template)))
        if face is not None:
            session.add(Capture(
                person_id=person.id, enrollment_id=enrollment.id, modality="face",
                position=0, quality=face.score, width=face.width, height=face.height,
                template_object_id=persons.seal_for_person(
                    session=session, store=store, person_id=person.id,
                    kind=persons.KIND_FACE_TEMPLATE, data=face.template)))
        return person.id


def make_service(session_factory: sessionmaker[Session], code: str, purposes: list[str], *,
                 rate: int = 120, alert: int = 2000) -> tuple[int, bytes]:
    """A registered service and its private key."""
    private_pem, public_pem = relying.generate_keypair()
    with session_factory.begin() as session:
        service = relying.create_service(session=session, actor=ADMIN, data=ServiceIn(
            code=code, name=f"Service {code}", legal_basis="Loi n° 2026-01",
            purposes=purposes, public_key_pem=public_pem, rate_per_minute=rate,
            alert_per_hour=alert))
        return service.id, private_pem


def client_for(service_id: int, code: str, purposes: list[str], purpose: str) -> ServiceClient:
    """An authenticated service client (as the API dependency makes one)."""
    return ServiceClient(service_id=service_id, code=code, purposes=tuple(purposes),
                         purpose=purpose, jti=f"jti-{time.monotonic_ns()}")


@pytest.fixture
def store(settings: Settings) -> MasterKeyStore:
    """The test home's keystore (shared with the application)."""
    return runtime.keystore(settings)


@pytest.fixture
def matcher() -> MatchingEngine:
    """The built-in NBIS engine."""
    return runtime.engine()


def accesses(session_factory: sessionmaker[Session], service_id: int) -> list[ServiceAccess]:
    """The service's accesses, oldest first."""
    with session_factory() as session:
        return list(session.scalars(select(ServiceAccess).where(
            ServiceAccess.service_id == service_id).order_by(ServiceAccess.id)))


def ledger(session_factory: sessionmaker[Session], prefix: str) -> list[AuditEntry]:
    """Ledger entries whose action starts with ``prefix``."""
    with session_factory() as session:
        return list(session.scalars(select(AuditEntry).where(
            AuditEntry.action.like(f"{prefix}%")).order_by(AuditEntry.seq)))


def _verify(session_factory: sessionmaker[Session], store: MasterKeyStore,
            matcher: MatchingEngine, client: ServiceClient, **body: Any) -> relying.VerifyOut:
    with session_factory.begin() as session:
        return relying.verify(session=session, session_factory=session_factory, store=store,
                              engine=matcher, client=client, data=VerifyIn(**body))


# --- verification -----------------------------------------------------------------------------

def test_verify_answers_a_band_and_records_the_access(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        matcher: MatchingEngine) -> None:
    # Given an issued person and the electoral body holding voter_verification
    person_id = enroll(session_factory, store, "ML-000001")
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    # When it verifies a crop of the same print, then a different print
    same = _verify(session_factory, store, matcher, client, nin="ML-000001", modality="finger",
                   position=POSITION, image_base64=b64(fingers()["crop"]))
    other = _verify(session_factory, store, matcher, client, nin="ML-000001",
                    modality="finger", position=POSITION, image_base64=b64(fingers()["other"]))
    # Then the first matches (high band), the second does not (low band), and the answers
    # carry a decision and a band only
    assert same.model_dump() == {"match": True, "band": "high"}
    assert other.model_dump() == {"match": False, "band": "low"}
    # And each access is recorded for the citizen and the ledger, with the purpose
    rows = accesses(session_factory, service_id)
    assert [(r.person_id, r.operation, r.purpose, r.outcome, r.score_band) for r in rows] == [
        (person_id, "verify", "voter_verification", "match", "high"),
        (person_id, "verify", "voter_verification", "no_match", "low")]
    entries = ledger(session_factory, "biometry.access.verify")
    assert len(entries) == 2 and all('"purpose":"voter_verification"' in e.details
                                     for e in entries)
    assert all("ML-000001" not in (e.details + e.object_repr) for e in entries)


def test_verify_with_an_iso_template(session_factory: sessionmaker[Session],
                                     store: MasterKeyStore, matcher: MatchingEngine) -> None:
    # Given an issued person; when the service sends the finger as an ISO template
    enroll(session_factory, store, "ML-000011")
    service_id, _ = make_service(session_factory, "cnss", ["social_security_benefit"])
    client = client_for(service_id, "cnss", ["social_security_benefit"],
                        "social_security_benefit")
    probe = matcher.finger_from_image(fingers()["crop"], position=POSITION)
    answer = _verify(session_factory, store, matcher, client, nin="ML-000011",
                     modality="finger", position=POSITION,
                     iso_template_base64=b64(probe.iso_template))
    # Then it matches
    assert answer.match is True


def test_unknown_number_answers_no_match_without_saying_so(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        matcher: MatchingEngine) -> None:
    # Given a service; when it verifies a number nobody holds
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    answer = _verify(session_factory, store, matcher, client, nin="ML-999999",
                     modality="finger", position=POSITION, image_base64=b64(fingers()["crop"]))
    # Then the answer is the same as for another finger, and the access is still recorded
    assert answer.model_dump() == {"match": False, "band": "low"}
    row, = accesses(session_factory, service_id)
    assert row.person_id is None and row.outcome == "no_match"


def test_locked_modality_is_refused_and_recorded(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        matcher: MatchingEngine) -> None:
    # Given a citizen who locked finger authentication
    person_id = enroll(session_factory, store, "ML-000002", locked="finger")
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    # When a service verifies their finger, then it is refused (423)
    with pytest.raises(relying.Locked) as refused:
        _verify(session_factory, store, matcher, client, nin="ML-000002", modality="finger",
                position=POSITION, image_base64=b64(fingers()["crop"]))
    assert refused.value.status == 423
    # And the refusal is recorded although the request failed
    row, = accesses(session_factory, service_id)
    assert (row.person_id, row.outcome, row.reason) == (person_id, "refused", "locked:finger")
    assert '"outcome":"refused"' in ledger(session_factory, "biometry.access.verify")[0].details


def test_face_verification_matches_the_enrolled_face(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        matcher: MatchingEngine) -> None:
    # Given an engine with a face encoder and a person enrolled with a real portrait
    with_faces = NbisEngine(face_encoder=DlibFaceEncoder())
    enroll(session_factory, store, "ML-000003",
           face=with_faces.face_from_image(real_face()))
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    # When the service sends another picture of the same face (mirrored), then it matches
    answer = _verify(session_factory, store, with_faces, client, nin="ML-000003",
                     modality="face", image_base64=b64(real_face(mirror=True)))
    assert answer.match and answer.band == "high"
    # ... and another person's face does not
    other = (Path(__file__).parents[1] / "data" / "faces" / "eileen_collins.jpg").read_bytes()
    answer = _verify(session_factory, store, with_faces, client, nin="ML-000003",
                     modality="face", image_base64=b64(other))
    assert not answer.match and answer.band == "low"
    # ... while an engine without a face encoder says it cannot compare faces
    with pytest.raises(Invalid, match="face matcher"):
        _verify(session_factory, store, matcher, client, nin="ML-000003", modality="face",
                image_base64=b64(real_face()))


def test_bad_samples_are_refused_with_a_reason(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        matcher: MatchingEngine) -> None:
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    with pytest.raises(Invalid, match="base64"):
        _verify(session_factory, store, matcher, client, nin="ML-1", modality="finger",
                position=POSITION, image_base64="***")
    with pytest.raises(Invalid, match="one of"):
        _verify(session_factory, store, matcher, client, nin="ML-1", modality="finger",
                position=POSITION)
    with pytest.raises(Invalid, match="position"):
        _verify(session_factory, store, matcher, client, nin="ML-1", modality="finger",
                image_base64=b64(fingers()["crop"]))


# --- purposes ---------------------------------------------------------------------------------

def test_purpose_not_held_is_refused_recorded_and_ledgered(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        matcher: MatchingEngine) -> None:
    # Given the social security fund, which holds only social_security_benefit
    enroll(session_factory, store, "ML-000004")
    service_id, _ = make_service(session_factory, "cnss", ["social_security_benefit"])
    client = client_for(service_id, "cnss", ["social_security_benefit"], "voter_verification")
    # When it invokes the electoral purpose, then it is refused (403)
    with pytest.raises(Forbidden, match="Purpose not held"):
        _verify(session_factory, store, matcher, client, nin="ML-000004", modality="finger",
                position=POSITION, image_base64=b64(fingers()["crop"]))
    # And the refusal is a recorded access and a ledger entry with the purpose
    row, = accesses(session_factory, service_id)
    assert (row.outcome, row.purpose, row.operation, row.person_id) == (
        "refused", "voter_verification", "verify", None)
    entry, = ledger(session_factory, "biometry.access.verify")
    assert '"purpose":"voter_verification"' in entry.details and "refused" in entry.details


def test_purpose_that_does_not_allow_the_operation_is_refused(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        matcher: MatchingEngine) -> None:
    # Given the electoral body holding both purposes
    purposes = ["voter_roll_deduplication", "voter_verification"]
    service_id, _ = make_service(session_factory, "ceni", purposes)
    # When it identifies under voter_verification (1:1 only), or asks attributes under
    # voter_roll_deduplication (1:N only), then both are refused
    with pytest.raises(Forbidden), session_factory.begin() as session:
        relying.identify(session=session, session_factory=session_factory, store=store,
                         engine=matcher,
                         client=client_for(service_id, "ceni", purposes, "voter_verification"),
                         data=IdentifyIn(fingers=[{"position": POSITION,
                                                   "image_base64": b64(fingers()["crop"])}]))
    with pytest.raises(Forbidden), session_factory.begin() as session:
        relying.attributes(session=session, session_factory=session_factory, store=store,
                           client=client_for(service_id, "ceni", purposes,
                                             "voter_roll_deduplication"),
                           data=AttributesIn(nin="ML-000001"))
    assert [r.outcome for r in accesses(session_factory, service_id)] == ["refused"] * 2


def test_attributes_are_minimal_per_purpose(session_factory: sessionmaker[Session],
                                            store: MasterKeyStore) -> None:
    # Given an issued person and two services with different purposes
    person_id = enroll(session_factory, store, "ML-000005")
    ceni, _ = make_service(session_factory, "ceni", ["voter_verification"])
    cnss, _ = make_service(session_factory, "cnss", ["social_security_benefit"])

    def ask(service_id: int, code: str, purpose: str) -> dict[str, str]:
        with session_factory.begin() as session:
            return relying.attributes(
                session=session, session_factory=session_factory, store=store,
                client=client_for(service_id, code, [purpose], purpose),
                data=AttributesIn(nin="ML-000005")).attributes

    # When each asks for the person's attributes
    electoral = ask(ceni, "ceni", "voter_verification")
    social = ask(cnss, "cnss", "social_security_benefit")
    # Then each gets its purpose's fields only: no sex for the electoral body, no region for
    # the fund, never the number, the phone or an image
    assert electoral == {"surname": "Traoré", "given_names": "Awa",
                         "date_of_birth": "1990-05-17", "region": "Ségou"}
    assert social == {"surname": "Traoré", "given_names": "Awa", "sex": "F",
                      "date_of_birth": "1990-05-17"}
    rows = accesses(session_factory, ceni) + accesses(session_factory, cnss)
    assert [(r.person_id, r.outcome) for r in rows] == [(person_id, "released")] * 2


def test_attributes_of_an_unknown_or_inactive_number_are_refused(
        session_factory: sessionmaker[Session], store: MasterKeyStore) -> None:
    # Given a deceased person and a service
    dead = enroll(session_factory, store, "ML-000006", status="deceased")
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    # When it asks for them, or for a number nobody holds: 404, recorded
    for nin in ("ML-000006", "ML-404404"):
        with pytest.raises(NotFound), session_factory.begin() as session:
            relying.attributes(session=session, session_factory=session_factory, store=store,
                               client=client, data=AttributesIn(nin=nin))
    assert [(r.person_id, r.outcome) for r in accesses(session_factory, service_id)] == [
        (dead, "refused"), (None, "refused")]


# --- identification ---------------------------------------------------------------------------

def test_identify_answers_service_pseudonyms_only(session_factory: sessionmaker[Session],
                                                  store: MasterKeyStore,
                                                  matcher: MatchingEngine) -> None:
    # Given an issued person, a pending one with the same print (not in the gallery), and
    # two services allowed to deduplicate
    person_id = enroll(session_factory, store, "ML-000007")
    enroll(session_factory, store, "ML-000008", status="pending")
    purposes = ["voter_roll_deduplication"]
    ceni, _ = make_service(session_factory, "ceni", purposes)
    other, _ = make_service(session_factory, "ceni-2", purposes)

    def search(service_id: int, code: str, image: bytes) -> relying.IdentifyOut:
        with session_factory.begin() as session:
            return relying.identify(
                session=session, session_factory=session_factory, store=store, engine=matcher,
                client=client_for(service_id, code, purposes, purposes[0]),
                data=IdentifyIn(fingers=[{"position": POSITION, "image_base64": b64(image)}]))

    # When the electoral body searches a crop of the print twice, and another service once
    first = search(ceni, "ceni", fingers()["crop"])
    again = search(ceni, "ceni", fingers()["crop"])
    elsewhere = search(other, "ceni-2", fingers()["crop"])
    missing = search(ceni, "ceni", fingers()["other"])
    # Then it learns that one person holds it, as a pseudonym stable for it only
    assert (first.found, first.count) == (True, 1)
    assert first.pseudonyms == again.pseudonyms
    assert elsewhere.pseudonyms != first.pseudonyms
    assert len(first.pseudonyms[0]) == 32 and int(first.pseudonyms[0], 16) >= 0
    assert set(first.model_dump()) == {"found", "count", "pseudonyms"}
    assert missing.model_dump() == {"found": False, "count": 0, "pseudonyms": []}
    # And the citizen sees each identification
    rows = accesses(session_factory, ceni)
    assert [(r.person_id, r.outcome) for r in rows] == [
        (person_id, "candidates"), (person_id, "candidates"), (None, "no_match")]


# --- tokens -----------------------------------------------------------------------------------

def test_a_valid_token_authenticates_once(session_factory: sessionmaker[Session]) -> None:
    # Given a service and a token it signed
    service_id, key = make_service(session_factory, "ceni", ["voter_verification"])
    token = relying.mint_token(key, code="ceni", purpose="voter_verification")
    # When it is presented, then the service is recognised with the token's purpose
    client = relying.authenticate(session_factory=session_factory, token=token)
    assert (client.service_id, client.purpose) == (service_id, "voter_verification")
    # And presented again, it is refused as a replay
    with pytest.raises(Unauthenticated, match="already used"):
        relying.authenticate(session_factory=session_factory, token=token)


@pytest.mark.parametrize("case", ["expired", "signature", "audience", "unknown", "lifetime",
                                  "no purpose", "not a jwt", "hs256"])
def test_bad_tokens_are_refused(case: str, session_factory: sessionmaker[Session]) -> None:
    import jwt

    # Given a registered service
    _, key = make_service(session_factory, "ceni", ["voter_verification"])
    other_key, _ = relying.generate_keypair()
    now = int(time.time())
    tokens = {
        "expired": relying.mint_token(key, code="ceni", purpose="voter_verification",
                                      now=now - 400, lifetime=120),
        "signature": relying.mint_token(other_key, code="ceni", purpose="voter_verification"),
        "audience": relying.mint_token(key, code="ceni", purpose="voter_verification",
                                       audience="someone-else"),
        "unknown": relying.mint_token(key, code="nobody", purpose="voter_verification"),
        "lifetime": relying.mint_token(key, code="ceni", purpose="voter_verification",
                                       lifetime=3600),
        "no purpose": jwt.encode({"iss": "ceni", "aud": relying.AUDIENCE, "iat": now,
                                  "exp": now + 60, "jti": "abcdefgh-1"},
                                 relying.load_private_key(key), algorithm="EdDSA"),
        "not a jwt": "not-a-token",
        "hs256": jwt.encode({"iss": "ceni", "aud": relying.AUDIENCE, "iat": now,
                             "exp": now + 60, "jti": "abcdefgh-2", "purpose": "x"},
                            "a shared secret of enough length!", algorithm="HS256"),
    }
    # When it is presented, then it is refused (401)
    with pytest.raises(Unauthenticated) as refused:
        relying.authenticate(session_factory=session_factory, token=tokens[case])
    assert refused.value.status == 401


def test_a_deactivated_service_is_refused(session_factory: sessionmaker[Session]) -> None:
    # Given a service that was deactivated
    service_id, key = make_service(session_factory, "ceni", ["voter_verification"])
    with session_factory.begin() as session:
        relying.deactivate_service(session=session, actor=ADMIN, service_id=service_id)
    # When it presents a fresh token, then it is refused
    with pytest.raises(Unauthenticated, match="deactivated"):
        relying.authenticate(session_factory=session_factory, token=relying.mint_token(
            key, code="ceni", purpose="voter_verification"))
    assert [e.action for e in ledger(session_factory, "biometry.service.")] == [
        "biometry.service.create", "biometry.service.deactivate"]


def test_rate_limit_per_service(session_factory: sessionmaker[Session]) -> None:
    # Given a service allowed two requests a minute
    _, key = make_service(session_factory, "ceni", ["voter_verification"], rate=2)
    moment = dt.datetime(2026, 11, 23, 10, 0, 5, tzinfo=dt.UTC)

    def present() -> ServiceClient:
        return relying.authenticate(session_factory=session_factory, now=moment,
                                    token=relying.mint_token(key, code="ceni",
                                                             purpose="voter_verification"))

    # When it sends a third within the minute, then it is told to wait (429)
    present()
    present()
    with pytest.raises(TooManyRequests):
        present()


def test_unusual_volume_opens_one_csirt_case(session_factory: sessionmaker[Session]) -> None:
    # Given a service whose alert threshold is three requests an hour
    service_id, key = make_service(session_factory, "ceni", ["voter_verification"], alert=3)
    moment = dt.datetime(2026, 11, 23, 10, 0, 5, tzinfo=dt.UTC)
    # When it sends six requests within the hour
    for _ in range(6):
        relying.authenticate(session_factory=session_factory, now=moment,
                             token=relying.mint_token(key, code="ceni",
                                                      purpose="voter_verification"))
    # Then exactly one case was opened for the national CSIRT, naming the service
    with session_factory() as session:
        cases = [c for c in csirt.list_cases(session=session, actor=ADMIN)[0]
                 if "ceni" in c.title]
        assert len(cases) == 1
        assert cases[0].biometric_data and "/biometry/services/" in cases[0].description
    alert, = ledger(session_factory, "biometry.service.volume_alert")
    assert alert.object_id == str(service_id)


# --- administration ---------------------------------------------------------------------------

def test_service_registration_rules(session_factory: sessionmaker[Session]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    make_service(session_factory, "ceni", ["voter_verification"])
    # A taken code is a conflict
    with pytest.raises(Conflict), session_factory.begin() as session:
        relying.create_service(session=session, actor=ADMIN, data=ServiceIn(
            code="ceni", name="x", legal_basis="x", purposes=["voter_verification"]))
    # A key that is not Ed25519 is refused
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    for pem in (ec_pem, "not a key"):
        with pytest.raises(Invalid), session_factory.begin() as session:
            relying.create_service(session=session, actor=ADMIN, data=ServiceIn(
                code="other", name="x", legal_basis="x", purposes=["voter_verification"],
                public_key_pem=pem))
    # An unknown purpose fails validation
    with pytest.raises(ValueError):
        ServiceIn(code="x1", name="x", legal_basis="x", purposes=["surveillance"])


def test_only_service_managers_see_services(session_factory: sessionmaker[Session]) -> None:
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    agent = Actor(user_id=None, name="agent", role=Role.ENROLMENT_AGENT,
                  permissions=frozenset({"biometry:enrollment:write"}))
    with session_factory() as session:
        with pytest.raises(NotFound):
            relying.get_service(session=session, actor=agent, service_id=service_id)
        with pytest.raises(Forbidden):
            relying.list_services(session=session, actor=agent)


def test_update_changes_purposes_and_key(session_factory: sessionmaker[Session]) -> None:
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    new_key, new_public = relying.generate_keypair()
    with session_factory.begin() as session:
        service = relying.update_service(session=session, actor=ADMIN, service_id=service_id,
                                         data=ServiceUpdate(
                                             purposes=["voter_roll_deduplication"],
                                             public_key_pem=new_public, rate_per_minute=10))
        assert relying.purposes_of(service) == ["voter_roll_deduplication"]
    client = relying.authenticate(session_factory=session_factory, token=relying.mint_token(
        new_key, code="ceni", purpose="voter_roll_deduplication"))
    assert client.purposes == ("voter_roll_deduplication",)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "biometry.service.update")) == 1


def test_demo_registers_two_services_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        assert relying.load_demo(session=session, actor=ADMIN) == {"services": 2}
    with session_factory.begin() as session:
        assert relying.load_demo(session=session, actor=ADMIN) == {"services": 0}
        codes = [s.code for s in relying.list_services(session=session, actor=ADMIN)]
    assert codes == ["ceni", "cnss"]


# --- review fixes -----------------------------------------------------------------------------

class SpyEngine(NbisEngine):
    """The NBIS engine, counting comparisons and face decodings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.compared: list[tuple[Any, Any]] = []
        self.faces_decoded = 0

    def compare(self, probe: Any, reference: Any) -> Any:
        self.compared.append((probe, reference))
        return super().compare(probe, reference)

    def face_from_image(self, image: bytes) -> FaceSample:
        self.faces_decoded += 1
        return super().face_from_image(image)


def test_unknown_or_inactive_number_costs_a_comparison_like_a_holder(
        session_factory: sessionmaker[Session], store: MasterKeyStore) -> None:
    # Given an active person, a pending one and a spying engine
    enroll(session_factory, store, "ML-000021")
    enroll(session_factory, store, "ML-000022", status="pending")
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    spy = SpyEngine()
    # When a service verifies the holder, a number nobody holds and the pending person
    answers = [_verify(session_factory, store, spy, client, nin=nin, modality="finger",
                       position=POSITION, image_base64=b64(fingers()["crop"]))
               for nin in ("ML-000021", "ML-999998", "ML-000022")]
    # Then each answer did one fingerprint comparison (no timing tells the number exists)
    assert [a.match for a in answers] == [True, False, False]
    assert len(spy.compared) == 3
    assert all(probe.fingers and POSITION in reference.fingers
               for probe, reference in spy.compared)


def test_lock_of_a_person_who_is_not_active_is_not_revealed(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        matcher: MatchingEngine) -> None:
    # Given a deceased person who had locked finger authentication
    dead = enroll(session_factory, store, "ML-000023", status="deceased", locked="finger")
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    # When a service verifies their finger, then it hears no match, as for an unknown number
    answer = _verify(session_factory, store, matcher, client, nin="ML-000023",
                     modality="finger", position=POSITION, image_base64=b64(fingers()["crop"]))
    assert answer.model_dump() == {"match": False, "band": "low"}
    row, = accesses(session_factory, service_id)
    assert (row.person_id, row.outcome) == (dead, "no_match")


def test_face_verification_is_refused_before_decoding_without_a_face_matcher(
        session_factory: sessionmaker[Session], store: MasterKeyStore) -> None:
    # Given an engine without a face encoder
    enroll(session_factory, store, "ML-000024")
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    client = client_for(service_id, "ceni", ["voter_verification"], "voter_verification")
    spy = SpyEngine()
    # When a service sends a face, then it is refused without running face detection
    with pytest.raises(Invalid, match="face matcher"):
        _verify(session_factory, store, spy, client, nin="ML-000024", modality="face",
                image_base64=b64(real_face()))
    assert spy.faces_decoded == 0


def test_a_public_key_on_an_unsupported_curve_is_invalid(
        session_factory: sessionmaker[Session]) -> None:
    # Given an EC public key on secp112r1, a curve the crypto library does not support
    spki = bytes.fromhex("3032301006072a8648ce3d020106052b81040006031e0004") + b"\x01" * 28
    pem = ("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(spki).decode()
           + "\n-----END PUBLIC KEY-----\n")
    # When it is registered, then it is refused as invalid (not a server error)
    with pytest.raises(Invalid, match="Ed25519"), session_factory.begin() as session:
        relying.create_service(session=session, actor=ADMIN, data=ServiceIn(
            code="ceni", name="x", legal_basis="x", purposes=["voter_verification"],
            public_key_pem=pem))


def test_token_refusals_do_not_tell_unknown_services_from_bad_signatures(
        session_factory: sessionmaker[Session]) -> None:
    # Given a service and a deactivated one
    _, key = make_service(session_factory, "ceni", ["voter_verification"])
    off_id, off_key = make_service(session_factory, "cnss", ["social_security_benefit"])
    with session_factory.begin() as session:
        relying.deactivate_service(session=session, actor=ADMIN, service_id=off_id)
    other_key, _ = relying.generate_keypair()
    tokens = [relying.mint_token(key, code="probe-code", purpose="voter_verification"),
              relying.mint_token(other_key, code="ceni", purpose="voter_verification"),
              relying.mint_token(off_key, code="cnss", purpose="social_security_benefit")]
    # When each is presented, then every refusal says the same thing, echoing no code
    messages = set()
    for token in tokens:
        with pytest.raises(Unauthenticated) as refused:
            relying.authenticate(session_factory=session_factory, token=token,
                                 source_ip="192.0.2.1")
        messages.add(str(refused.value))
    message, = messages
    assert not any(code in message for code in ("probe-code", "ceni", "cnss"))


def test_failed_token_checks_are_throttled_per_address_and_ledgered(
        session_factory: sessionmaker[Session]) -> None:
    # Given a service, and an address sending forged tokens
    _, key = make_service(session_factory, "ceni", ["voter_verification"])
    other_key, _ = relying.generate_keypair()
    moment = dt.datetime(2026, 11, 23, 10, 0, 5, tzinfo=dt.UTC)

    def present(private: bytes, address: str) -> ServiceClient:
        return relying.authenticate(
            session_factory=session_factory, source_ip=address, now=moment,
            token=relying.mint_token(private, code="ceni", purpose="voter_verification"))

    for _ in range(relying.FAILED_LIMIT):
        with pytest.raises(Unauthenticated):
            present(other_key, "203.0.113.9")
    # When it goes on past the limit, then it is told to wait, even with a valid token
    with pytest.raises(TooManyRequests):
        present(other_key, "203.0.113.9")
    with pytest.raises(TooManyRequests):
        present(key, "203.0.113.9")
    # While another address is served
    assert present(key, "198.51.100.4").code == "ceni"
    # And crossing the limit is ledgered once, naming the address
    entry, = ledger(session_factory, "biometry.service.auth_throttled")
    assert entry.object_repr == "203.0.113.9"


def test_a_failed_volume_alert_never_fails_the_request_and_is_retried(
        session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a service whose alert threshold is one request an hour, and a CSIRT service
    # that fails once
    service_id, key = make_service(session_factory, "ceni", ["voter_verification"], alert=1)
    moment = dt.datetime(2026, 11, 23, 10, 0, 5, tzinfo=dt.UTC)
    report_case = csirt.report_case
    calls: list[int] = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("CSIRT database unavailable")
        return report_case(**kwargs)

    monkeypatch.setattr(csirt, "report_case", flaky)
    # When the service sends four requests within the hour
    for _ in range(4):
        client = relying.authenticate(session_factory=session_factory, now=moment,
                                      token=relying.mint_token(key, code="ceni",
                                                               purpose="voter_verification"))
        assert client.service_id == service_id
    # Then every request went through, the failed alert was tried again, and one case opened
    assert len(calls) == 2
    alert, = ledger(session_factory, "biometry.service.volume_alert")
    assert alert.object_id == str(service_id)
