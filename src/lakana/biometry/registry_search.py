"""1:N search over the registry's issued identities (active persons), for deduplication and
for the relying services' identification.

Two ways, the same answers: with ``LAKANA_BIOMETRY_ABIS_SHARDS`` > 0 the worker-resident
sharded gallery (namespace ``registry``) proposes a short list by MCC / face score, and only
that list is unsealed and re-scored by the engine (Bozorth3); otherwise every active
person's sealed captures are opened and the engine searches them. The resident gallery is
brought in step with the database before each search by ``(person id, updated_at)``:
issuing, updating the captures of, or retiring a person changes one or the other, whatever
process did it. When the gallery fails, the search falls back to the sealed gallery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.biometry import persons
from lakana.biometry.abis.resident import ResidentGallery, resident_gallery
from lakana.biometry.engine import Candidate, MatchingEngine, Probe
from lakana.biometry.matching.shards import ShardError
from lakana.biometry.models import Person
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.core.config import Settings

log = logging.getLogger("lakana.biometry.search")

#: The resident gallery's namespace for the registry's persons.
NAMESPACE = "registry"


def registry_gallery(settings: Settings) -> ResidentGallery | None:
    """This process's resident gallery of issued identities, or None when the settings
    keep no gallery in memory (``biometry_abis_shards`` = 0)."""
    if settings.biometry_abis_shards <= 0:
        return None
    return resident_gallery(settings.effective_database_url, settings.biometry_abis_shards,
                            NAMESPACE)


def _versions(session: Session, exclude: int | None) -> dict[int, str]:
    """Active person id → its ``updated_at``: what the resident gallery keys its entries on."""
    query = select(Person.id, Person.updated_at).where(Person.status == "active")
    if exclude is not None:
        query = query.where(Person.id != exclude)
    return {pk: updated.isoformat() for pk, updated in session.execute(query)}


def _probes(session: Session, store: MasterKeyStore, ids: Iterable[int]
            ) -> Iterator[tuple[int, Probe]]:
    """The active captures of these persons, lazily; persons without any are skipped."""
    for person_id in ids:
        probe = persons.probe_of(session=session, store=store, person_id=person_id)
        if probe.fingers or probe.face:
            yield person_id, probe


def identify(*, session: Session, store: MasterKeyStore, engine: MatchingEngine, probe: Probe,
             gallery: ResidentGallery | None, exclude: int | None = None,
             max_results: int = 10) -> Sequence[Candidate]:
    """Active persons (other than ``exclude``) whose captures match ``probe``, best first,
    at or above the engine's threshold."""
    if gallery is not None:
        try:
            return gallery.identify(probe, current=_versions(session, exclude), engine=engine,
                                    max_results=max_results, exclude=exclude,
                                    load=lambda ids: _probes(session, store, ids))
        except ShardError as exc:  # the gallery is dropped and rebuilt at the next search
            log.error("Registry search: the resident gallery failed (%s); searching the "
                      "sealed gallery instead", exc)
    ids = session.scalars(select(Person.id).where(Person.status == "active")
                          .order_by(Person.id))
    wanted = [pk for pk in ids if pk != exclude]
    return engine.identify(probe, _probes(session, store, wanted), max_results=max_results)
