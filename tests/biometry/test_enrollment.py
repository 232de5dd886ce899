"""Intake of enrollment packets (service level): a real fingerprint (NBIS's test.wsq, also as
PNG), replays, refusals that leave nothing written, wrong finger positions, the ledger, and
the ISO/IEC 19794-2 template export that re-imports."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import wsq
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import enrollment as intake
from lakana.biometry import persons
from lakana.biometry.engine import AcquisitionError
from lakana.biometry.models import Capture, Enrollment, Person, SealedObject
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.protection.keystore import FileKeyStore
from lakana.biometry.schemas import EnrollmentPacket
from lakana.core import i18n
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Actor, Role, system_actor
from lakana.core.auth.service import actor_for
from lakana.core.errors import Conflict, Forbidden, Invalid, LakanaError, NotFound
from tests.biometry.faces import real_face
from tests.conftest import Factory

WSQ_PATH = Path(wsq.__file__).parent / "tests" / "test.wsq"
NIN = "ML-1985-000123"
ENGINE = NbisEngine()


# --- sample data (shared with the API and pages tests) ------------------------------------------

def finger_wsq() -> bytes:
    """The real 500 ppi fingerprint shipped with the wsq package."""
    return WSQ_PATH.read_bytes()


def finger_png(*, crop: tuple[int, int, int, int] | None = None) -> bytes:
    """The same fingerprint as PNG (optionally cropped: still the same finger)."""
    picture = Image.open(io.BytesIO(finger_wsq()))
    if crop is not None:
        picture = picture.crop(crop)
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def fingertip_png(size: int = 60) -> bytes:
    """The same fingerprint reduced to a ``size``-pixel square of ridges on a blank card of
    the same size, as a fingertip barely touching the glass leaves: a valid, contrasted
    image holding only a few minutiae."""
    picture = Image.open(io.BytesIO(finger_wsq())).convert("L")
    card = Image.new("L", picture.size, 255)
    half = size // 2
    card.paste(picture.crop((200 - half, 200 - half, 200 + half, 200 + half)),
               (270 - half, 260 - half))
    out = io.BytesIO()
    card.save(out, "PNG")
    return out.getvalue()


def face_png(width: int = 300, height: int = 400) -> bytes:
    """A real portrait photograph fitted to the size (passes the face checks)."""
    return real_face(width, height)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def packet_dict(*, packet_id: str = "pkt-0000001", kind: str = "new", nin: str = NIN,
                fingers: dict[int, bytes] | None = None,
                templates: dict[int, bytes] | None = None,
                face: bytes | None = None) -> dict[str, Any]:
    """A packet as JSON-ready data (one real finger at position 1 by default)."""
    captures: list[dict[str, Any]] = []
    if face is not None:
        captures.append({"modality": "face", "position": 0, "image_base64": b64(face)})
    for position, image in (fingers if fingers is not None else {1: finger_wsq()}).items():
        captures.append({"modality": "finger", "position": position,
                         "image_base64": b64(image)})
    for position, template in (templates or {}).items():
        captures.append({"modality": "finger", "position": position,
                         "iso_template_base64": b64(template)})
    return {"packet_id": packet_id, "kind": kind, "centre": "Bamako Commune III",
            "device": "Station-07", "captured_at": "2026-11-20T09:30:00+00:00",
            "demographics": {"nin": nin, "surname": "Traoré", "given_names": "Aminata",
                             "sex": "F", "date_of_birth": "1985-03-14",
                             "place_of_birth": "Ségou", "region": "Ségou",
                             "phone": "+22370000001"},
            "captures": captures}


def packet(**kwargs: Any) -> EnrollmentPacket:
    return EnrollmentPacket.model_validate(packet_dict(**kwargs))


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture
def agent(factory: Factory) -> Actor:
    return actor_for(factory.user(Role.ENROLMENT_AGENT))


def _submit(session_factory: sessionmaker[Session], store: FileKeyStore, actor: Actor,
            data: EnrollmentPacket, **kwargs: Any) -> intake.IntakeResult:
    with session_factory.begin() as session:
        return intake.submit_packet(session=session, actor=actor, store=store, engine=ENGINE,
                                    packet=data, deduplicate=kwargs.pop("deduplicate", False),
                                    **kwargs)


def _counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Person, Enrollment, Capture, SealedObject, AuditEntry)}


def _refused(session_factory: sessionmaker[Session], store: FileKeyStore, actor: Actor,
             data: EnrollmentPacket, error: type[LakanaError]) -> str:
    """Submit a packet that must be refused; check nothing was written; the English reason."""
    before = _counts(session_factory)
    with pytest.raises(error) as caught:
        _submit(session_factory, store, actor, data)
    assert _counts(session_factory) == before
    with i18n.use_language("en"):
        return i18n.gettext(caught.value.message, **caught.value.params)


def _activate(session_factory: sessionmaker[Session], person_id: int) -> None:
    with session_factory.begin() as session:
        person = session.get(Person, person_id)
        assert person is not None
        person.status = "active"


# --- accepted packets -------------------------------------------------------------------------

def test_packet_is_checked_sealed_stored_and_ledgered(
        session_factory: sessionmaker[Session], file_store: FileKeyStore, agent: Actor) -> None:
    result = _submit(session_factory, file_store, agent,
                     packet(fingers={1: finger_wsq()}, face=face_png()))
    assert result.state == "pending_dedup" and not result.replayed
    qualities = {(q.modality, q.position): q for q in result.quality}
    assert qualities[("finger", 1)].quality == 42 and qualities[("finger", 1)].minutiae >= 100
    assert qualities[("face", 0)].quality > 0
    with session_factory() as session:
        person = session.get(Person, result.person_id)
        assert person is not None and person.status == "pending" and person.region == "Ségou"
        found = persons.find_by_nin(session=session, store=file_store, nin=NIN)
        assert found is not None and found.id == person.id
        demo = persons.demographics_of(session=session, store=file_store, person=person)
        assert demo is not None and demo.surname == "Traoré"
        captures = session.scalars(select(Capture).where(
            Capture.enrollment_id == result.enrollment_id)).all()
        assert {c.modality for c in captures} == {"face", "finger"}
        finger = next(c for c in captures if c.modality == "finger")
        image = persons.open_sealed_id(session=session, store=file_store,
                                       object_id=finger.image_object_id)
        assert image is not None and image[:2] == b"\xff\xa0"  # a WSQ image (SOI marker)
        template = persons.open_sealed_id(session=session, store=file_store,
                                          object_id=finger.template_object_id)
        assert template is not None and template.startswith(b"FMR\x00 20\x00")
        kinds = set(session.scalars(select(SealedObject.kind).where(
            SealedObject.owner_ref == persons.owner_ref(person.id))))
        assert kinds == {persons.KIND_DEMOGRAPHICS, persons.KIND_FACE_IMAGE,
                         persons.KIND_FINGER_WSQ, persons.KIND_FINGER_TEMPLATE}
        # Nothing in clear in the sealed rows.
        for obj in session.scalars(select(SealedObject)):
            assert template[40:80] not in obj.ciphertext
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.enrollment.submit")).one()
        assert entry.object_id == str(result.enrollment_id)
        assert json.loads(entry.details)["person_id"] == person.id
        text = json.dumps([entry.details, entry.object_repr])
        assert NIN not in text and "Traoré" not in text and "FMR" not in text


def test_png_and_imported_template(session_factory: sessionmaker[Session],
                                   file_store: FileKeyStore, agent: Actor) -> None:
    template = ENGINE.finger_from_image(finger_wsq(), position=3).iso_template
    result = _submit(session_factory, file_store, agent,
                     packet(fingers={}, templates={3: template}))
    assert [(q.position, q.quality, q.minutiae) for q in result.quality] == [(3, 0, 150)]
    result = _submit(session_factory, file_store, agent,
                     packet(packet_id="pkt-png-0001", nin="ML-2000-999", fingers={
                         2: finger_png()}))
    assert result.quality[0].quality > 30


def test_replay_is_recognised_and_conflicting_replay_refused(
        session_factory: sessionmaker[Session], file_store: FileKeyStore, agent: Actor) -> None:
    first = _submit(session_factory, file_store, agent, packet())
    again = _submit(session_factory, file_store, agent, packet())
    assert again.replayed and again.enrollment_id == first.enrollment_id
    assert again.quality == first.quality
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 1
        replay = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.enrollment.replay")).one()
        assert "replay recognised" in replay.details
    other = packet(face=face_png())  # same id, other content
    reason = _refused(session_factory, file_store, agent, other, Conflict)
    assert "already received with other content" in reason


def test_new_packet_for_a_registered_number_is_refused(
        session_factory: sessionmaker[Session], file_store: FileKeyStore, agent: Actor) -> None:
    _submit(session_factory, file_store, agent, packet())
    reason = _refused(session_factory, file_store, agent, packet(packet_id="pkt-0000002"),
                      Conflict)
    assert "update" in reason and NIN not in reason


def test_update_needs_an_active_person(session_factory: sessionmaker[Session],
                                       file_store: FileKeyStore, agent: Actor) -> None:
    reason = _refused(session_factory, file_store, agent, packet(kind="update"), Invalid)
    assert "new enrollment" in reason
    _submit(session_factory, file_store, agent, packet())
    reason = _refused(session_factory, file_store, agent,
                      packet(packet_id="pkt-upd-0001", kind="update"), Conflict)
    assert "pending" in reason


def test_update_with_a_print_at_the_wrong_position(
        session_factory: sessionmaker[Session], file_store: FileKeyStore, agent: Actor) -> None:
    first = _submit(session_factory, file_store, agent, packet(fingers={1: finger_wsq()}))
    _activate(session_factory, first.person_id)
    crop = finger_png(crop=(20, 20, 520, 500))
    reason = _refused(session_factory, file_store, agent,
                      packet(packet_id="pkt-upd-0002", kind="update", fingers={2: crop}),
                      Invalid)
    assert "position 2" in reason and "finger 1" in reason
    # At its own position the update is taken; its captures wait for deduplication.
    result = _submit(session_factory, file_store, agent,
                     packet(packet_id="pkt-upd-0003", kind="update", fingers={1: crop}))
    assert result.person_id == first.person_id and result.state == "pending_dedup"
    with session_factory() as session:
        new = session.scalars(select(Capture).where(
            Capture.enrollment_id == result.enrollment_id)).all()
        assert [c.active for c in new] == [False]


# --- refused packets: nothing half-written ----------------------------------------------------

def test_same_finger_under_two_positions(session_factory: sessionmaker[Session],
                                         file_store: FileKeyStore, agent: Actor) -> None:
    data = packet(fingers={1: finger_wsq(), 6: finger_png(crop=(30, 10, 530, 510))})
    reason = _refused(session_factory, file_store, agent, data, Invalid)
    assert reason == "The same finger was submitted as positions 1 and 6."


def _bad_images() -> dict[str, tuple[bytes, str]]:
    png = finger_png()
    blank = io.BytesIO()
    Image.new("L", (400, 400), 128).save(blank, "PNG")
    tiny = io.BytesIO()
    Image.open(io.BytesIO(png)).resize((60, 60)).save(tiny, "PNG")
    gif = io.BytesIO()
    Image.open(io.BytesIO(png)).save(gif, "GIF")
    return {"corrupt": (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, "corrupt"),
            "truncated": (png[: len(png) // 3], "corrupt, truncated"),
            "wrong format": (gif.getvalue(), "GIF format"),
            "blank": (blank.getvalue(), "blank"),
            "tiny": (tiny.getvalue(), "60×60"),
            "too few minutiae": (fingertip_png(), "minutiae were found (at least 12 are "
                                                  "needed)"),
            "not an image": (b"%PDF-1.4 hello", "corrupt")}


@pytest.mark.parametrize("case", list(_bad_images()))
def test_unusable_finger_images(case: str, session_factory: sessionmaker[Session],
                                file_store: FileKeyStore, agent: Actor) -> None:
    image, expected = _bad_images()[case]
    reason = _refused(session_factory, file_store, agent,
                      packet(fingers={1: finger_wsq(), 7: image}), AcquisitionError)
    assert reason.startswith("Finger 7: ") and expected in reason


def test_messages_are_french_for_the_station() -> None:
    error = intake._acquisition(AcquisitionError("The fingerprint image is blank (no ridge "
                                                 "contrast)."),
                                intake.CaptureIn(modality="finger", position=7))
    with i18n.use_language("fr"):
        text = i18n.gettext(error.message, **error.params)
    assert text.startswith("Doigt 7 : ") and "vide" in text


def test_unusable_face_and_templates(session_factory: sessionmaker[Session],
                                     file_store: FileKeyStore, agent: Actor) -> None:
    reason = _refused(session_factory, file_store, agent,
                      packet(face=face_png(600, 400)), AcquisitionError)
    assert reason.startswith("Face: ") and "portrait" in reason
    template = ENGINE.finger_from_image(finger_wsq(), position=3).iso_template
    reason = _refused(session_factory, file_store, agent,
                      packet(fingers={}, templates={3: template[:-10]}), AcquisitionError)
    assert reason.startswith("Finger 3: ") and "truncated" in reason
    reason = _refused(session_factory, file_store, agent,
                      packet(fingers={}, templates={4: template}), AcquisitionError)
    assert "position 3" in reason


@pytest.mark.parametrize("value", ["not base64!!", "QUJD=", "QUJDRA", "QUJD\nRA=="])
def test_bad_base64(value: str, session_factory: sessionmaker[Session],
                    file_store: FileKeyStore, agent: Actor) -> None:
    data = packet_dict()
    data["captures"][0]["image_base64"] = value
    reason = _refused(session_factory, file_store, agent,
                      EnrollmentPacket.model_validate(data), Invalid)
    assert reason == "The data of finger 1 is not valid base64."


def test_structural_refusals(session_factory: sessionmaker[Session],
                             file_store: FileKeyStore, agent: Actor) -> None:
    data = packet_dict(face=face_png())
    data["captures"].append(dict(data["captures"][0]))
    assert "one face" in _refused(session_factory, file_store, agent,
                                  EnrollmentPacket.model_validate(data), Invalid)
    data = packet_dict(fingers={2: finger_wsq()})
    data["captures"].append(dict(data["captures"][0]))
    assert "appears twice" in _refused(session_factory, file_store, agent,
                                       EnrollmentPacket.model_validate(data), Invalid)
    data = packet_dict(fingers={}, face=face_png())
    assert "at least one finger" in _refused(session_factory, file_store, agent,
                                             EnrollmentPacket.model_validate(data), Invalid)
    data = packet_dict()
    data["demographics"]["region"] = "Atlantis"
    assert "regions of Mali" in _refused(session_factory, file_store, agent,
                                         EnrollmentPacket.model_validate(data), Invalid)


def test_a_refusal_after_writes_leaves_nothing(session_factory: sessionmaker[Session],
                                               file_store: FileKeyStore, agent: Actor,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a failure after the rows were flushed (as deduplication may refuse) is rolled
    back whole."""
    original = intake._store_captures

    def store_then_fail(**kwargs: Any) -> None:
        original(**kwargs)
        raise Conflict("The new prints do not match the person.")

    monkeypatch.setattr(intake, "_store_captures", store_then_fail)
    before = _counts(session_factory)
    with pytest.raises(Conflict):
        _submit(session_factory, file_store, agent, packet())
    assert _counts(session_factory) == before


