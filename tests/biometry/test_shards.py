"""Sharded gallery: worker processes, exact merge, fusion, deletes, crashes, shutdown.

The faces are random unit vectors and the fingers synthetic MCC templates (speed and
correctness of the plumbing, not accuracy)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray

from lakana.biometry.matching.faces import MATCH_DISTANCE, face_score
from lakana.biometry.matching.mcc import MccTemplate, mcc_template
from lakana.biometry.matching.minutiae import Minutiae
from lakana.biometry.matching.shards import (
    FINGER_MATCH_SIMILARITY,
    Shard,
    ShardCandidate,
    ShardedGallery,
    ShardError,
    face_engine_score,
    finger_engine_score,
    fuse,
    merge_candidates,
)

DIM = 128
PERSONS = 3_000
FINGER_PERSONS = 60


def random_mcc(seed: int, count: int = 36) -> MccTemplate:
    """The MCC template of ``count`` random minutiae on a 400 × 500 finger (not a real
    print: speed and plumbing only)."""
    rng = np.random.default_rng(seed)
    return mcc_template(Minutiae(
        x=rng.uniform(60, 340, count).astype(np.float32),
        y=rng.uniform(60, 440, count).astype(np.float32),
        angle=rng.uniform(0, 2 * np.pi, count).astype(np.float32),
        quality=np.full(count, 60, np.uint8), width=400, height=500, position=1))


def unit_vectors(count: int, seed: int) -> NDArray[np.float32]:
    """``count`` random unit vectors."""
    vectors = np.random.default_rng(seed).standard_normal((count, DIM), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def noisy(vector: NDArray[np.float32], seed: int) -> NDArray[np.float32]:
    """A mate of ``vector`` (cosine ≈ 0.8)."""
    noise = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    query = vector + noise * np.float32(0.75 / np.sqrt(DIM))
    return query / np.linalg.norm(query)


@pytest.fixture(scope="module")
def faces() -> NDArray[np.float32]:
    """The synthetic gallery's faces (reference id = row + 1000)."""
    return unit_vectors(PERSONS, 8)


@pytest.fixture(scope="module")
def gallery(faces: NDArray[np.float32]) -> Iterator[ShardedGallery]:
    """Three shards in three worker processes, loaded with the gallery."""
    with ShardedGallery(3, timeout=30) as sharded:
        sharded.insert_batch(np.arange(PERSONS) + 1000, faces)
        yield sharded  # type: ignore[misc]


def test_fusion_is_the_max_on_the_engine_scale() -> None:
    # Given per-modality scores on their own scales
    # Then each maps onto 0-100 with its operating point at 40, and the fused score is the max
    assert face_engine_score(1.0) == pytest.approx(100.0)
    assert face_engine_score(1 - MATCH_DISTANCE**2 / 2) == pytest.approx(40.0)
    assert face_engine_score(0.5) == pytest.approx(face_score(1.0))
    assert finger_engine_score(FINGER_MATCH_SIMILARITY) == pytest.approx(40.0)
    assert finger_engine_score(1.0) == 100.0
    assert fuse(None, None) == 0.0
    assert fuse(1.0, None) == pytest.approx(100.0)
    assert fuse(0.0, FINGER_MATCH_SIMILARITY) == pytest.approx(40.0)


def test_merge_keeps_the_best_of_each_modality_once() -> None:
    # Given the same person found by two lists (face in one, finger in the other)
    face_only = ShardCandidate(7, fuse(0.2, None), 0.2, None)
    finger_only = ShardCandidate(7, fuse(None, 0.25), None, 0.25)
    other = ShardCandidate(3, fuse(0.95, None), 0.95, None)
    # When merged
    merged = merge_candidates([[face_only, other], [finger_only]], k=5)
    # Then it appears once with both scores, ranked by the fused score
    assert [c.reference_id for c in merged] == [3, 7]
    assert merged[1] == ShardCandidate(7, fuse(0.2, 0.25), 0.2, 0.25)
    assert merge_candidates([[face_only, other]], k=1, min_score=101.0) == []


