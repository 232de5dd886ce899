"""JSON API of the registry's master keys (under ``/api/v1/biometry``): ``GET /keys`` (the
current key, every key with the objects it wraps, the rotations) and ``POST
/keys/rotation`` (start a rotation; a background job re-wraps the data keys)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from lakana.biometry import keys, runtime
from lakana.core.auth.deps import CurrentActor, DbSession

router = APIRouter(prefix="/biometry", tags=["biometry"])


class KeyOut(BaseModel):
    """One master key."""

    key_id: str
    backend: str
    state: str
    objects: int
    created_at: dt.datetime
    retired_at: dt.datetime | None


class RotationOut(BaseModel):
    """One rotation and its checkpoint."""

    id: int
    from_key_id: str
    to_key_id: str
    state: str
    rewrapped: int
    last_object_id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None

    model_config = {"from_attributes": True}


class KeysOut(BaseModel):
    """The keys and rotations."""

    current_key_id: str
    keys: list[KeyOut]
    rotations: list[RotationOut]


@router.get("/keys", response_model=KeysOut)
def keys_status(request: Request, session: DbSession, actor: CurrentActor) -> KeysOut:
    """The master keys and the rotations (registry administrators, the authority)."""
    view = keys.status(session=session, actor=actor,
                       store=runtime.keystore(request.app.state.settings))
    return KeysOut(current_key_id=view.current_key_id,
                   keys=[KeyOut(**vars(k)) for k in view.keys],
                   rotations=[RotationOut.model_validate(r) for r in view.rotations])


@router.post("/keys/rotation", response_model=RotationOut, status_code=202)
def start_rotation(request: Request, session: DbSession, actor: CurrentActor,
                   response: Response) -> RotationOut:
    """Start a rotation: a new master key seals from now on; a job re-wraps every data
    key (409 while another rotation runs)."""
    started = keys.start_rotation(session=session, actor=actor,
                                  store=runtime.keystore(request.app.state.settings))
    response.headers["Location"] = "/api/v1/biometry/keys"
    return RotationOut.model_validate(started)
