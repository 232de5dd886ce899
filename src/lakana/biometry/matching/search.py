"""Exact 1:N search over normalised face embeddings, with NumPy.

The gallery is one float32 matrix (N × 128 = 512 MB per million faces) with its reference
ids. A batch of queries is scored by matrix products (inner product = cosine similarity on
unit vectors) over blocks of the gallery, so memory stays bounded; each block's top k is
taken with ``argpartition`` and the blocks' candidates merged. Nothing is approximate: the
true nearest neighbour is always found (ties are ranked by reference id).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Gallery rows scored at once: a batch of 64 queries × 131,072 rows is 32 MB of scores.
BLOCK_ROWS = 131_072


class FaceIndex:
    """An in-memory exact index of unit face embeddings keyed by reference id."""

    def __init__(self, dim: int = 128) -> None:
        self.dim = dim
        # Rows beyond ``_size`` are spare capacity: an enrollment's add appends in place
        # instead of copying the whole gallery (512 MB per million faces) every time.
        self._buffer: NDArray[np.float32] = np.empty((0, dim), dtype=np.float32)
        self._id_buffer: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def _vectors(self) -> NDArray[np.float32]:
        return self._buffer[:self._size]

    @property
    def _ids(self) -> NDArray[np.int64]:
        return self._id_buffer[:self._size]

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors and the ids (spare capacity included)."""
        return int(self._buffer.nbytes + self._id_buffer.nbytes)

    def __getstate__(self) -> dict[str, object]:
        # Pickle (to a worker process, a snapshot) without the spare capacity.
        return {"dim": self.dim, "vectors": self._vectors.copy(), "ids": self._ids.copy()}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.dim = int(state["dim"])  # type: ignore[call-overload]
        self._buffer = state["vectors"]  # type: ignore[assignment]
        self._id_buffer = state["ids"]  # type: ignore[assignment]
        self._size = int(self._id_buffer.size)

    def add(self, reference_ids: ArrayLike, vectors: ArrayLike) -> None:
        """Add embeddings (normalised here) under their reference ids."""
        ids = np.asarray(reference_ids, dtype=np.int64).ravel()
        matrix = _unit_rows(vectors, self.dim)
        if matrix.shape[0] != ids.size:
            raise ValueError(f"{ids.size} ids for {matrix.shape[0]} vectors")
        needed = self._size + ids.size
        if not self._size and ids.size:
            # A first bulk load is kept as given (no copy of a big gallery).
            self._buffer, self._id_buffer, self._size = matrix, ids, ids.size
            return
        if needed > self._id_buffer.size:
            # Grow geometrically: n single adds cost O(n) copies in all, not O(n²).
            capacity = max(needed, int(self._id_buffer.size * 1.25) + 1024)
            buffer = np.empty((capacity, self.dim), dtype=np.float32)
            buffer[:self._size] = self._vectors
            id_buffer = np.empty(capacity, dtype=np.int64)
            id_buffer[:self._size] = self._ids
            self._buffer, self._id_buffer = buffer, id_buffer
        self._buffer[self._size:needed] = matrix
        self._id_buffer[self._size:needed] = ids
        self._size = needed

    def remove(self, reference_ids: ArrayLike) -> int:
        """Drop every embedding of these reference ids; returns how many were dropped."""
        keep = ~np.isin(self._ids, np.asarray(reference_ids, dtype=np.int64))
        kept = int(keep.sum())
        dropped = self._size - kept
        if dropped:
            vectors, ids = self._vectors[keep], self._ids[keep]
            self._buffer, self._id_buffer, self._size = vectors, ids, kept
        return dropped

    def search(self, queries: ArrayLike, k: int = 10, *, min_similarity: float | None = None
               ) -> list[list[tuple[int, float]]]:
        """For each query, up to ``k`` (reference id, cosine similarity), best first."""
        batch = _unit_rows(queries, self.dim)
        if not len(self) or k <= 0:
            return [[] for _ in range(batch.shape[0])]
        found_rows: list[NDArray[np.int64]] = []
        found_scores: list[NDArray[np.float32]] = []
        for start in range(0, len(self), BLOCK_ROWS):
            block = self._vectors[start:start + BLOCK_ROWS]
            scores = batch @ block.T
            take = min(k, block.shape[0])
            if take < block.shape[0]:
                rows = np.argpartition(-scores, take - 1, axis=1)[:, :take]
            else:
                rows = np.broadcast_to(np.arange(block.shape[0]), scores.shape)
            found_scores.append(np.take_along_axis(scores, rows, axis=1))
            found_rows.append(rows + start)
        rows = np.concatenate(found_rows, axis=1)
        scores = np.concatenate(found_scores, axis=1)
        return [self._ranked(rows[i], scores[i], k, min_similarity)
                for i in range(batch.shape[0])]

    def _ranked(self, rows: NDArray[np.int64], scores: NDArray[np.float32], k: int,
                min_similarity: float | None) -> list[tuple[int, float]]:
        ids = self._ids[rows]
        order = np.lexsort((ids, -scores))[:k]
        return [(int(ids[j]), float(scores[j])) for j in order
                if min_similarity is None or scores[j] >= min_similarity]


def _unit_rows(vectors: ArrayLike, dim: int) -> NDArray[np.float32]:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[np.newaxis, :]
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got shape {matrix.shape}")
    # einsum: no N × dim temporary (a million rows are 512 MB).
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError("a vector is empty or not finite")
    if np.all(np.abs(norms - 1.0) < 1e-4):
        return np.ascontiguousarray(matrix)  # already unit: no copy of a big gallery
    return np.ascontiguousarray(matrix / norms[:, np.newaxis].astype(np.float32))

