"""The enrollment station (``/biometry/enroll``): a plain form, no script, fit for a modest
laptop at a registration centre.

The agent types the demographics, picks the region, the centre and the device, and uploads
a face image and up to ten fingers (one field per finger position). The form carries a
packet id and a capture time generated when it was displayed, so submitting the same form
twice is recognised as a replay rather than a second enrollment. A refused packet comes
back with the reason and what was typed (files must be chosen again); an accepted one shows
its state and the quality of each capture.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from lakana.biometry import enrollment as intake
from lakana.biometry import runtime
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.registry_search import registry_gallery
from lakana.biometry.schemas import REGIONS, EnrollmentPacket
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.errors import Invalid, LakanaError
from lakana.core.i18n import N_
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import redirect, validation_message
from lakana.core.web.forms import Form, text_field
from lakana.core.web.templating import render

router = APIRouter(prefix="/biometry")

#: Finger positions (ISO/IEC 19794-2 codes) with their labels.
FINGER_LABELS: dict[int, str] = {
    1: N_("Right thumb"), 2: N_("Right index finger"), 3: N_("Right middle finger"),
    4: N_("Right ring finger"), 5: N_("Right little finger"), 6: N_("Left thumb"),
    7: N_("Left index finger"), 8: N_("Left middle finger"), 9: N_("Left ring finger"),
    10: N_("Left little finger"),
}
STATES = {"received": N_("Received"), "quality_failed": N_("Quality check failed"),
          "pending_dedup": N_("Waiting for deduplication"),
          "adjudication": N_("Possible duplicate: sent to adjudication"),
          "issued": N_("Identity issued"), "updated": N_("Record updated"),
          "rejected": N_("Rejected")}
#: The largest image accepted from one file field.
MAX_FILE_BYTES = 3 * 1024 * 1024
TEXT_FIELDS = ("packet_id", "captured_at", "kind", "nin", "surname", "given_names", "sex",
               "date_of_birth", "place_of_birth", "region", "phone", "centre", "device")




def _fresh_values() -> dict[str, str]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    values = dict.fromkeys(TEXT_FIELDS, "")
    values.update({"packet_id": f"station-{uuid.uuid4().hex}",
                   "captured_at": now.isoformat(), "kind": "new"})
    return values


def _form_page(request: Request, values: dict[str, str], *, problem: str | None = None,
               status_code: int = 200) -> Response:
    return render(request, "biometry/enrollment.html", {
        "values": values, "problem": problem, "regions": REGIONS,
        "fingers": FINGER_LABELS, "max_file_mb": MAX_FILE_BYTES // (1024 * 1024)},
        status_code=status_code)


def _file(form: FormData, name: str) -> bytes | None:
    """The bytes of an uploaded file field (None when no file was chosen)."""
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = upload.file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Invalid("The file %(name)s is larger than %(size)s bytes.",
                      name=upload.filename[:80], size=MAX_FILE_BYTES)
    return data


def packet_from_form(form: FormData, values: dict[str, str]) -> EnrollmentPacket:
    """The packet the form describes (pydantic or domain errors when it is incomplete)."""
    captures: list[dict[str, Any]] = []
    face = _file(form, "face")
    if face is not None:
        captures.append({"modality": "face", "position": 0,
                         "image_base64": base64.b64encode(face).decode()})
    for position in FINGER_LABELS:
        finger = _file(form, f"finger_{position}")
        if finger is not None:
            captures.append({"modality": "finger", "position": position,
                             "image_base64": base64.b64encode(finger).decode()})
    if not any(c["modality"] == "finger" for c in captures):
        raise Invalid("A packet needs at least one finger: deduplication compares "
                      "fingerprints.")
    return EnrollmentPacket.model_validate({
        "packet_id": values["packet_id"], "kind": values["kind"] or "new",
        "centre": values["centre"], "device": values["device"],
        "captured_at": values["captured_at"],
        "demographics": {"nin": values["nin"], "surname": values["surname"],
                         "given_names": values["given_names"], "sex": values["sex"],
                         "date_of_birth": values["date_of_birth"],
                         "place_of_birth": values["place_of_birth"],
                         "region": values["region"], "phone": values["phone"] or None},
        "captures": captures})


@router.get("/enroll")
def enroll_form(request: Request, actor: CurrentActor) -> Response:
    """An empty enrollment form with a fresh packet id."""
    actor.require(P.ENROL)
    return _form_page(request, _fresh_values())


@router.post("/enroll")
def enroll(request: Request, session: DbSession, actor: CurrentActor, form: Form) -> Response:
    """Submit the form as one packet; a refusal re-renders the form with the reason."""
    actor.require(P.ENROL)
    values = {name: text_field(form, name) for name in TEXT_FIELDS}
    if not values["packet_id"] or not values["captured_at"]:
        fresh = _fresh_values()
        values["packet_id"], values["captured_at"] = fresh["packet_id"], fresh["captured_at"]
    try:
        packet = packet_from_form(form, values)
        result = intake.submit_packet(session=session, actor=actor,
                                      store=runtime.keystore(get_settings(request)),
                                      engine=runtime.engine(get_settings(request)), packet=packet,
                                      gallery=registry_gallery(get_settings(request)))
    except ValidationError as exc:
        session.rollback()
        problem = "; ".join(validation_message(dict(e)) for e in exc.errors())
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}"
                          for e in exc.errors()[:10])
        intake.record_refusal(session_factory=request.app.state.session_factory, actor=actor,
                              packet_id=values["packet_id"] or None, status=422,
                              reason=where[:500])
        return _form_page(request, values, problem=problem, status_code=422)
    except LakanaError as exc:
        if exc.status == 403:
            raise
        session.rollback()
        intake.record_refusal(session_factory=request.app.state.session_factory, actor=actor,
                              packet_id=values["packet_id"] or None, status=exc.status,
                              reason=intake.refusal_reason(exc))
        return _form_page(request, values, problem=_(exc.message, **exc.params),
                          status_code=exc.status)
    suffix = "?replayed=1" if result.replayed else ""
    return redirect(request, f"/biometry/enroll/{result.enrollment_id}{suffix}")


@router.get("/enroll/{enrollment_id}")
def enroll_result(enrollment_id: int, request: Request, session: DbSession,
                  actor: CurrentActor,
                  replayed: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    """What became of a submitted packet: its state and the quality of each capture."""
    actor.require(P.ENROL)
    row = intake.get_enrollment(session=session, actor=actor, enrollment_id=enrollment_id)
    quality = intake.enrollment_quality(session=session, enrollment_id=row.id)
    return render(request, "biometry/enrollment_result.html", {
        "enrollment": row, "quality": quality, "replayed": bool(replayed),
        "state_label": STATES.get(row.state, row.state), "fingers": FINGER_LABELS})
