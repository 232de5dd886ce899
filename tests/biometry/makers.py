"""Makers of registry objects for the route permission walk (tests/core/
test_route_permissions.py). The person and the capture are real: sealed demographics, a
sealed WSQ image and template of a synthetic finger at position 2, so every GET answers."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from typing import Any

from tests.biometry.test_lifecycle import make_adjudication

_numbers = itertools.count(1)


@functools.cache
def _finger_sample() -> object:
    from lakana.biometry import runtime
    from lakana.biometry.synthetic import synthetic_finger

    return runtime.engine().finger_from_image(synthetic_finger(4242), position=2)


def _person_with_finger(factory: Any) -> tuple[int, int]:
    """(person id, capture id) of an active person with one sealed finger (position 2)."""
    cached = getattr(factory, "_biometry_person", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from lakana.biometry import persons, runtime
    from lakana.biometry.models import Capture, Enrollment
    from lakana.biometry.schemas import Demographics

    sample: Any = _finger_sample()
    store = runtime.keystore(factory.settings)
    number = next(_numbers)
    with factory.session_factory.begin() as session:
        person = persons.create_person(session=session, store=store, demographics=Demographics(
            nin=f"MAKER{number:06d}", surname="Maker", given_names="Test", sex="F",
            date_of_birth=dt.date(1990, 1, 1), place_of_birth="Kati", region="Bamako"))
        person.status = "active"
        enrollment = Enrollment(packet_id=f"maker-finger-{number:06d}", packet_digest="0" * 64,
                                person_id=person.id, state="issued", centre="Centre",
                                device="maker", captured_at=dt.datetime(2026, 1, 1))
        session.add(enrollment)
        session.flush()
        capture = Capture(
            person_id=person.id, enrollment_id=enrollment.id, modality="finger", position=2,
            quality=sample.nfiq2, minutiae=sample.minutiae,
            image_object_id=persons.seal_for_person(session=session, store=store,
                                                    person_id=person.id,
                                                    kind=persons.KIND_FINGER_WSQ,
                                                    data=sample.wsq),
            template_object_id=persons.seal_for_person(session=session, store=store,
                                                       person_id=person.id,
                                                       kind=persons.KIND_FINGER_TEMPLATE,
                                                       data=sample.iso_template))
        session.add(capture)
        session.flush()
        result = (person.id, capture.id)
    factory._biometry_person = result
    return result


def make_person(factory: Any, institution_id: int) -> int:
    """An active person with one finger (``person_id``)."""
    return _person_with_finger(factory)[0]


def make_capture(factory: Any, institution_id: int) -> int:
    """That person's finger capture (``capture_id``)."""
    return _person_with_finger(factory)[1]

__all__ = ["make_adjudication", "make_capture", "make_complaint", "make_enrollment", "make_person",
           "make_relying_service"]


def make_enrollment(factory: Any, institution_id: int) -> int:
    """An enrollment (``enrollment_id``): the one an open adjudication is about."""
    from lakana.biometry.models import Adjudication

    adjudication_id = make_adjudication(factory, institution_id)
    with factory.session_factory() as session:
        adjudication = session.get(Adjudication, adjudication_id)
        assert adjudication is not None
        return adjudication.enrollment_id


def make_complaint(factory: Any, institution_id: int) -> int:
    """A citizen's complaint (``complaint_id``)."""
    from lakana.biometry.models import Complaint

    with factory.session_factory.begin() as session:
        complaint = Complaint(reference=f"PLT-2026-{institution_id:06d}", body="test",
                              state="open")
        session.add(complaint)
        session.flush()
        return complaint.id


def make_relying_service(factory: Any, institution_id: int) -> int:
    """A relying service (``service_id``)."""
    from lakana.biometry import relying
    from lakana.core.auth.rbac import system_actor

    with factory.session_factory.begin() as session:
        return relying.create_service(
            session=session, actor=system_actor("tests"),
            data=relying.ServiceIn(code=f"svc-{institution_id}", name="Service B",
                                   legal_basis="Loi", purposes=["voter_verification"])).id


def make_abis_request(factory: Any, institution_id: int) -> str:
    """A done ABIS Ping request (``abis_request_id``: MOSIP's requestId)."""
    import json

    from lakana.biometry.abis import messages
    from lakana.biometry.models import AbisRequest

    request_id = f"route-walk-{next(_numbers):06d}"
    with factory.session_factory.begin() as session:
        session.add(AbisRequest(
            request_id=request_id, operation=messages.PING, digest="0" * 64,
            request_json="{}", state="done",
            response_json=json.dumps(messages.success(messages.PING, request_id))))
    return request_id
