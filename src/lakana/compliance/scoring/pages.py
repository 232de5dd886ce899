"""HTML page of the national heatmap: institutions × domains, each cell linking to the
assessment it is computed from."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.scoring import service
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.web.templating import render

router = APIRouter(prefix="/compliance")

_NONE = '<td><span class="hint">—</span></td>'
#: The rows' markup of the last few heatmaps the service returned (the same objects while
#: its cache holds them), by heatmap identity and label: each row's and all of them joined.
#: The entry keeps the heatmap alive so that its id (and its rows' ids) are not reused while
#: it is here.
_ROWS: OrderedDict[tuple[int, str], tuple[service.Heatmap, list[str], Markup]] = OrderedDict()
_ROWS_SIZE = 8
_ROWS_LOCK = threading.Lock()


def _badge(score: float | None) -> str:
    if score is None:
        return '<span class="hint">—</span>'
    return f'<span class="badge {service.band(score)}">{score}</span>'


def _row(row: service.HeatmapRow, label: str) -> str:
    """One ``<tr>``: the institution, its overall badge and its cells (``label`` escaped)."""
    # Only numbers, the escaped names and the already escaped label go in.
    cells = "".join([
        _NONE if cell is None else
        f'<td><a href="/compliance/assessments/{cell.assessment_id}" '
        f'title="{cell.answers} {label}">{_badge(cell.score)}</a></td>'
        for cell in row.cells])
    return (f'<tr><th scope="row" title="{escape(row.name)}">{escape(row.acronym)}</th>'
            f"<td>{_badge(row.total.score)}</td>{cells}</tr>\n")


def _previous_rows(answers_label: str) -> dict[int, tuple[service.HeatmapRow, str]]:
    """The markup of each row of the heatmaps kept for ``answers_label``, by row identity
    (call with the lock held)."""
    return {id(row): (row, markup)
            for (_heat_id, label), (heat, rows, _joined) in _ROWS.items()
            if label == answers_label for row, markup in zip(heat.rows, rows, strict=True)}


def heatmap_rows(heat: service.Heatmap, answers_label: str) -> Markup:
    """The ``<tr>`` rows of ``heat`` (institution, overall, cells) as markup.

    Built in Python rather than in the template: at national scale (3,600 cells) the
    per-cell template work cost as much as computing the heatmap, and the per-row macro
    calls as much as the rest of the page; kept per heatmap, so a cached heatmap is rendered
    once, and a heatmap recomputed after a write shares the rows it did not recompute with
    the previous one (the same row objects), so only the changed rows are rendered again."""
    key = (id(heat), answers_label)
    with _ROWS_LOCK:
        found = _ROWS.get(key)
        if found is not None and found[0] is heat:
            _ROWS.move_to_end(key)
            return found[2]
        previous = _previous_rows(answers_label)
    label = str(escape(answers_label))
    rows = []
    for row in heat.rows:
        kept = previous.get(id(row))
        rows.append(kept[1] if kept is not None and kept[0] is row else _row(row, label))
    joined = Markup("".join(rows))
    with _ROWS_LOCK:
        _ROWS[key] = (heat, rows, joined)
        while len(_ROWS) > _ROWS_SIZE:
            _ROWS.popitem(last=False)
    return joined


def heatmap_context(*, session: Session, actor: Actor, campaign_id: int) -> dict[str, Any]:
    """What the heatmap template needs (the page handler's work, for the bench too)."""
    campaign = campaign_service.get_campaign(session=session, actor=actor,
                                             campaign_id=campaign_id)
    return {"campaign": campaign,
            "heatmap": service.heatmap(session=session, actor=actor, campaign_id=campaign_id),
            "band": service.band, "heatmap_rows": heatmap_rows}


@router.get("/campaigns/{campaign_id}/heatmap")
def heatmap_page(request: Request, campaign_id: int, session: DbSession,
                 actor: CurrentActor) -> Response:
    """The heatmap of a campaign with its national and per-domain summary."""
    return render(request, "compliance/scoring/heatmap.html",
                  heatmap_context(session=session, actor=actor, campaign_id=campaign_id))
