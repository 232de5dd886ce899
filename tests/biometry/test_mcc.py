"""Minutia Cylinder-Code: separation on synthetic prints, invariance, 1:N and the shortlist
that NbisEngine.identify uses above EXHAUSTIVE_UP_TO gallery entries."""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pytest

from lakana.biometry import nbis_engine
from lakana.biometry.engine import AcquisitionError, Probe
from lakana.biometry.matching.mcc import (
    FingerIndex,
    MccTemplate,
    mcc_from_iso,
    mcc_score,
    mcc_scores,
    mcc_template,
)
from lakana.biometry.matching.minutiae import Minutiae, parse_iso_19794_2
from tests.biometry.test_minutiae import iso_record, mindtct

SEEDS = range(1, 9)


def random_minutiae(rng: np.random.Generator, count: int = 36) -> Minutiae:
    """An impostor finger: minutiae uniformly spread over a 320×400 print."""
    return Minutiae(x=rng.uniform(30, 290, count).astype(np.float32),
                    y=rng.uniform(30, 370, count).astype(np.float32),
                    angle=rng.uniform(0, 2 * math.pi, count).astype(np.float32),
                    quality=np.full(count, 60, np.uint8), width=320, height=400, position=2)


def moved(minutiae: Minutiae, angle: float, dx: float, dy: float) -> Minutiae:
    """The minutiae turned by ``angle`` about the print's centre and shifted (image axes:
    y down, so an ISO angle, counter-clockwise with y up, decreases by the turn)."""
    cx, cy = 160.0, 200.0
    c, s = math.cos(angle), math.sin(angle)
    x = cx + c * (minutiae.x - cx) - s * (minutiae.y - cy) + dx
    y = cy + s * (minutiae.x - cx) + c * (minutiae.y - cy) + dy
    turned = (minutiae.angle - angle) % (2 * math.pi)
    return dataclasses.replace(minutiae, x=x.astype(np.float32), y=y.astype(np.float32),
                               angle=turned.astype(np.float32))


def test_genuine_pairs_score_clearly_above_impostors() -> None:
    # Given two MINDTCT impressions of 8 synthetic fingers
    first = {s: mcc_from_iso(mindtct(s, 0)) for s in SEEDS}
    second = {s: mcc_from_iso(mindtct(s, 1)) for s in SEEDS}
    # When every pair is scored
    genuine = [mcc_score(first[s], second[s]) for s in SEEDS]
    impostor = [mcc_score(first[s], second[t]) for s in SEEDS for t in SEEDS if s != t]
    # Then the worst genuine pair is well above the best impostor
    assert min(genuine) > max(impostor) + 0.2, (genuine, max(impostor))
    assert all(0.0 <= v <= 1.0 for v in genuine + impostor)


def test_rotation_and_translation_keep_the_score() -> None:
    # Given a real minutiae set, and the same set turned by 40° and shifted
    minutiae = parse_iso_19794_2(mindtct(5))
    original = mcc_template(minutiae)
    turned = mcc_template(moved(minutiae, math.radians(40), 25, -15))
    impostor = mcc_template(random_minutiae(np.random.default_rng(7)))
    # Then the cylinders match almost as well as the identical set, unlike an impostor
    assert mcc_score(original, original) == pytest.approx(1.0)
    assert mcc_score(original, turned) > 0.85
    assert mcc_score(original, impostor) < 0.6


def test_one_to_many_equals_one_to_one_and_round_trips() -> None:
    # Given a gallery of templates, including one read back from bytes
    gallery = [mcc_from_iso(mindtct(s)) for s in SEEDS]
    restored = MccTemplate.from_bytes(gallery[2].to_bytes())
    probe = mcc_from_iso(mindtct(3, 1))
    # Then the compiled 1:N kernel gives the 1:1 scores, and bytes lose nothing
    many = mcc_scores(probe, gallery)
    assert many.tolist() == pytest.approx([mcc_score(probe, g) for g in gallery], abs=1e-6)
    assert int(np.argmax(many)) == 2
    assert mcc_score(probe, restored) == pytest.approx(many[2], abs=1e-6)
    assert restored.nbytes == gallery[2].nbytes > 0
    assert mcc_scores(probe, []).size == 0


