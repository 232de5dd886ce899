"""Galleries held in memory by worker processes (``LAKANA_BIOMETRY_ABIS_SHARDS``).

Two galleries use it: the ABIS references (namespace ``abis``, keyed by the insert's request
id) and the registry's issued identities (namespace ``registry``, searched by deduplication
and by the relying services' identification, keyed by the person's ``updated_at``).

One :class:`ResidentGallery` per process, database and namespace, built lazily on the first
search:
a :class:`~lakana.biometry.matching.shards.ShardedGallery` of ``n`` worker processes holding
each reference's finger templates as MCC and, when the engine has a face encoder, its face
vector. It only proposes a short list; the caller re-scores that list with the engine's own
matcher (Bozorth3), so scores and decisions are the engine's.

**Never stale.** Inserts and deletes are made by whichever job worker runs them, in any
process, and touch only the database. So before each search the gallery reads the current
``(AbisReference.id, request_id)`` pairs (ids only: cheap), loads the references it lacks
and drops those that are gone. The insert's ``request_id`` (unique) is part of the key, so a
database that reuses a deleted row's id (SQLite does) for another reference is still seen
as a change. A shard failure drops the whole gallery; it is rebuilt from the database,
which stays the source of truth, at the next search.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lakana.biometry.engine import AcquisitionError, Candidate, MatchingEngine, Probe
from lakana.biometry.matching.shards import ShardCandidate, ShardedGallery

log = logging.getLogger("lakana.biometry.abis")

#: References loaded (unsealed, converted) per insert call while catching up.
LOAD_BATCH = 1000
#: The face vectors' dimension the shards hold (the face index's).
FACE_DIM = 128

#: Candidates the gallery proposes for re-scoring (or ``max_results`` if more).
SHORTLIST = 50

#: Loads the probes of the given reference pks: the caller opens the sealed samples.
Loader = Callable[[list[int]], Iterable[tuple[int, Probe]]]

_galleries: dict[tuple[str, int, str], ResidentGallery] = {}
_galleries_lock = threading.Lock()


def resident_gallery(database_url: str, n_shards: int, namespace: str = "abis"
                     ) -> ResidentGallery:
    """This process's gallery of ``namespace`` for a database (created empty; its workers
    start with the first search)."""
    key = (database_url, n_shards, namespace)
    with _galleries_lock:
        gallery = _galleries.get(key)
        if gallery is None:
            gallery = _galleries[key] = ResidentGallery(n_shards)
        return gallery


def reset_resident_galleries() -> None:
    """Stop every gallery's workers and forget them (tests; a process shutting down)."""
    with _galleries_lock:
        galleries = list(_galleries.values())
        _galleries.clear()
    for gallery in galleries:
        gallery.close()


