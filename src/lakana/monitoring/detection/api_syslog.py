"""JSON API of the syslog receiver's senders (under ``/api/v1/detection``).

``GET /syslog-sources`` lists the senders the caller may see (an institution's staff: their
own); ``POST /syslog-sources`` registers one and ``DELETE /syslog-sources/{source_id}``
removes one (the CSIRT: ``detection:source:manage``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.monitoring.detection.syslog import sources
from lakana.monitoring.detection.syslog.sources import SyslogSourceIn, SyslogSourceOut

router = APIRouter(prefix="/detection", tags=["detection"])  # mounted under /api/v1


@router.get("/syslog-sources", response_model=list[SyslogSourceOut])
def list_sources(session: DbSession, actor: CurrentActor,
                 institution_id: Annotated[int | None, Query(ge=1)] = None
                 ) -> list[SyslogSourceOut]:
    """The registered syslog senders the caller may see."""
    return [SyslogSourceOut.model_validate(s) for s in sources.list_sources(
        session=session, actor=actor, institution_id=institution_id)]


@router.post("/syslog-sources", response_model=SyslogSourceOut, status_code=201)
def add_source(body: SyslogSourceIn, session: DbSession, actor: CurrentActor,
               response: Response) -> SyslogSourceOut:
    """Register a sender: a network (CIDR) and/or a TLS client certificate's sha256, of an
    institution and optionally one of its systems."""
    source = sources.add_source(session=session, actor=actor, data=body)
    response.headers["Location"] = f"/api/v1/detection/syslog-sources/{source.id}"
    return SyslogSourceOut.model_validate(source)


@router.delete("/syslog-sources/{source_id}", status_code=204)
def delete_source(source_id: int, session: DbSession, actor: CurrentActor) -> Response:
    """Remove a sender (its new connections are refused)."""
    sources.delete_source(session=session, actor=actor, source_id=source_id)
    return Response(status_code=204)