def test_permissions(session_factory: sessionmaker[Session], file_store: FileKeyStore,
                     factory: Factory) -> None:
    focal = actor_for(factory.user(Role.FOCAL_POINT))
    _refused(session_factory, file_store, focal, packet(), Forbidden)
    agent = actor_for(factory.user(Role.ENROLMENT_AGENT))
    result = _submit(session_factory, file_store, agent, packet())
    with session_factory.begin() as session, pytest.raises(Forbidden):
        intake.export_template(session=session, actor=agent, store=file_store,
                               person_id=result.person_id, position=1)
    adjudicator = actor_for(factory.user(Role.ADJUDICATOR))
    with session_factory.begin() as session:
        assert intake.export_template(session=session, actor=adjudicator, store=file_store,
                                      person_id=result.person_id, position=1)


# --- template export --------------------------------------------------------------------------

def test_template_export_is_an_iso_record_that_reimports(
        session_factory: sessionmaker[Session], file_store: FileKeyStore, agent: Actor) -> None:
    result = _submit(session_factory, file_store, agent, packet(fingers={4: finger_wsq()}))
    admin = system_actor("tests")
    with session_factory.begin() as session:
        record = intake.export_template(session=session, actor=admin, store=file_store,
                                        person_id=result.person_id, position=4)
    assert record.startswith(b"FMR\x00 20\x00")
    assert int.from_bytes(record[8:12], "big") == len(record) and record[24] == 4
    sample = ENGINE.finger_from_template(record, position=4)
    assert sample.minutiae == 150
    with session_factory() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.template.export")).one()
        assert entry.object_id == str(result.person_id) and "FMR" not in entry.details
    # Re-imported under another person, it is the same finger.
    again = _submit(session_factory, file_store, agent,
                    packet(packet_id="pkt-import-01", nin="ML-1999-4242", fingers={},
                           templates={4: record}))
    with session_factory() as session:
        probe = persons.probe_of(session=session, store=file_store,
                                 person_id=again.person_id)
    assert ENGINE.finger_from_template(probe.fingers[4], position=4).minutiae == 150
    with session_factory.begin() as session, pytest.raises(NotFound):
        intake.export_template(session=session, actor=admin, store=file_store,
                               person_id=result.person_id, position=5)