def test_bad_templates_are_refused() -> None:
    data = mcc_from_iso(mindtct(1)).to_bytes()
    with pytest.raises(AcquisitionError, match="wrong header"):
        MccTemplate.from_bytes(b"XXXX" + data[4:])
    with pytest.raises(AcquisitionError, match="truncated or padded"):
        MccTemplate.from_bytes(data[:-1])
    with pytest.raises(AcquisitionError, match="wrong header"):
        mcc_from_iso(b"not a template at all, clearly")


def test_finger_index_fuses_positions_removes_and_pickles() -> None:
    # Given persons with two fingers each (seed s on position 2, seed s + 50 on 7)
    index = FingerIndex()
    for s in SEEDS:
        index.add(s, {2: mcc_from_iso(mindtct(s)), 7: mcc_from_iso(mindtct(s + 50))})
    probe = {2: mcc_from_iso(mindtct(4, 1)), 7: mcc_from_iso(mindtct(54, 1))}
    # When searched / Then the mate comes first with the mean of both finger scores
    found = index.search(probe, k=3)
    assert [r for r, _ in found][0] == 4 and len(found) == 3
    expected = (mcc_score(probe[2], mcc_from_iso(mindtct(4)))
                + mcc_score(probe[7], mcc_from_iso(mindtct(54)))) / 2
    assert found[0][1] == pytest.approx(expected, abs=1e-6)
    # And a pickled copy answers the same
    copy = pickle.loads(pickle.dumps(index))
    assert copy.search(probe, k=3) == found and len(copy) == 8 and copy.nbytes > 0
    # When the mate is removed / Then it is no longer found
    assert index.remove([4, 999]) == 1
    assert len(index) == 7 and 4 not in [r for r, _ in index.search(probe, k=8)]


def test_identify_shortlists_with_mcc_and_finds_the_mate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a gallery of 300 persons: 8 real MINDTCT prints and 292 random-minutiae ones
    rng = np.random.default_rng(2026)
    gallery = [(s, Probe(fingers={2: mindtct(s)})) for s in SEEDS]
    gallery += [(1000 + i, Probe(fingers={2: iso_record(random_minutiae(rng))}))
                for i in range(292)]
    engine = nbis_engine.NbisEngine()
    calls: list[int] = []
    compare = engine.compare
    monkeypatch.setattr(engine, "compare", lambda p, r: calls.append(1) or compare(p, r))
    monkeypatch.setattr(nbis_engine, "SHORTLIST", 20)
    # When the second impression of finger 6 is identified
    found = engine.identify(Probe(fingers={2: mindtct(6, 1)}), gallery)
    # Then its mate is first, and Bozorth3 ran on the short list only
    assert found and found[0].reference_id == 6
    assert found[0].score >= engine.match_threshold
    assert len(calls) == 20
    # And a small gallery is still compared exhaustively
    calls.clear()
    assert engine.identify(Probe(fingers={2: mindtct(6, 1)}), gallery[:50])[0].reference_id == 6
    assert len(calls) == 50


