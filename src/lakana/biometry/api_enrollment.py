"""JSON API of enrollment (under ``/api/v1/biometry``).

``POST /enrollments`` takes one :class:`EnrollmentPacket` as a registration client sends it
(201 with the enrollment made; 200 when the same packet was already received; 409 for the
same packet id with other content; 413 over :data:`MAX_PACKET_BYTES`; 422 with the reason,
naming the capture, for an unusable one). ``GET /enrollments/{enrollment_id}`` says where an
enrollment stands (state, reason, quality; never biometric data).
``GET /persons/{person_id}/fingers/{position}/template`` exports the ISO/IEC 19794-2 record
of an active finger (ledgered). Refused packets are ledgered too.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from lakana.biometry import enrollment as intake
from lakana.biometry import runtime
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.registry_search import registry_gallery
from lakana.biometry.schemas import EnrollmentPacket
from lakana.core.audit.ledger import record_read
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.errors import LakanaError, TooLarge

router = APIRouter(prefix="/biometry", tags=["biometry"])  # mounted under /api/v1

#: The largest packet body accepted: a face (4 MB of base64 at most) and ten finger images.
MAX_PACKET_BYTES = 8 * 1024 * 1024


class CaptureQualityOut(BaseModel):
    """The quality of one capture."""

    modality: str
    position: int
    quality: int
    minutiae: int


class IntakeOut(BaseModel):
    """What became of a submitted packet."""

    enrollment_id: int
    person_id: int
    state: str
    replayed: bool
    quality: list[CaptureQualityOut]


class EnrollmentOut(BaseModel):
    """Where an enrollment stands."""

    id: int
    packet_id: str
    person_id: int
    kind: str
    state: str
    state_reason: str
    centre: str
    device: str
    captured_at: dt.datetime
    received_at: dt.datetime
    decided_at: dt.datetime | None
    quality: list[CaptureQualityOut]


def _quality(items: tuple[intake.CaptureQuality, ...]) -> list[CaptureQualityOut]:
    return [CaptureQualityOut(modality=q.modality, position=q.position, quality=q.quality,
                              minutiae=q.minutiae) for q in items]


async def read_packet_body(request: Request, limit: int = MAX_PACKET_BYTES) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit``."""
    too_large = TooLarge("The enrollment packet is larger than %(size)s bytes.", size=limit)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(request: Request, actor: Actor, packet_id: str | None, status: int,
            reason: str) -> None:
    """Ledger a refusal after the request's own transaction was rolled back."""
    session = getattr(request.state, "db_session", None)
    if session is not None:
        session.rollback()
    intake.record_refusal(session_factory=request.app.state.session_factory, actor=actor,
                          packet_id=packet_id, status=status, reason=reason)


@router.post("/enrollments", response_model=IntakeOut, status_code=201)
async def submit_enrollment(request: Request, response: Response, session: DbSession,
                            actor: CurrentActor) -> IntakeOut:
    """Take in one enrollment packet (JSON :class:`EnrollmentPacket`)."""
    actor.require(P.ENROL)
    try:
        body = await read_packet_body(request)
    except TooLarge as exc:
        # Ledgered like any refused packet: its size, never its content (nor its id, which
        # the unread body holds).
        await run_in_threadpool(_refuse, request, actor, None, exc.status,
                                intake.refusal_reason(exc))
        raise
    try:
        packet = EnrollmentPacket.model_validate_json(body)
    except ValidationError as exc:
        # The ledger keeps where the packet is wrong, never what it held.
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}"
                          for e in exc.errors()[:10])
        await run_in_threadpool(_refuse, request, actor, None, 422, where[:500])
        raise RequestValidationError(exc.errors(include_input=False)) from None
    settings = get_settings(request)

    def submit() -> intake.IntakeResult:
        return intake.submit_packet(session=session, actor=actor,
                                    store=runtime.keystore(settings),
                                    engine=runtime.engine(settings), packet=packet,
                                    gallery=registry_gallery(settings))

    try:
        result = await run_in_threadpool(submit)
    except LakanaError as exc:
        await run_in_threadpool(_refuse, request, actor, packet.packet_id, exc.status,
                                intake.refusal_reason(exc))
        raise
    if result.replayed:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/biometry/enrollments/{result.enrollment_id}"
    return IntakeOut(enrollment_id=result.enrollment_id, person_id=result.person_id,
                     state=result.state, replayed=result.replayed,
                     quality=_quality(result.quality))


@router.get("/enrollments/{enrollment_id}", response_model=EnrollmentOut)
def get_enrollment(enrollment_id: int, session: DbSession,
                   actor: CurrentActor) -> EnrollmentOut:
    """Where an enrollment stands: state, reason and the quality of each capture."""
    row = intake.get_enrollment(session=session, actor=actor, enrollment_id=enrollment_id)
    record_read(session=session, actor=actor, object_type="biometry.enrollment",
                object_id=row.id, object_repr=f"enrollment {row.id}")
    return EnrollmentOut(
        id=row.id, packet_id=row.packet_id, person_id=row.person_id, kind=row.kind,
        state=row.state, state_reason=row.state_reason, centre=row.centre, device=row.device,
        captured_at=row.captured_at, received_at=row.received_at, decided_at=row.decided_at,
        quality=_quality(intake.enrollment_quality(session=session, enrollment_id=row.id)))


@router.get("/persons/{person_id}/fingers/{position}/template")
def export_template(request: Request, person_id: int,
                    position: Annotated[int, Path(ge=1, le=10)], session: DbSession,
                    actor: CurrentActor) -> Response:
    """The ISO/IEC 19794-2:2005 record of the person's active finger ``position``."""
    data = intake.export_template(session=session, actor=actor,
                                  store=runtime.keystore(get_settings(request)),
                                  person_id=person_id, position=position)
    return Response(content=data, media_type="application/octet-stream", headers={
        "Content-Disposition":
            f'attachment; filename="person-{person_id}-finger-{position}.iso19794-2"'})
