"""The auditor's page: a filterable ledger, a "Verify the chain" button, export with proof."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lakana.core.audit import service, signing
from lakana.core.audit.api import export_response
from lakana.core.audit.schemas import EntryFilter
from lakana.core.audit.verify import KIND_LABELS
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import CorePermission
from lakana.core.web.templating import render

router = APIRouter()
PAGE_SIZE = 50
FILTER_FIELDS = ("actor", "action", "object_type", "object_id", "institution_id", "since",
                 "until")


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def filters_from(params: dict[str, str]) -> EntryFilter:
    """Filters from the form's query string (blank and malformed fields are ignored)."""
    return EntryFilter(
        actor=params.get("actor") or None, action=params.get("action") or None,
        object_type=params.get("object_type") or None,
        object_id=params.get("object_id") or None,
        institution_id=_int(params.get("institution_id")),
        since=_date(params.get("since")), until=_date(params.get("until")))


@router.get("/audit", name="audit")
def audit_page(request: Request, session: DbSession, actor: CurrentActor,
               offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The ledger, newest first, filtered; htmx gets only the table."""
    params = {k: v[:254] for k, v in request.query_params.items() if k in FILTER_FIELDS and v}
    rows, total = service.list_entries(session=session, actor=actor,
                                       filters=filters_from(params), limit=PAGE_SIZE,
                                       offset=offset)

    def page_url(new_offset: int) -> str:
        return "/audit?" + urlencode({**params, "offset": new_offset})

    context = {
        "entries": rows, "total": total, "offset": offset, "limit": PAGE_SIZE,
        "filters": params,
        "prev_url": page_url(max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
        "next_url": page_url(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
        "can_verify": actor.is_national,
        "can_export": actor.is_national and actor.can(CorePermission.AUDIT_EXPORT),
        "report": None, "kind_labels": KIND_LABELS,
    }
    return render(request, "audit/index.html", context, fragment="audit/_entries.html")


@router.post("/audit/verify")
def audit_verify(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Recompute the chain; htmx gets the report fragment, browsers without it a page."""
    keys = signing.trusted_keys(get_settings(request).effective_ledger_key_path)
    report = service.verify_ledger(session=session, actor=actor, public_keys=keys)
    # 200 even when broken: htmx swaps only successful responses, and the report is the answer.
    return render(request, "audit/verify.html", {"report": report, "kind_labels": KIND_LABELS},
                  fragment="audit/_verify.html")


@router.get("/audit/export")
def audit_export(request: Request, session: DbSession, actor: CurrentActor,
                 from_seq: Annotated[int, Query(ge=1)],
                 to_seq: Annotated[int, Query(ge=1)]) -> Response:
    """Download entries ``from_seq`` to ``to_seq`` with their proof."""
    return export_response(request, session, actor, from_seq, to_seq)
