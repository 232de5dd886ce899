"""JSON responses cached until the ledger head moves (see :mod:`lakana.core.cache`).

Only for reads whose result depends on ledgered state alone (registry lists, say): the
key holds the path, the query, the actor's scope and permissions and the language, so a
cached page is only ever served to someone who would have computed the same one. A
client that sends ``Cache-Control: no-cache`` always gets a fresh computation.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lakana.core.auth.rbac import Actor
from lakana.core.cache import EpochCache, current_epoch


async def cached_json(request: Request, session: Session, actor: Actor,
                      build: Callable[[], BaseModel]) -> Response:
    """The JSON of ``build()``, from the cache when nothing changed since it was computed.

    A hit is served on the event loop; ``build`` runs in the thread pool.
    """
    cache: EpochCache[bytes] = request.app.state.response_cache
    known: int | None = getattr(request.state, "epoch", None)
    # read before building: an entry is never older than its epoch
    epoch = known if known is not None else await run_in_threadpool(current_epoch, session)
    key = (request.url.path, tuple(sorted(request.query_params.multi_items())), actor.role,
           actor.institution_id, actor.permissions, getattr(request.state, "language", ""))
    body = None
    if "no-cache" not in request.headers.get("cache-control", ""):
        body = cache.get(key, epoch)
    if body is None:
        body = await run_in_threadpool(lambda: build().model_dump_json().encode())
        cache.put(key, epoch, body)
    return Response(body, media_type="application/json")
