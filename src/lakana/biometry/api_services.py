"""JSON API of relying services (under ``/api/v1/biometry``).

For relying services, authenticated **only** by their signed token (``Authorization: Bearer
<JWT>``, EdDSA, see :mod:`lakana.biometry.relying`), never by a user's session or API token:
``POST /relying/verify`` (1:1, answers ``match`` and a band), ``POST /relying/identify``
(1:N, answers service pseudonyms) and ``POST /relying/attributes`` (the purpose's fields).
A user's API token presented here is not a service token: 401.

For registry administrators (``biometry:service:manage``): ``GET/POST /services``,
``GET/PATCH /services/{service_id}`` (``{"active": false}`` deactivates a service).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import relying, runtime
from lakana.biometry.registry_search import registry_gallery
from lakana.biometry.relying import (
    AttributesIn,
    AttributesOut,
    IdentifyIn,
    IdentifyOut,
    ServiceClient,
    ServiceIn,
    ServiceOut,
    ServiceUpdate,
    VerifyIn,
    VerifyOut,
)
from lakana.core.auth.deps import CurrentActor, DbSession, client_ip, get_settings
from lakana.core.errors import Unauthenticated

router = APIRouter(prefix="/biometry", tags=["biometry"])  # mounted under /api/v1


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def service_client(request: Request) -> ServiceClient:
    """The relying service whose signed token this request carries; 401 otherwise (a user's
    session or API token is not accepted here)."""
    authorization = request.headers.get("authorization", "")
    if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
        raise Unauthenticated("Present the relying service's signed token "
                              "(Authorization: Bearer).")
    return relying.authenticate(session_factory=_factory(request),
                                token=authorization[7:].strip(),
                                source_ip=client_ip(request))


CurrentService = Annotated[ServiceClient, Depends(service_client)]


# --- for relying services ---------------------------------------------------------------------

@router.post("/relying/verify")
def verify(request: Request, client: CurrentService, session: DbSession,
           body: VerifyIn) -> VerifyOut:
    """1:1 verification of a person by number and finger (or face)."""
    return relying.verify(session=session, session_factory=_factory(request),
                          store=runtime.keystore(get_settings(request)),
                          engine=runtime.engine(get_settings(request)), client=client, data=body)


@router.post("/relying/identify")
def identify(request: Request, client: CurrentService, session: DbSession,
             body: IdentifyIn) -> IdentifyOut:
    """1:N search of fingers among active persons (pseudonyms for this service)."""
    settings = get_settings(request)
    return relying.identify(session=session, session_factory=_factory(request),
                            store=runtime.keystore(settings), engine=runtime.engine(settings),
                            client=client, data=body, gallery=registry_gallery(settings))


@router.post("/relying/attributes")
def attributes(request: Request, client: CurrentService, session: DbSession,
               body: AttributesIn) -> AttributesOut:
    """The attributes the token's purpose releases about a person."""
    return relying.attributes(session=session, session_factory=_factory(request),
                              store=runtime.keystore(get_settings(request)), client=client,
                              data=body)


# --- for registry administrators --------------------------------------------------------------

@router.get("/services")
def list_services(session: DbSession, actor: CurrentActor) -> list[ServiceOut]:
    """Every relying service."""
    return [relying.to_out(s) for s in relying.list_services(session=session, actor=actor)]


@router.post("/services", status_code=201)
def create_service(session: DbSession, actor: CurrentActor, body: ServiceIn) -> ServiceOut:
    """Register a relying service with its purposes and public key."""
    return relying.to_out(relying.create_service(session=session, actor=actor, data=body))


@router.get("/services/{service_id}")
def get_service(service_id: int, session: DbSession, actor: CurrentActor) -> ServiceOut:
    """One relying service."""
    return relying.to_out(relying.get_service(session=session, actor=actor,
                                              service_id=service_id))


@router.patch("/services/{service_id}")
def update_service(service_id: int, session: DbSession, actor: CurrentActor,
                   body: ServiceUpdate) -> ServiceOut:
    """Change a relying service (``active: false`` deactivates it)."""
    return relying.to_out(relying.update_service(session=session, actor=actor,
                                                 service_id=service_id, data=body))