class ResidentGallery:
    """A sharded in-memory gallery kept in step with the database (see the module).

    Thread-safe: one lock serialises synchronisation and search (a shard's pipe carries
    one request at a time)."""

    def __init__(self, n_shards: int, *, timeout: float = 120.0) -> None:
        if n_shards < 1:
            raise ValueError("at least one shard")
        self.n_shards = n_shards
        self.timeout = timeout
        self._lock = threading.Lock()
        self._shards: ShardedGallery | None = None
        #: Reference pk → the insert's request id, for every reference the shards hold.
        self._held: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._held)

    def search(self, probe: Probe, *, current: Mapping[int, str], load: Loader,
               engine: MatchingEngine, k: int) -> list[ShardCandidate]:
        """The ``k`` best references for ``probe`` by fused MCC / face score, after bringing
        the shards in step with ``current`` (pk → insert request id, the whole gallery).
        Raises :class:`~lakana.biometry.matching.shards.ShardError` after dropping the
        shards when one fails (the next call rebuilds them)."""
        encoder = getattr(engine, "face_encoder", None)
        fingers = _mcc_fingers(probe.fingers)
        face = _face_vector(probe.face, encoder)
        if not fingers and face is None:
            return []
        with self._lock:
            try:
                shards = self._sync(current, load, encoder)
                if not self._held:
                    return []
                return shards.search(face, fingers, k)
            except BaseException:
                self._drop()
                raise

    def identify(self, probe: Probe, *, current: Mapping[int, str], load: Loader,
                 engine: MatchingEngine, max_results: int, exclude: int | None = None,
                 shortlist: int = SHORTLIST) -> list[Candidate]:
        """What :meth:`MatchingEngine.identify` answers over ``current`` (less ``exclude``):
        the shards propose a short list (``shortlist``, or ``max_results`` if more) that
        alone is unsealed (``load``) and re-scored with :meth:`MatchingEngine.compare`.
        Raises :class:`~lakana.biometry.matching.shards.ShardError` as :meth:`search`."""
        k = max(shortlist, max_results) + (1 if exclude is not None else 0)
        proposed = [c.reference_id for c in self.search(
            probe, current=current, load=load, engine=engine, k=k)
            if c.reference_id != exclude and c.reference_id in current]
        found: list[Candidate] = []
        for reference_pk, reference in load(proposed):
            result = engine.compare(probe, reference)
            if result.score >= engine.match_threshold:
                found.append(Candidate(reference_id=reference_pk, score=result.score,
                                       scores=result.scores))
        found.sort(key=lambda c: (-c.score, c.reference_id))
        return found[:max_results]

    def close(self) -> None:
        """Stop the workers; the next search starts them again and reloads everything."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        shards, self._shards = self._shards, None
        self._held = {}
        if shards is not None:
            shards.close()

    def _sync(self, current: Mapping[int, str], load: Loader, encoder: Any
              ) -> ShardedGallery:
        if self._shards is None:
            self._shards = ShardedGallery(self.n_shards, timeout=self.timeout, dim=FACE_DIM)
            self._held = {}
        shards = self._shards
        stale = [pk for pk, version in self._held.items() if current.get(pk) != version]
        if stale:
            shards.delete(np.asarray(stale, dtype=np.int64))
            for pk in stale:
                del self._held[pk]
        missing = sorted(pk for pk in current if pk not in self._held)
        for start in range(0, len(missing), LOAD_BATCH):
            batch = missing[start:start + LOAD_BATCH]
            ids: list[int] = []
            faces: list[NDArray[np.float32] | None] = []
            prints: list[dict[int, bytes]] = []
            for pk, reference in load(batch):
                ids.append(pk)
                faces.append(_face_vector(reference.face, encoder))
                prints.append(_mcc_fingers(reference.fingers))
            if ids:
                shards.insert_batch(ids, faces, prints)
            # A reference without a usable sample is held too, so it is not read again.
            self._held.update((pk, current[pk]) for pk in batch)
        if stale or missing:
            log.info("Resident gallery: %d loaded, %d dropped, %d held", len(missing),
                     len(stale), len(self._held))
        return shards


def _mcc_fingers(fingers: Mapping[int, bytes]) -> dict[int, bytes]:
    """ISO/IEC 19794-2 templates as MCC bytes by position; an unreadable one is left out
    (the engine's re-scoring still sees the ISO record)."""
    from lakana.biometry.matching.mcc import mcc_from_iso

    found: dict[int, bytes] = {}
    for position, template in fingers.items():
        try:
            found[int(position)] = mcc_from_iso(template).to_bytes()
        except (AcquisitionError, ValueError) as exc:
            log.warning("Resident gallery: a finger template at position %s is left "
                        "out of the candidate search (%s)", position, exc)
    return found


def _face_vector(template: bytes, encoder: Any) -> NDArray[np.float32] | None:
    """A face template's vector when the engine compares faces and the template is of its
    encoder and of the shards' dimension; else ``None``."""
    if encoder is None or not template:
        return None
    from lakana.biometry.matching.faces import unpack

    try:
        parsed = unpack(template)
    except AcquisitionError:
        return None
    if (parsed.encoder, parsed.version, parsed.vector.size) != (
            getattr(encoder, "name", parsed.encoder),
            getattr(encoder, "version", parsed.version), FACE_DIM):
        return None
    return parsed.vector
