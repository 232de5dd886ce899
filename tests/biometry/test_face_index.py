"""The exact face index: enrollments appended one by one answer as a bulk-loaded index."""

from __future__ import annotations

import pickle

import numpy as np

from lakana.biometry.matching.search import FaceIndex


def _vectors(count: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, 128)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_single_adds_answer_as_one_bulk_load_and_grow_geometrically() -> None:
    vectors = _vectors(3000)
    bulk, single = FaceIndex(), FaceIndex()
    bulk.add(np.arange(3000), vectors)
    single.add(np.arange(1000), vectors[:1000])
    reallocations = 0
    for i in range(1000, 3000):
        before = single._buffer
        single.add([i], vectors[i])
        reallocations += single._buffer is not before
    assert len(single) == 3000
    assert reallocations <= 3  # not one copy of the gallery per enrollment
    queries = vectors[[5, 1500, 2999]] + 0.01
    assert single.search(queries, 5) == bulk.search(queries, 5)


def test_remove_pickle_and_add_again_keep_the_index_exact() -> None:
    vectors = _vectors(50)
    index = FaceIndex()
    for i in range(50):
        index.add([i], vectors[i])
    assert index.remove([3, 4, 99]) == 2
    copy = pickle.loads(pickle.dumps(index))
    assert len(copy) == 48 and copy.nbytes == 48 * (128 * 4 + 8)  # no spare capacity
    copy.add([3], vectors[3])
    assert copy.search(vectors[3], 1)[0][0][0] == 3
    assert index.search(vectors[4], 1)[0][0][0] != 4
    assert index.search(vectors[49], 1)[0][0][0] == 49
