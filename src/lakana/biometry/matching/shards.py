"""The gallery split into shards, each searched in its own worker process.

A :class:`Shard` holds one slice of the gallery: a :class:`FaceIndex` (face embeddings) and
a :class:`~lakana.biometry.matching.mcc.FingerIndex` (MCC templates, up to ten fingers per
person). :class:`ShardedGallery` runs ``n`` shards in ``n`` worker processes on one machine
(``spawn`` context: a fresh interpreter, so no thread or lock of the parent is inherited by
a fork), routes each person to shard ``reference_id % n``, fans a search out to every shard
at once and merges their answers. Beyond one machine, :mod:`ray_shards` runs the same
shards as Ray actors behind the same :class:`ShardedGalleryBase` API.

**Fusion.** Each modality is first put on the engine's 0–100 scale, where 40 is "same
person": a face's cosine similarity through :func:`faces.face_score` (on the Euclidean
distance of the unit vectors), a finger index score through :func:`finger_engine_score`.
The fused score is their **maximum** (:func:`fuse`): in deduplication either modality alone
may reveal a duplicate (a person may come back with a new photo, or with damaged fingers),
and a missing modality does not drag the score down as a weighted mean would. Candidates
are ranked by the same maximum before its 0–100 bounds (:func:`rank_value`), so the many
persons far below the threshold, who all score 0, are still ordered. The max rule
also keeps sharded search *exact*: a person among the global k best by fused score is
among the k best of the modality that gives its score, so the union of each shard's
per-modality top k contains the global top k, with exact scores (test_shards checks it
against one unsharded shard). Each candidate keeps both per-modality scores; a modality
score is ``None`` when the person has no sample of it or was not among that modality's k
best in its shard (it is then below that shard's k-th score and did not decide the rank).

**Crashes.** A worker that dies (killed, out of memory) or does not answer within
``timeout`` seconds raises :class:`ShardError` naming the shard; the shard is then marked
down and every later call raises at once until the caller restarts it with
:meth:`ShardedGallery.restart`, either from a snapshot it kept (:meth:`~ShardedGalleryBase.
snapshot`: the shard pickled) or empty, re-inserting that shard's persons from the
registry, which stays the source of truth (:meth:`~ShardedGalleryBase.shard_of` says which
persons live there). The gallery never silently answers with a shard missing.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lakana.biometry.matching.faces import MATCH_DISTANCE, face_score
from lakana.biometry.matching.faces import MATCH_SCORE as FACE_MATCH_SCORE
from lakana.biometry.matching.search import FaceIndex

if TYPE_CHECKING:
    from lakana.biometry.matching.mcc import FingerIndex, MccTemplate

#: The finger index score (MCC similarity, 0–1) taken as "same person": it maps to the
#: engine's threshold of 40. Measured on synthetic prints only (bench_finger_matcher:
#: genuine pairs 0.75–0.94, impostors 0.37–0.45, synthetic prints all being whorls); it is
#: a candidate-ranking cut, not a decision (Bozorth3 re-scores the short list), and a
#: deployment calibrates it on real prints (``lakana biometry matching calibrate``).
FINGER_MATCH_SIMILARITY = 0.65
#: The engine's "same person" score (as Bozorth3's and the face's).
MATCH_SCORE = 40.0
#: Persons sent to one worker in one message when inserting in bulk (a million faces
#: in one pickle would be 512 MB twice over).
INSERT_CHUNK = 65_536
#: Operations a worker accepts (nothing else is called by name).
_OPERATIONS = frozenset({"insert_batch", "delete", "search", "count", "nbytes", "snapshot"})

FingerProbe = Mapping[int, "bytes | MccTemplate"]


class ShardError(RuntimeError):
    """A shard failed: its worker died, did not answer in time, or raised."""

    def __init__(self, shard: int, reason: str) -> None:
        super().__init__(f"shard {shard}: {reason}")
        self.shard = shard
        self.reason = reason


@dataclass(frozen=True)
class ShardCandidate:
    """A gallery person returned by a search: fused score (engine scale, 0–100) and the
    per-modality raw scores (face cosine similarity, finger index score), ``None`` where
    the modality did not rank this person (see the module's docstring)."""

    reference_id: int
    score: float
    face_similarity: float | None
    finger_score: float | None


def face_engine_score(similarity: float) -> float:
    """A face cosine similarity on the engine's scale (:func:`faces.face_score` of the
    Euclidean distance of unit vectors, ``sqrt(2 - 2 × similarity)``)."""
    return face_score(math.sqrt(max(0.0, 2.0 - 2.0 * similarity)))


def finger_engine_score(score: float, *, match_similarity: float = FINGER_MATCH_SIMILARITY
                        ) -> float:
    """A finger index score on the engine's scale: piecewise linear, 0 → 0,
    ``match_similarity`` → 40 and 1 → 100 (the same anchoring as the face's)."""
    return max(0.0, min(100.0, _finger_linear(score, match_similarity)))


def fuse(face_similarity: float | None, finger_score: float | None) -> float:
    """The fused score: the maximum of the modalities present on the engine's scale
    (0 when neither is)."""
    return max(0.0, min(100.0, rank_value(face_similarity, finger_score)))


def rank_value(face_similarity: float | None, finger_score: float | None) -> float:
    """What candidates are ranked by: the fused score before its 0 and 100 bounds (the
    same linear maps, unclipped), so persons far below the threshold, who all score 0,
    are still ordered by how close they are; ``-inf`` with no modality."""
    value = -math.inf
    if face_similarity is not None:
        value = _face_linear(face_similarity)
    if finger_score is not None:
        value = max(value, _finger_linear(finger_score, FINGER_MATCH_SIMILARITY))
    return value


def merge_candidates(lists: Sequence[Sequence[ShardCandidate]], k: int,
                     min_score: float | None = None) -> list[ShardCandidate]:
    """The ``k`` best of several shards' candidates, best first (by :func:`rank_value`,
    ties by reference id); a person found twice keeps the best score of each modality."""
    best: dict[int, ShardCandidate] = {}
    for candidates in lists:
        for found in candidates:
            seen = best.get(found.reference_id)
            best[found.reference_id] = found if seen is None else _combine(seen, found)
    ranked = sorted(best.values(), key=lambda c: (
        -rank_value(c.face_similarity, c.finger_score), c.reference_id))
    if min_score is not None:
        ranked = [c for c in ranked if c.score >= min_score]
    return ranked[:max(k, 0)]


class Shard:
    """One slice of the gallery: face embeddings and finger templates by reference id.

    Inserting an id already present replaces it (jobs run at least once, so an insert
    must be idempotent). The finger index is created with the first finger inserted."""

    def __init__(self, dim: int = 128) -> None:
        self.faces = FaceIndex(dim)
        self.fingers: FingerIndex | None = None
        self._ids: NDArray[np.int64] = np.empty(0, dtype=np.int64)  # sorted

    def __len__(self) -> int:
        return int(self._ids.size)

    def count(self) -> int:
        """Persons held."""
        return len(self)

    def nbytes(self) -> int:
        """Memory held by the indexes (vectors, templates, ids)."""
        fingers = self.fingers.nbytes if self.fingers is not None else 0
        return int(self.faces.nbytes + fingers + self._ids.nbytes)

    def insert(self, reference_id: int, face: ArrayLike | None,
               fingers: FingerProbe | None = None) -> None:
        """Add (or replace) one person: an optional face vector and finger templates
        (MCC bytes or :class:`MccTemplate`) by position."""
        self.insert_batch([reference_id], None if face is None else [face], [fingers or {}])

    def insert_batch(self, reference_ids: Sequence[int] | NDArray[np.int64],
                     faces: ArrayLike | Sequence[ArrayLike | None] | None,
                     fingers: Sequence[FingerProbe] | None) -> None:
        """Add (or replace) persons; ``faces`` is a matrix, a list with ``None`` for
        persons without a face, or ``None``; ``fingers`` one mapping per person or
        ``None``."""
        ids = np.asarray(reference_ids, dtype=np.int64).ravel()
        if np.unique(ids).size != ids.size:
            raise ValueError("a reference id appears twice in one insert")
        if np.isin(ids, self._ids).any():
            self.delete(ids)
        if faces is not None:
            rows, vectors = _present_faces(faces, ids)
            if rows.size:
                self.faces.add(rows, vectors)
        if fingers is not None:
            if len(fingers) != ids.size:
                raise ValueError(f"{ids.size} ids for {len(fingers)} finger sets")
            for reference_id, prints in zip(ids.tolist(), fingers, strict=True):
                if prints:
                    self._finger_index().add(reference_id, _templates(prints))
        # The new ids are now all absent: a sorted insert, O(N) with no sort of the shard.
        new = np.sort(ids)
        self._ids = np.insert(self._ids, np.searchsorted(self._ids, new), new)

    def delete(self, reference_ids: ArrayLike) -> int:
        """Remove persons; returns how many were held."""
        ids = np.asarray(reference_ids, dtype=np.int64).ravel()
        present = ids[np.isin(ids, self._ids)]
        if present.size:
            self.faces.remove(present)
            if self.fingers is not None:
                self.fingers.remove(present.tolist())
            self._ids = np.setdiff1d(self._ids, present, assume_unique=True)
        return int(present.size)

    def search(self, face: ArrayLike | None, fingers: FingerProbe | None, k: int = 50,
               min_score: float | None = None) -> list[ShardCandidate]:
        """The ``k`` best persons of this shard for a probe (face vector and/or finger
        templates), by fused score, best first."""
        face_hits: dict[int, float] = {}
        finger_hits: dict[int, float] = {}
        if face is not None and len(self.faces):
            face_hits = dict(self.faces.search(face, k)[0])
        if fingers and self.fingers is not None and len(self.fingers):
            finger_hits = dict(self.fingers.search(_templates(fingers), k))
        candidates = [ShardCandidate(reference_id, fuse(face_hits.get(reference_id),
                                                        finger_hits.get(reference_id)),
                                     face_hits.get(reference_id),
                                     finger_hits.get(reference_id))
                      for reference_id in face_hits.keys() | finger_hits.keys()]
        return merge_candidates([candidates], k, min_score)

    def snapshot(self) -> bytes:
        """The shard pickled, to restart a worker without rebuilding it."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    def _finger_index(self) -> FingerIndex:
        if self.fingers is None:
            from lakana.biometry.matching.mcc import FingerIndex

            self.fingers = FingerIndex()
        return self.fingers


class ShardHost:
    """What a worker process or a Ray actor runs: one shard, called by operation name."""

    def __init__(self, snapshot: bytes | None = None, dim: int = 128) -> None:
        # A snapshot is our own pickle, taken from one of our workers.
        restored = pickle.loads(snapshot) if snapshot else Shard(dim)
        if not isinstance(restored, Shard):
            raise TypeError("the snapshot is not a shard")
        self.shard = restored

    def call(self, operation: str, args: tuple[Any, ...]) -> Any:
        """Run one of the shard's operations (an allow-list, never an arbitrary name)."""
        if operation not in _OPERATIONS:
            raise ValueError(f"unknown shard operation {operation!r}")
        return getattr(self.shard, operation)(*args)

    def pid(self) -> int:
        """The process holding the shard (Ray tests check placement and kill it)."""
        return os.getpid()


class ShardedGalleryBase(ABC):
    """A gallery over ``n_shards`` shards: routing, fan-out and merge. Subclasses say how
    a batch of calls reaches the shards (worker processes, Ray actors)."""

    n_shards: int

    @abstractmethod
    def _call(self, calls: Mapping[int, tuple[str, tuple[Any, ...]]]) -> dict[int, Any]:
        """Run at most one operation per shard, all shards at once; results by shard.
        Raises :class:`ShardError` once every call has ended, if one failed."""

    @abstractmethod
    def restart(self, shard: int, snapshot: bytes | None = None) -> None:
        """Start shard ``shard`` afresh, empty or from one of its snapshots."""

    @abstractmethod
    def close(self) -> None:
        """Stop every shard; the gallery cannot be used afterwards."""

    def shard_of(self, reference_id: int) -> int:
        """The shard that holds (or will hold) this person."""
        return int(reference_id) % self.n_shards

    def insert(self, reference_id: int, face: ArrayLike | None,
               fingers: FingerProbe | None = None) -> None:
        """Add (or replace) one person on its shard."""
        self.insert_batch([reference_id], None if face is None else [face], [fingers or {}])

    def insert_batch(self, reference_ids: Sequence[int] | NDArray[np.int64],
                     faces: ArrayLike | Sequence[ArrayLike | None] | None = None,
                     fingers: Sequence[FingerProbe] | None = None) -> None:
        """Add (or replace) many persons, each on its shard, in chunks of
        :data:`INSERT_CHUNK` (the shards load in parallel)."""
        ids = np.asarray(reference_ids, dtype=np.int64).ravel()
        matrix = _face_matrix(faces)
        routes = ids % self.n_shards
        rows_by_shard = {s: np.flatnonzero(routes == s) for s in range(self.n_shards)}
        start = 0
        while any(start < rows.size for rows in rows_by_shard.values()):
            calls: dict[int, tuple[str, tuple[Any, ...]]] = {}
            for shard, rows in rows_by_shard.items():
                part = rows[start:start + INSERT_CHUNK]
                if part.size:
                    calls[shard] = ("insert_batch", (ids[part], _take(faces, matrix, part),
                                                     _take_list(fingers, part)))
            self._call(calls)
            start += INSERT_CHUNK

    def delete(self, reference_ids: ArrayLike) -> int:
        """Remove persons wherever they are; returns how many were held."""
        ids = np.asarray(reference_ids, dtype=np.int64).ravel()
        calls = {s: ("delete", (ids[ids % self.n_shards == s],)) for s in range(self.n_shards)}
        return int(sum(self._call({s: c for s, c in calls.items() if c[1][0].size}).values()))

    def search(self, face: ArrayLike | None = None, fingers: FingerProbe | None = None,
               k: int = 50, min_score: float | None = None) -> list[ShardCandidate]:
        """The ``k`` best persons of the whole gallery for a probe, best first: every
        shard searched at once, their top ``k`` merged (exact, see the module)."""
        if face is not None:
            face = np.asarray(face, dtype=np.float32)
        if fingers:
            fingers = {position: _template_bytes(t) for position, t in fingers.items()}
        found = self._call({s: ("search", (face, fingers, k, min_score))
                            for s in range(self.n_shards)})
        return merge_candidates(list(found.values()), k, min_score)

    def count(self) -> int:
        """Persons held, all shards together."""
        return int(sum(self.counts()))

    def counts(self) -> list[int]:
        """Persons held by each shard."""
        found = self._call({s: ("count", ()) for s in range(self.n_shards)})
        return [int(found[s]) for s in range(self.n_shards)]

    def nbytes(self) -> list[int]:
        """Index memory of each shard (bytes)."""
        found = self._call({s: ("nbytes", ()) for s in range(self.n_shards)})
        return [int(found[s]) for s in range(self.n_shards)]

    def bytes_per_million(self) -> float:
        """Index memory per million persons, measured on what the shards hold."""
        persons = self.count()
        return sum(self.nbytes()) * 1e6 / persons if persons else 0.0

    def snapshot(self, shard: int) -> bytes:
        """One shard pickled (keep it to restart the shard after a crash)."""
        return bytes(self._call({shard: ("snapshot", ())})[shard])

    def __enter__(self) -> ShardedGalleryBase:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    down: str | None = None


class ShardedGallery(ShardedGalleryBase):
    """``n_shards`` shards, each in its own worker process (one machine).

    ``timeout`` bounds every call (seconds; a bulk insert chunk, a search); a worker
    slower than that is stopped and reported, so a caller never hangs. ``threads`` is the
    number of BLAS / Numba threads of each worker (default: the CPUs shared out)."""

    def __init__(self, n_shards: int, *, timeout: float = 120.0, threads: int | None = None,
                 dim: int = 128, start_method: Literal["spawn", "forkserver"] = "spawn"
                 ) -> None:
        if n_shards < 1:
            raise ValueError("at least one shard")
        self.n_shards = n_shards
        self.timeout = timeout
        self.dim = dim
        self.threads = threads or max(1, (os.cpu_count() or 1) // n_shards)
        self._context: SpawnContext | ForkServerContext = (
            multiprocessing.get_context("spawn") if start_method == "spawn"
            else multiprocessing.get_context("forkserver"))
        self._workers: list[_Worker] = []
        try:
            for _ in range(n_shards):
                self._workers.append(self._start(None))
        except BaseException:
            self.close()
            raise

    def pids(self) -> list[int | None]:
        """The worker processes' ids, by shard."""
        return [w.process.pid for w in self._workers]

    def rss(self) -> list[int]:
        """Resident memory of each worker process (bytes, from /proc; 0 if unknown)."""
        return [_rss(w.process.pid) for w in self._workers]

    def restart(self, shard: int, snapshot: bytes | None = None) -> None:
        """Replace shard ``shard``'s worker by a fresh one, empty or from a snapshot."""
        old = self._workers[shard]
        _stop(old)
        self._workers[shard] = self._start(snapshot)

    def close(self) -> None:
        """Ask every worker to stop, then terminate those that do not within 5 s."""
        for worker in self._workers:
            if worker.down is None and worker.process.is_alive():
                with contextlib.suppress(OSError, ValueError):
                    worker.connection.send(("close", ()))
        for worker in self._workers:
            _stop(worker)
            worker.down = worker.down or "closed"

    def _start(self, snapshot: bytes | None) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_serve, args=(child, snapshot, self.dim),
                                        name="lakana-shard", daemon=True)
        with _thread_limits(self.threads):
            process.start()
        child.close()
        return _Worker(process, parent)

    def _call(self, calls: Mapping[int, tuple[str, tuple[Any, ...]]]) -> dict[int, Any]:
        for shard in calls:
            if self._workers[shard].down is not None:
                raise ShardError(shard, f"down ({self._workers[shard].down}); restart it")
        pending: dict[int, _Worker] = {}
        errors: list[ShardError] = []
        for shard, message in calls.items():
            worker = self._workers[shard]
            try:
                worker.connection.send(message)
                pending[shard] = worker
            except (OSError, ValueError):
                errors.append(self._fail(shard, self._death(shard)))
        results = self._collect(pending, errors)
        if errors:
            raise errors[0]
        return results

    def _collect(self, pending: dict[int, _Worker], errors: list[ShardError]
                 ) -> dict[int, Any]:
        """Wait for every pending answer; a dead or late worker is marked down."""
        results: dict[int, Any] = {}
        deadline = time.monotonic() + self.timeout
        while pending:
            by_connection = {w.connection: s for s, w in pending.items()}
            # Short waits: a killed worker sends nothing, so liveness is checked too.
            for ready in wait(list(by_connection), timeout=0.2):
                shard = by_connection[ready]  # type: ignore[index]
                del pending[shard]
                try:
                    status, value = self._workers[shard].connection.recv()
                except (EOFError, OSError):
                    errors.append(self._fail(shard, self._death(shard)))
                    continue
                if status == "ok":
                    results[shard] = value
                else:
                    errors.append(ShardError(shard, f"raised {value}"))
            for shard, worker in list(pending.items()):
                if not worker.process.is_alive():
                    del pending[shard]
                    errors.append(self._fail(shard, self._death(shard)))
            if pending and time.monotonic() > deadline:
                for shard in list(pending):
                    del pending[shard]
                    errors.append(self._fail(shard, f"no answer within {self.timeout:g} s; "
                                                    "its worker was stopped"))
        return results

    def _death(self, shard: int) -> str:
        process = self._workers[shard].process
        process.join(1.0)
        return f"its worker (pid {process.pid}) died with exit code {process.exitcode}"

    def _fail(self, shard: int, reason: str) -> ShardError:
        worker = self._workers[shard]
        worker.down = reason
        _stop(worker)
        return ShardError(shard, reason)


def _serve(connection: Connection, snapshot: bytes | None, dim: int) -> None:
    """A worker's loop: one request in, one answer out, until told to close."""
    # Ctrl-C reaches the whole process group: the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    host = ShardHost(snapshot, dim)
    while True:
        try:
            operation, args = connection.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if operation == "close":
            return
        try:
            answer: tuple[str, Any] = ("ok", host.call(operation, args))
        except Exception as exc:  # reported to the caller, not swallowed
            answer = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        connection.send(answer)


def _stop(worker: _Worker) -> None:
    process = worker.process
    if worker.down is not None and process.is_alive():
        # A failed worker may be stopped (SIGSTOP) or stuck: SIGTERM would wait for it.
        process.kill()
    process.join(5.0)
    if process.is_alive():
        process.terminate()
        process.join(5.0)
    if process.is_alive():
        process.kill()
        process.join(5.0)
    worker.connection.close()


@contextlib.contextmanager
def _thread_limits(threads: int) -> Iterator[None]:
    """Thread counts a spawned worker reads at start (BLAS, OpenMP, Numba): n workers ×
    all the CPUs each would oversubscribe the machine and blow the latency tail."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(threads) for name in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _rss(pid: int | None) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _face_linear(similarity: float) -> float:
    """:func:`faces.face_score` without its floor at 0."""
    distance = math.sqrt(max(0.0, 2.0 - 2.0 * similarity))
    return 100.0 - (100.0 - FACE_MATCH_SCORE) * distance / MATCH_DISTANCE


def _finger_linear(score: float, match_similarity: float) -> float:
    # Two segments: 0 → 0, the match similarity → 40, a perfect 1 → 100.
    if score <= match_similarity:
        return MATCH_SCORE * score / match_similarity
    return MATCH_SCORE + (100.0 - MATCH_SCORE) * (score - match_similarity) / (
        1.0 - match_similarity)


def _combine(left: ShardCandidate, right: ShardCandidate) -> ShardCandidate:
    face = _best(left.face_similarity, right.face_similarity)
    finger = _best(left.finger_score, right.finger_score)
    return ShardCandidate(left.reference_id, fuse(face, finger), face, finger)


def _best(left: float | None, right: float | None) -> float | None:
    if left is None:
        return right
    return left if right is None else max(left, right)


def _face_matrix(faces: ArrayLike | Sequence[ArrayLike | None] | None
                 ) -> NDArray[np.float32] | None:
    """The faces as one matrix when every person has one (the bulk path), else None."""
    if faces is None or (isinstance(faces, Sequence) and any(f is None for f in faces)):
        return None
    return np.asarray(faces, dtype=np.float32)


def _take(faces: ArrayLike | Sequence[ArrayLike | None] | None,
          matrix: NDArray[np.float32] | None, rows: NDArray[np.intp]
          ) -> NDArray[np.float32] | list[ArrayLike | None] | None:
    if faces is None:
        return None
    if matrix is not None:
        return matrix[rows]
    listed = list(faces)  # type: ignore[arg-type]
    return [listed[i] for i in rows.tolist()]


def _take_list(fingers: Sequence[FingerProbe] | None, rows: NDArray[np.intp]
               ) -> list[FingerProbe] | None:
    if fingers is None:
        return None
    return [{p: _template_bytes(t) for p, t in fingers[i].items()} for i in rows.tolist()]


def _present_faces(faces: ArrayLike | Sequence[ArrayLike | None], ids: NDArray[np.int64]
                   ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    if isinstance(faces, Sequence) and any(f is None for f in faces):
        if len(faces) != ids.size:
            raise ValueError(f"{ids.size} ids for {len(faces)} faces")
        keep = [i for i, f in enumerate(faces) if f is not None]
        vectors = [np.asarray(faces[i], dtype=np.float32).ravel() for i in keep]
        if not keep:
            return ids[:0], np.empty((0, 0), dtype=np.float32)
        return ids[keep], np.stack(vectors)
    return ids, np.asarray(faces, dtype=np.float32)


def _template_bytes(template: bytes | MccTemplate) -> bytes:
    """Templates travel as bytes (the stable format), never as objects."""
    return template if isinstance(template, bytes) else template.to_bytes()


def _templates(prints: FingerProbe) -> dict[int, MccTemplate]:
    from lakana.biometry.matching.mcc import MccTemplate

    return {int(position): MccTemplate.from_bytes(t) if isinstance(t, bytes) else t
            for position, t in prints.items()}