def test_sharded_search_equals_one_unsharded_shard(gallery: ShardedGallery,
                                                   faces: NDArray[np.float32]) -> None:
    # Given the same persons in one in-process shard
    single = Shard()
    single.insert_batch(np.arange(PERSONS) + 1000, faces, None)
    assert gallery.count() == len(single) == PERSONS
    assert sum(gallery.counts()) == PERSONS and min(gallery.counts()) == PERSONS // 3
    # When both are searched with mates and with random probes, for several k
    probes = [noisy(faces[row], row) for row in (0, 17, 2_999)] + list(unit_vectors(3, 99))
    for k in (1, 10, 50):
        for probe in probes:
            # Then the sharded top k is exactly the unsharded one (ids, order and scores)
            expected = single.search(probe, None, k)
            found = gallery.search(probe, None, k)
            assert [c.reference_id for c in found] == [c.reference_id for c in expected]
            assert [c.score for c in found] == pytest.approx([c.score for c in expected])
    best = gallery.search(probes[1], k=1)[0]
    assert best.reference_id == 1017 and best.finger_score is None
    assert best.face_similarity is not None and best.face_similarity > 0.7


@pytest.fixture(scope="module")
def finger_gallery(faces: NDArray[np.float32]
                   ) -> tuple[list[int], list[NDArray[np.float32] | None],
                              list[dict[int, bytes]]]:
    """Persons with fingers (2 or 3 positions, some without a face, some without fingers),
    templates drawn from a pool of 40 so some persons share one."""
    pool = [random_mcc(seed).to_bytes() for seed in range(40)]
    ids = list(range(500, 500 + FINGER_PERSONS))
    face_list: list[NDArray[np.float32] | None] = [
        None if i % 7 == 0 else faces[i] for i in range(FINGER_PERSONS)]
    fingers = [{} if i % 11 == 5 else
               {1: pool[i % 40], 2: pool[(3 * i + 1) % 40]} | ({7: pool[(i + 9) % 40]}
                                                                if i % 2 else {})
               for i in range(FINGER_PERSONS)]
    return ids, face_list, fingers


def test_sharded_fused_search_equals_one_unsharded_shard(
        finger_gallery: tuple[list[int], list[NDArray[np.float32] | None],
                              list[dict[int, bytes]]],
        faces: NDArray[np.float32]) -> None:
    ids, face_list, fingers = finger_gallery
    # Given the same persons with faces and fingers in one shard and in three
    single = Shard()
    single.insert_batch(ids, face_list, fingers)
    with ShardedGallery(3, timeout=30) as sharded:
        sharded.insert_batch(ids, face_list, fingers)
        assert sharded.count() == len(single) == FINGER_PERSONS
        probes: list[tuple[NDArray[np.float32] | None, dict[int, bytes] | None]] = [
            (noisy(faces[3], 3), fingers[3]),          # both modalities
            (None, fingers[8]),                        # fingers only
            (None, {2: fingers[13][2]}),               # one finger
            (noisy(faces[14], 1), None),               # face only
            (faces[21], {1: fingers[40][1], 7: fingers[41][7]}),  # face and other fingers
        ]
        for k in (1, 5, 20):
            for face, prints in probes:
                # When searched, then the results are the same, scores per modality too
                expected = single.search(face, prints, k)
                found = sharded.search(face, prints, k)
                assert [c.reference_id for c in found] == [c.reference_id for c in expected]
                # (a modality outside a shard's top k is None, so only scores both sides
                # know are compared: sharding sees more per-modality candidates)
                for got, want in zip(found, expected, strict=True):
                    assert got.score == pytest.approx(want.score)
                    for mine, theirs in ((got.face_similarity, want.face_similarity),
                                         (got.finger_score, want.finger_score)):
                        assert mine is None or theirs is None or mine == pytest.approx(theirs)
        # A mate with both modalities comes first, with both scores and a high fused score
        best = sharded.search(noisy(faces[3], 3), fingers[3], k=3)[0]
        assert best.reference_id == 503
        assert best.face_similarity is not None and best.finger_score is not None
        assert best.score == pytest.approx(fuse(best.face_similarity, best.finger_score))
        # Fingers are deleted with the person
        assert sharded.delete([508]) == 1
        assert 508 not in [c.reference_id for c in sharded.search(None, fingers[8], k=20)]
        # Memory counts the finger templates
        assert sum(sharded.nbytes()) > single.faces.nbytes


