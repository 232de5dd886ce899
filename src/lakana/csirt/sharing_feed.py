"""What a sharing group's TAXII collection serves: objects, manifests and versions, paged.

Every query starts from :func:`served`, which re-checks the source case's *current* TLP at
serve time (a case raised to RED after sharing disappears at once) and keeps the centre's own
objects (identity, marking definitions). Pages are read in ``(date_added, id)`` order with a
keyset cursor over the feed index, one query per page (plus one row to know if there is more).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from lakana.core.db import as_utc
from lakana.core.errors import Invalid
from lakana.csirt.models import Case
from lakana.csirt.sharing_models import SharedObject
from lakana.csirt.sharing_service import parse_stamp
from lakana.csirt.tlp import NEVER_SHARED, ORDER

#: Labels that may be served (checked on the source case at every pull).
SERVED_LABELS = tuple(label.value for label in ORDER if label not in NEVER_SHARED)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: Longest ``match[...]`` list accepted (a filter is not a bulk download channel).
MAX_MATCH_VALUES = 100
VERSION_KEYWORDS = frozenset({"last", "first", "all"})


@dataclass(frozen=True)
class FeedQuery:
    """The filters of one TAXII request, validated."""

    limit: int = DEFAULT_LIMIT
    added_after: dt.datetime | None = None
    cursor: tuple[dt.datetime, int] | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    #: ``last`` (the default), ``first``, ``all``, and exact versions.
    keywords: frozenset[str] = frozenset({"last"})
    versions: tuple[dt.datetime, ...] = ()
    spec_versions: tuple[str, ...] = ()


@dataclass
class FeedPage:
    """One page: rows in ``(date_added, id)`` order, and the cursor to the next page."""

    rows: list[SharedObject] = field(default_factory=list)
    more: bool = False
    next: str | None = None

    @property
    def first_added(self) -> dt.datetime | None:
        """``X-TAXII-Date-Added-First``."""
        return as_utc(self.rows[0].date_added) if self.rows else None

    @property
    def last_added(self) -> dt.datetime | None:
        """``X-TAXII-Date-Added-Last``."""
        return as_utc(self.rows[-1].date_added) if self.rows else None


# --- parsing the query string -----------------------------------------------------------

def _list(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if not items or len(items) > MAX_MATCH_VALUES:
        raise Invalid("A match filter lists 1 to %(max)s values.", max=MAX_MATCH_VALUES)
    return items


def encode_cursor(date_added: dt.datetime, row_id: int) -> str:
    """An opaque ``next`` value pointing after one row."""
    raw = f"{as_utc(date_added).strftime('%Y%m%d%H%M%S%f')}.{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[dt.datetime, int]:
    """The position a ``next`` value points after; Invalid if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        stamp, _, row = raw.partition(".")
        when = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S%f").replace(tzinfo=dt.UTC)
        row_id = int(row)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Invalid("The next parameter is not one this server gave.") from None
    if not 0 < row_id < 2**63 or len(value) > 100:
        raise Invalid("The next parameter is not one this server gave.")
    return when, row_id


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.strip().isdigit() or len(value) > 12 or int(value) < 1:
        raise Invalid("The limit must be a whole number from 1 (at most %(max)s are sent).",
                      max=MAX_LIMIT)
    return min(int(value), MAX_LIMIT)


def parse_query(params: dict[str, str | None], *, allow_version: bool = True) -> FeedQuery:
    """Validate the TAXII filters (``added_after``, ``limit``, ``next``, ``match[...]``)."""
    added_after = params.get("added_after")
    cursor = params.get("next")
    keywords: set[str] = set()
    versions: list[dt.datetime] = []
    for token in _list(params.get("match[version]")) if allow_version else ():
        if token in VERSION_KEYWORDS:
            keywords.add(token)
        else:
            versions.append(parse_stamp(token))
    if not keywords and not versions:
        keywords = {"last"}
    for name in ("match[id]", "match[type]", "match[spec_version]"):
        for item in _list(params.get(name)):
            if len(item) > 150 or not item.isprintable():
                raise Invalid("A match filter value is too long or not printable.")
    return FeedQuery(limit=_limit(params.get("limit")),
                     added_after=parse_stamp(added_after) if added_after is not None else None,
                     cursor=decode_cursor(cursor) if cursor is not None else None,
                     ids=_list(params.get("match[id]")), types=_list(params.get("match[type]")),
                     keywords=frozenset(keywords), versions=tuple(versions),
                     spec_versions=_list(params.get("match[spec_version]")))


