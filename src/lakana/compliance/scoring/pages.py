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

_NONE = Markup('<td><span class="hint">—</span></td>')
#: The cells' markup of the last few heatmaps the service returned (the same objects while
#: its cache holds them), by heatmap identity and label; the entry keeps the heatmap alive
#: so that its id is not reused while it is here.
_ROWS: OrderedDict[tuple[int, str], tuple[service.Heatmap, list[Markup]]] = OrderedDict()
_ROWS_SIZE = 8
_ROWS_LOCK = threading.Lock()


def _cell(cell: service.Cell | None, label: str) -> str:
    if cell is None:
        return _NONE
    badge = ('<span class="hint">—</span>' if cell.score is None else
             f'<span class="badge {service.band(cell.score)}">{cell.score}</span>')
    # Only numbers and the already escaped label go in: nothing else to escape.
    return (f'<td><a href="/compliance/assessments/{cell.assessment_id}" '
            f'title="{cell.answers} {label}">{badge}</a></td>')


def heatmap_cells(heat: service.Heatmap, answers_label: str) -> list[Markup]:
    """The ``<td>`` cells of each row of ``heat``, in row order, as markup.

    Built in Python rather than in the template: at national scale (3,600 cells) the
    per-cell template work cost as much as computing the heatmap; kept per heatmap, so a
    cached heatmap is rendered once."""
    key = (id(heat), answers_label)
    with _ROWS_LOCK:
        found = _ROWS.get(key)
        if found is not None and found[0] is heat:
            _ROWS.move_to_end(key)
            return found[1]
    label = str(escape(answers_label))
    rows = [Markup("".join([_cell(cell, label) for cell in row.cells])) for row in heat.rows]
    with _ROWS_LOCK:
        _ROWS[key] = (heat, rows)
        while len(_ROWS) > _ROWS_SIZE:
            _ROWS.popitem(last=False)
    return rows


def heatmap_context(*, session: Session, actor: Actor, campaign_id: int) -> dict[str, Any]:
    """What the heatmap template needs (the page handler's work, for the bench too)."""
    campaign = campaign_service.get_campaign(session=session, actor=actor,
                                             campaign_id=campaign_id)
    return {"campaign": campaign,
            "heatmap": service.heatmap(session=session, actor=actor, campaign_id=campaign_id),
            "band": service.band, "heatmap_cells": heatmap_cells}


@router.get("/campaigns/{campaign_id}/heatmap")
def heatmap_page(request: Request, campaign_id: int, session: DbSession,
                 actor: CurrentActor) -> Response:
    """The heatmap of a campaign with its national and per-domain summary."""
    return render(request, "compliance/scoring/heatmap.html",
                  heatmap_context(session=session, actor=actor, campaign_id=campaign_id))