def reference_lss(a: MccTemplate, b: MccTemplate) -> float:
    """The LSS score written plainly in NumPy: every pair of cylinders, the π/2 gate on
    angle differences, the paper's bit similarity, the mean of the n_P best."""
    from lakana.biometry.matching import mcc

    mw = a.masks.shape[1]
    both = a.masks[:, None, :] & b.masks[None, :, :]                      # (na, nb, mw)
    layers = np.tile(both, (1, 1, a.nd))                                    # (na, nb, W)
    x = a.cylinders[:, None, :] & layers
    y = b.cylinders[None, :, :] & layers
    sa, sb = np.bitwise_count(x).sum(-1), np.bitwise_count(y).sum(-1)
    sx = np.bitwise_count(x ^ y).sum(-1)
    diff = np.abs((a.angles[:, None].astype(np.float64) - b.angles[None, :] + math.pi)
                  % (2 * math.pi) - math.pi)
    ok = (diff <= mcc.DELTA_THETA) & (np.bitwise_count(both).sum(-1) >= mcc._min_me(a))
    ok &= (sa + sb) > 0
    lam = np.where(ok, 1 - np.sqrt(sx) / np.where(ok, np.sqrt(sa) + np.sqrt(sb), 1.0), 0.0)
    z = 1 / (1 + math.exp(-mcc.TAU_P * (min(len(a), len(b)) - mcc.MU_P)))
    n_p = mcc.MIN_NP + round(z * (mcc.MAX_NP - mcc.MIN_NP))
    assert mw in (1, 4)
    return float(np.sort(lam.ravel())[::-1][:n_p].sum() / n_p)


@pytest.mark.parametrize("ns", [8, 16])
def test_kernels_match_a_plain_reference(ns: int) -> None:
    # Given real and random-minutiae templates, cylinders 8×8 (vectorised path) or 16×16
    rng = np.random.default_rng(11)
    views = [parse_iso_19794_2(mindtct(s, i)) for s in (2, 3) for i in (0, 1)]
    views.append(random_minutiae(rng))
    templates = [mcc_template(v, ns=ns) for v in views]
    # Then 1:1 and 1:N give the plain all-pairs LSS (the sorted direction window skips no
    # pair the π/2 gate keeps, across the 0/2π wrap too)
    for probe in templates:
        expected = [reference_lss(probe, g) for g in templates]
        assert [mcc_score(probe, g) for g in templates] == pytest.approx(expected, abs=1e-9)
        assert mcc_scores(probe, templates).tolist() == pytest.approx(expected, abs=1e-6)


def test_finger_index_segments_bound_copies_and_answer_as_one_store(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 40 random-minutiae persons on two positions, and segments of at most 8
    from lakana.biometry.matching import mcc

    rng = np.random.default_rng(7)
    people = {r: {2: mcc_template(random_minutiae(rng)), 7: mcc_template(random_minutiae(rng))}
              for r in range(40)}
    probe = {2: people[11][2], 7: mcc_template(random_minutiae(rng))}
    reference = FingerIndex()
    for r, fingers in people.items():
        reference.add(r, fingers)
    expected = reference.search(probe, k=40)
    assert reference.segments() == {2: [40], 7: [40]}
    monkeypatch.setattr(mcc, "SEGMENT", 8)
    # When they are added one at a time, searched between additions (as enrolments are)
    index = FingerIndex()
    for r, fingers in people.items():
        index.add(r, fingers)
        index.search(probe, k=1)
    # Then no segment outgrows 8 templates (an insert copies little) and the answers are
    # those of one store
    sizes = index.segments()
    assert all(size <= 8 for size in sizes[2] + sizes[7]) and sum(sizes[2]) == 40
    assert index.search(probe, k=40) == expected and index.search(probe, k=1)[0][0] == 11
    # And a bulk load (no search in between) cuts itself into segments as it goes
    bulk = FingerIndex()
    for r, fingers in people.items():
        bulk.add(r, fingers)
        assert all(len(pending) < 8 for pending in bulk._pending.values())
    assert bulk.search(probe, k=40) == expected and bulk.nbytes == index.nbytes
    # And removal and pickling work across segments
    assert index.remove([11, 12, 13]) == 3 and len(index) == 37
    copy = pickle.loads(pickle.dumps(index))
    assert copy.search(probe, k=40) == [c for c in expected if c[0] not in (11, 12, 13)]