def test_refusal_is_ledgered_in_its_own_transaction(
        session_factory: sessionmaker[Session], agent: Actor) -> None:
    intake.record_refusal(session_factory=session_factory, actor=agent,
                          packet_id="pkt-x-000001", status=422, reason="Finger 7: blank")
    with session_factory() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.enrollment.refused")).one()
        assert json.loads(entry.details)["reason"] == "Finger 7: blank"


def test_deduplicate_is_called(session_factory: sessionmaker[Session],
                               file_store: FileKeyStore, agent: Actor) -> None:
    lifecycle = pytest.importorskip("lakana.biometry.lifecycle")
    if not hasattr(lifecycle, "deduplicate"):
        pytest.skip("lifecycle.deduplicate is not written yet")
    result = _submit(session_factory, file_store, agent, packet(), deduplicate=True)
    assert result.state in ("issued", "adjudication")


def test_packet_digest_is_canonical() -> None:
    data = packet_dict()
    same = json.loads(json.dumps(data, sort_keys=True))
    assert intake.packet_digest(EnrollmentPacket.model_validate(data)) == \
        intake.packet_digest(EnrollmentPacket.model_validate(same))
    data["captured_at"] = (dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)).isoformat()
    assert intake.packet_digest(EnrollmentPacket.model_validate(data)) == \
        intake.packet_digest(packet())


