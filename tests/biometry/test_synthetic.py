"""The synthetic generator: enough minutiae, genuine impressions match, different seeds do
not, faces pass the face checks."""

from __future__ import annotations

from typing import Any

import pytest

from lakana.biometry.engine import AcquisitionError, Probe
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.synthetic import synthetic_face, synthetic_finger

ENGINE = NbisEngine()
SEEDS = (11, 12, 13, 14)


def test_synthetic_fingers_separate_genuine_from_impostor() -> None:
    samples = {(s, i): ENGINE.finger_from_image(synthetic_finger(s, i), position=3)
               for s in SEEDS for i in (0, 1)}
    assert all(sample.minutiae >= 20 for sample in samples.values())

    def probe(seed: int, impression: int) -> Probe:
        return Probe(fingers={3: samples[seed, impression].iso_template})

    for seed in SEEDS:
        assert ENGINE.compare(probe(seed, 0), probe(seed, 1)).score >= 40
    for a in SEEDS:
        for b in SEEDS:
            if a < b:
                assert ENGINE.compare(probe(a, 0), probe(b, 1)).score < 40


def test_synthetic_is_deterministic_and_wsq_works() -> None:
    assert synthetic_finger(21) == synthetic_finger(21)
    assert synthetic_finger(21) != synthetic_finger(22)
    assert ENGINE.finger_from_image(synthetic_finger(21, fmt="WSQ"), position=1).minutiae >= 20


def test_synthetic_faces_are_drawings_the_face_checks_refuse() -> None:
    faces = [synthetic_face(seed) for seed in (1, 2)]
    assert faces[0] != faces[1]
    for face in faces:
        with pytest.raises(AcquisitionError, match="No face was found"):
            ENGINE.face_from_image(face)


def test_demo_people_fills_registry_and_queue(session_factory: Any, settings: Any) -> None:
    from sqlalchemy import select

    from lakana.biometry import runtime
    from lakana.biometry.models import Adjudication, Enrollment
    from lakana.biometry.synthetic import demo_people
    from lakana.core.auth.rbac import system_actor

    runtime.forget_stores()
    with session_factory.begin() as session:
        ids = demo_people(session=session, actor=system_actor("demo"),
                          store=runtime.keystore(settings), engine=ENGINE, count=3,
                          duplicates=1)
    with session_factory() as session:
        states = [session.get(Enrollment, i).state for i in ids]
        assert states == ["issued", "issued", "issued", "adjudication"]
        assert len(session.scalars(select(Adjudication)).all()) == 1