# --- queries ----------------------------------------------------------------------------

def served(group_id: int) -> Select[Any]:
    """The object versions of a group that may be served now (source case still shareable)."""
    return (select(SharedObject)
            .outerjoin(Case, Case.id == SharedObject.case_id)
            .where(SharedObject.group_id == group_id,
                   or_(SharedObject.case_id.is_(None), Case.tlp.in_(SERVED_LABELS))))


def _version_filter(query: FeedQuery) -> ColumnElement[bool] | None:
    if "all" in query.keywords:
        return None
    other = aliased(SharedObject)
    same = and_(other.group_id == SharedObject.group_id, other.stix_id == SharedObject.stix_id)
    clauses: list[ColumnElement[bool]] = []
    if "last" in query.keywords:
        clauses.append(~exists().where(same, other.version_at > SharedObject.version_at))
    if "first" in query.keywords:
        clauses.append(~exists().where(same, other.version_at < SharedObject.version_at))
    if query.versions:
        clauses.append(SharedObject.version_at.in_(query.versions))
    return or_(*clauses)


def _filtered(group_id: int, query: FeedQuery, *, versions: bool = True
              ) -> Select[Any]:
    stmt = served(group_id)
    if query.added_after is not None:
        stmt = stmt.where(SharedObject.date_added > query.added_after)
    if query.ids:
        stmt = stmt.where(SharedObject.stix_id.in_(query.ids))
    if query.types:
        stmt = stmt.where(SharedObject.stix_type.in_(query.types))
    if query.spec_versions:
        stmt = stmt.where(SharedObject.spec_version.in_(query.spec_versions))
    if versions:
        version_filter = _version_filter(query)
        if version_filter is not None:
            stmt = stmt.where(version_filter)
    return stmt


def _page(session: Session, stmt: Select[Any], query: FeedQuery) -> FeedPage:
    if query.cursor is not None:
        when, row_id = query.cursor
        stmt = stmt.where(or_(SharedObject.date_added > when,
                              and_(SharedObject.date_added == when, SharedObject.id > row_id)))
    rows = list(session.scalars(stmt.order_by(SharedObject.date_added, SharedObject.id)
                                .limit(query.limit + 1)))
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    page = FeedPage(rows=rows, more=more)
    if more:
        page.next = encode_cursor(rows[-1].date_added, rows[-1].id)
    return page


def objects(session: Session, *, group_id: int, query: FeedQuery) -> FeedPage:
    """A page of the collection's objects (also what the manifest lists)."""
    return _page(session, _filtered(group_id, query), query)


def object_known(session: Session, *, group_id: int, stix_id: str) -> bool:
    """Whether the collection serves any version of ``stix_id`` now."""
    stmt = served(group_id).where(SharedObject.stix_id == stix_id).limit(1)
    return session.scalar(select(exists(stmt.subquery().select()))) or False


def versions(session: Session, *, group_id: int, stix_id: str, query: FeedQuery) -> FeedPage:
    """A page of the versions of one object (``match[version]`` does not apply)."""
    stmt = _filtered(group_id, FeedQuery(
        limit=query.limit, added_after=query.added_after, cursor=query.cursor, ids=(stix_id,),
        spec_versions=query.spec_versions, keywords=frozenset({"all"})))
    return _page(session, stmt, query)


def count_served(session: Session, group_ids: Sequence[int]) -> dict[int, int]:
    """How many object versions each group serves now (one grouped query)."""
    if not group_ids:
        return {}
    stmt = (select(SharedObject.group_id, func.count())
            .outerjoin(Case, Case.id == SharedObject.case_id)
            .where(SharedObject.group_id.in_(group_ids),
                   or_(SharedObject.case_id.is_(None), Case.tlp.in_(SERVED_LABELS)))
            .group_by(SharedObject.group_id))
    return {int(group_id): int(count) for group_id, count in session.execute(stmt)}


def manifest_entry(row: SharedObject, date_added: str) -> dict[str, Any]:
    """One manifest record."""
    return {"id": row.stix_id, "date_added": date_added, "version": row.version,
            "media_type": f"application/stix+json;version={row.spec_version}"}