# --- command line -----------------------------------------------------------------------------

def test_cli_submit_and_export(settings: Any, engine: Any, monkeypatch: pytest.MonkeyPatch,
                               tmp_path: Path,
                               session_factory: sessionmaker[Session]) -> None:
    from typer.testing import CliRunner

    from lakana.biometry.cli_enrollment import app

    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    packet_file = tmp_path / "packet.json"
    packet_file.write_text(json.dumps(packet_dict()))
    runner = CliRunner()
    done = runner.invoke(app, ["submit", str(packet_file), "--no-dedup"])
    assert done.exit_code == 0, done.output
    shown = json.loads(done.output)
    assert shown["state"] == "pending_dedup" and shown["quality"][0]["quality"] == 42
    again = runner.invoke(app, ["submit", str(packet_file), "--no-dedup"])
    assert json.loads(again.output)["replayed"] is True
    out = tmp_path / "thumb.iso"
    done = runner.invoke(app, ["export-template", str(shown["person_id"]), "1", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"FMR\x00 20\x00")
    done = runner.invoke(app, ["export-template", str(shown["person_id"]), "2", str(out)])
    assert done.exit_code == 2 and "no active finger at position 2" in done.output
    packet_file.write_text(json.dumps(packet_dict(fingers={1: b"\x89PNG\r\n\x1a\nbad"})))
    done = runner.invoke(app, ["submit", str(packet_file), "--no-dedup"])
    assert done.exit_code == 2 and "already received with other content" in done.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"packet_id": 1}')
    done = runner.invoke(app, ["submit", str(broken)])
    assert done.exit_code == 2 and "not valid" in done.output
    with session_factory() as session:
        refused = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.enrollment.refused")).one()
        assert json.loads(refused.details)["status"] == 409