def test_delete_and_reinsert(faces: NDArray[np.float32]) -> None:
    with ShardedGallery(2, timeout=30) as sharded:
        # Given four persons (one without a face)
        sharded.insert_batch([1, 2, 3, 4], [faces[0], faces[1], None, faces[3]])
        assert sharded.counts() == [2, 2]
        # When one is deleted (and an unknown id), then searched for
        assert sharded.delete([2, 99]) == 1
        assert sharded.count() == 3
        # Then it is no longer found; re-inserting an id replaces it (idempotent)
        assert sharded.search(faces[1], k=3)[0].reference_id != 2
        sharded.insert(1, faces[1])
        sharded.insert(1, faces[1])
        assert sharded.count() == 3
        top = sharded.search(faces[1], k=3)
        assert top[0].reference_id == 1 and top[0].score == pytest.approx(100.0)
        assert [c.reference_id for c in top].count(1) == 1
        # Memory is reported per shard and per million persons
        assert all(b > 0 for b in sharded.nbytes())
        assert sharded.bytes_per_million() == pytest.approx(sum(sharded.nbytes()) / 3 * 1e6)


def test_a_shard_error_is_reported_and_the_worker_survives() -> None:
    with ShardedGallery(2, timeout=30) as sharded:
        # When a shard raises (a vector of the wrong dimension)
        with pytest.raises(ShardError, match="raised ValueError"):
            sharded.insert(4, np.ones(3, dtype=np.float32))
        # Then the workers still answer
        assert sharded.count() == 0


def test_a_killed_worker_is_a_clear_error_then_restarts_from_a_snapshot(
        faces: NDArray[np.float32]) -> None:
    with ShardedGallery(2, timeout=30) as sharded:
        sharded.insert_batch(np.arange(100), faces[:100])
        saved = sharded.snapshot(1)
        # When shard 1's worker is killed
        pid = sharded.pids()[1]
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        # Then a search fails at once, naming the shard and the cause, and does not hang
        with pytest.raises(ShardError, match=r"shard 1: its worker \(pid \d+\) died"):
            sharded.search(faces[1], k=3)
        assert time.monotonic() - started < 5
        with pytest.raises(ShardError, match="shard 1: down"):
            sharded.count()
        # And the caller restarts it from the snapshot it kept
        sharded.restart(1, saved)
        assert sharded.counts() == [50, 50]
        assert sharded.search(faces[1], k=1)[0].reference_id == 1


def test_a_stuck_worker_times_out(faces: NDArray[np.float32]) -> None:
    with ShardedGallery(2, timeout=60) as sharded:
        # Given both workers up (on a loaded machine a spawned worker takes seconds to
        # start), then a 1 s timeout
        assert sharded.counts() == [0, 0]
        sharded.timeout = 1.0
        # When a worker stops answering (SIGSTOP)
        pid = sharded.pids()[0]
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        # Then the call gives up after the timeout and the worker is stopped
        with pytest.raises(ShardError, match="shard 0: no answer within 1 s"):
            sharded.count()
        assert time.monotonic() - started < 5
        # (a fresh worker may take more than a second to start on a loaded machine)
        sharded.timeout = 30
        sharded.restart(0)
        assert sharded.counts() == [0, 0]


def test_close_terminates_the_workers() -> None:
    # Given a gallery's worker processes
    sharded = ShardedGallery(2, timeout=30)
    processes = [w.process for w in sharded._workers]
    assert all(p.is_alive() for p in processes)
    # When it is closed
    sharded.close()
    # Then they have exited and the gallery refuses calls
    assert not any(p.is_alive() for p in processes)
    assert all(p.exitcode == 0 for p in processes)
    with pytest.raises(ShardError, match="down"):
        sharded.count()
