"""A case as a STIX 2.1 bundle, downloaded from its page (the API serves the same)."""

from __future__ import annotations

import json
import re

from fastapi import APIRouter
from fastapi.responses import Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.csirt import stix_export

router = APIRouter(prefix="/csirt")


@router.get("/cases/{case_id}/stix.json")
def download_stix(case_id: int, session: DbSession, actor: CurrentActor) -> Response:
    """The case's STIX bundle as a file (refused for a case labelled AMBER+STRICT or RED)."""
    bundle = stix_export.export_case(session=session, actor=actor, case_id=case_id)
    reference = next((o.get("external_references", [{}])[0].get("external_id", "")
                      for o in bundle["objects"] if o.get("type") == "incident"), "")
    name = re.sub(r"[^A-Za-z0-9-]", "", str(reference)) or f"case-{case_id}"
    return Response(json.dumps(bundle, ensure_ascii=False, indent=1),
                    media_type=stix_export.MEDIA_TYPE, headers={
                        "Content-Disposition": f'attachment; filename="{name}.stix.json"',
                        "X-Content-Type-Options": "nosniff"})