def test_the_same_packet_sent_twice_at_once_is_one_enrollment_and_one_replay(
        session_factory: sessionmaker[Session], file_store: FileKeyStore, agent: Actor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two registration clients sending the same packet at the same moment: both pass
    # the "already received?" check before either has written anything
    import threading

    barrier = threading.Barrier(2, timeout=30)
    real_acquire = intake._acquire

    def acquire_together(*args: Any, **kwargs: Any) -> Any:
        result = real_acquire(*args, **kwargs)
        barrier.wait()
        return result

    monkeypatch.setattr(intake, "_acquire", acquire_together)
    data = packet(packet_id="pkt-race-0001", fingers={1: finger_wsq()})
    results: list[intake.IntakeResult] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            results.append(_submit(session_factory, file_store, agent, data))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Then one enrollment was made and the other request answered as a replay of it
    if session_factory.kw["bind"].dialect.name == "sqlite" and errors:
        # SQLite serialises writers: the loser may only be told the database was busy (a
        # retryable refusal), never given a second enrollment.
        assert all("locked" in str(e) for e in errors), errors
    else:
        assert not errors, errors
        assert sorted(r.replayed for r in results) == [False, True]
        assert len({r.enrollment_id for r in results}) == 1
    assert _counts(session_factory)["Enrollment"] == 1
    assert _counts(session_factory)["Person"] == 1
