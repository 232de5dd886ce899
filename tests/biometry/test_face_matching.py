"""Face matching: dlib encoder, strict templates, exact 1:N search, engine comparison.

Real figures here come from two public-domain portraits (tests/data/faces/); the search
tests use random vectors."""

from __future__ import annotations

import io
import time
from functools import cache

import numpy as np
import pytest
from PIL import Image

from lakana.biometry.engine import AcquisitionError, FaceSample, Probe
from lakana.biometry.face_checks import FaceChecker
from lakana.biometry.matching import faces
from lakana.biometry.matching.faces import (
    MATCH_DISTANCE,
    DlibFaceEncoder,
    compare_templates,
    face_score,
    pack,
    unpack,
)
from lakana.biometry.matching.search import FaceIndex
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.synthetic import synthetic_face
from tests.biometry.faces import FACE_PATH, real_face

OTHER_PERSON = FACE_PATH.parent / "eileen_collins.jpg"


@cache
def engine() -> NbisEngine:
    """The built-in engine with dlib's face encoder (loaded once for the module)."""
    return NbisEngine(face_encoder=DlibFaceEncoder())


@cache
def hopper() -> FaceSample:
    """The enrolled portrait."""
    return engine().face_from_image(real_face())


def rescaled() -> bytes:
    """The portrait at another size and in another format (a second capture)."""
    picture = Image.open(io.BytesIO(real_face(600, 800))).resize((450, 600))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=80)
    return out.getvalue()


# --- encoder ----------------------------------------------------------------------------------

@pytest.mark.parametrize("label", ["mirror", "rescaled"])
def test_the_same_face_is_within_the_match_distance(label: str) -> None:
    # Given the portrait and another picture of it (mirrored, or rescaled and re-encoded)
    image = real_face(mirror=True) if label == "mirror" else rescaled()
    # When both are encoded, then their distance is well under the threshold
    other = engine().face_from_image(image)
    distance = compare_templates(hopper().template, other.template)
    assert distance < MATCH_DISTANCE < 0.6
    assert face_score(distance) >= 80  # "high"


def test_another_person_is_beyond_the_match_distance() -> None:
    # Given another person's portrait, then the distance is over the threshold
    other = engine().face_from_image(OTHER_PERSON.read_bytes())
    distance = compare_templates(hopper().template, other.template)
    assert distance > MATCH_DISTANCE
    assert face_score(distance) < engine().match_threshold


def test_template_is_a_unit_vector_of_128_floats_and_encoding_is_fast() -> None:
    parsed = unpack(hopper().template)
    assert parsed.encoder == "dlib-resnet-v1" and parsed.vector.dtype == np.float32
    assert parsed.vector.shape == (128,)
    assert abs(float(np.linalg.norm(parsed.vector)) - 1) < 1e-5
    picture = Image.open(io.BytesIO(real_face())).convert("RGB")
    located = FaceChecker().locate(picture)
    encoder = DlibFaceEncoder()
    encoder.encode(picture, located)  # loads the model
    started = time.perf_counter()
    vector = encoder.encode(picture, located)
    assert time.perf_counter() - started < 2.0  # ~0.09 s here; generous on a busy machine
    assert float(np.dot(vector, parsed.vector)) > 0.999


def test_a_non_face_is_refused_before_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an encoder that must not be reached
    encoder = DlibFaceEncoder()
    monkeypatch.setattr(encoder, "encode", lambda *a: pytest.fail("encoded a non-face"))
    # When a synthetic drawing (no face to the detector) is submitted, then it is refused
    with pytest.raises(AcquisitionError, match="No face"):
        NbisEngine(face_encoder=encoder).face_from_image(synthetic_face(1))


def test_without_an_encoder_faces_have_no_template() -> None:
    assert NbisEngine().face_from_image(real_face()).template == b""


# --- templates --------------------------------------------------------------------------------

def test_template_round_trip() -> None:
    vector = np.random.default_rng(1).standard_normal(128).astype(np.float32)
    vector /= np.linalg.norm(vector)
    parsed = unpack(pack(vector, encoder="test", version=3))
    assert (parsed.encoder, parsed.version) == ("test", 3)
    assert np.array_equal(parsed.vector, vector)


@pytest.mark.parametrize("mangle", [
    lambda t: b"",
    lambda t: b"FMR\x00 20\x00" + t[8:],  # a finger template's header
    lambda t: t[:4] + b"\x02" + t[5:],  # unknown format version
    lambda t: t[:-4],  # truncated
    lambda t: t + b"\x00" * 4,  # padded
    lambda t: t[:-4] + np.float32(7).tobytes(),  # not a unit vector
    lambda t: t[:5] + b"\x00\x00" + t[7:],  # dimension 0
])
def test_bad_templates_are_refused(mangle: object) -> None:
    template = hopper().template
    with pytest.raises(AcquisitionError):
        unpack(mangle(template))  # type: ignore[operator]


def test_templates_of_different_encoders_are_not_compared() -> None:
    vector = unpack(hopper().template).vector
    with pytest.raises(AcquisitionError, match="different encoders"):
        compare_templates(hopper().template, pack(vector, encoder="onnx-x", version=1))


def test_score_mapping() -> None:
    assert face_score(0.0) == 100
    assert face_score(MATCH_DISTANCE) == pytest.approx(40)
    assert face_score(2.0) == 0
    assert faces.MATCH_SCORE == engine().match_threshold


# --- 1:N search -------------------------------------------------------------------------------

def test_search_ranks_the_mate_first_among_random_vectors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 5,000 random unit vectors (searched in blocks of 1,000) with ids 1000...
    monkeypatch.setattr("lakana.biometry.matching.search.BLOCK_ROWS", 1000)
    rng = np.random.default_rng(7)
    gallery = rng.standard_normal((5000, 128)).astype(np.float32)
    index = FaceIndex()
    index.add(np.arange(1000, 6000), gallery)
    # When noisy copies of 20 of them are searched
    rows = rng.choice(5000, 20, replace=False)
    queries = gallery[rows] + rng.standard_normal((20, 128)).astype(np.float32) * 0.05
    results = index.search(queries, k=5)
    # Then each one's mate is first, with the similarity, best first
    for row, result in zip(rows, results, strict=True):
        assert result[0][0] == 1000 + row and result[0][1] > 0.9
        assert len(result) == 5
        assert [s for _, s in result] == sorted((s for _, s in result), reverse=True)
    # ... the same as a full scan
    unit = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    assert results[0][0][1] == pytest.approx(
        float(np.max(unit @ (queries[0] / np.linalg.norm(queries[0])))), abs=1e-5)
    # ... a threshold keeps only the mate, and removal forgets it
    assert [r for r, _ in index.search(queries[0], 5, min_similarity=0.9)[0]] == [1000 + rows[0]]
    assert index.remove([1000 + rows[0]]) == 1 and len(index) == 4999
    assert index.search(queries[0], 1)[0][0][0] != 1000 + rows[0]


def test_search_edge_cases() -> None:
    index = FaceIndex(dim=4)
    assert index.search([1, 0, 0, 0], 3) == [[]]
    index.add([5, 6], [[1, 0, 0, 0], [0, 2, 0, 0]])
    assert index.search([0, 1, 0, 0], 10) == [[(6, 1.0), (5, 0.0)]]
    with pytest.raises(ValueError):
        index.add([7], [[0, 0, 0, 0]])
    with pytest.raises(ValueError):
        index.search([1, 0, 0], 1)


# --- engine -----------------------------------------------------------------------------------

def test_engine_compare_and_identify_with_faces() -> None:
    # Given the enrolled portrait, its mirror and another person
    mirror = engine().face_from_image(real_face(mirror=True))
    other = engine().face_from_image(OTHER_PERSON.read_bytes())
    probe = Probe(face=mirror.template)
    # When compared 1:1, then the face score is on the engine's scale and fused (max)
    same = engine().compare(probe, Probe(face=hopper().template))
    assert set(same.scores) == {"face"} and same.score == same.scores["face"] >= 80
    assert engine().band(same.score) == "high"
    different = engine().compare(probe, Probe(face=other.template))
    assert different.score < engine().match_threshold
    # ... a missing face on either side gives no face score
    assert engine().compare(probe, Probe()).scores == {}
    # When identified 1:N, then only the mate comes back
    found = engine().identify(probe, [(1, Probe(face=other.template)),
                                      (2, Probe(face=hopper().template))])
    assert [c.reference_id for c in found] == [2]
