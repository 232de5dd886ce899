"""Application factory: the core shell plus every domain listed in :data:`DOMAINS`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from lakana import __version__
from lakana.core import i18n
from lakana.core.audit import configure_ledger
from lakana.core.auth.deps import csrf_protect, negotiate_language
from lakana.core.cache import EpochCache, EpochReader
from lakana.core.config import Settings, load_settings
from lakana.core.db import make_engine, make_session_factory
from lakana.core.plugins import DomainPlugin, register_indicator_sources
from lakana.core.web import errors
from lakana.core.web.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from lakana.core.web.templating import STATIC_DIR, build_environment


def domains() -> list[DomainPlugin]:
    """The domains of this build, in menu order (explicit, no module scanning)."""
    from lakana.awareness.plugin import PLUGIN as awareness
    from lakana.biometry.plugin import PLUGIN as biometry
    from lakana.compliance.plugin import PLUGIN as compliance
    from lakana.csirt.plugin import PLUGIN as csirt
    from lakana.monitoring.detection.plugin import PLUGIN as detection
    from lakana.monitoring.exposure.plugin import PLUGIN as exposure
    from lakana.registry.plugin import PLUGIN as registry
    from lakana.strategy.plugin import PLUGIN as strategy

    return [registry, compliance, csirt, exposure, detection, awareness, biometry, strategy]


def core_plugins() -> list[DomainPlugin]:
    """The core's own routers (accounts, audit, jobs, notifications), packaged like a domain."""
    from lakana.core.web.plugin import PLUGIN as shell

    return [shell]


def register_all(plugins: Sequence[DomainPlugin]) -> None:
    """Let each plugin grant its permissions and add its translations."""
    for plugin in plugins:
        plugin.register_permissions()
        if plugin.catalog_dir is not None:
            i18n.register_catalog_dir(plugin.catalog_dir)
    register_indicator_sources(plugins)


def create_app(settings: Settings | None = None, **engine_kwargs: Any) -> FastAPI:
    """Build the ASGI application for ``settings`` (read from the environment by default)."""
    settings = settings or load_settings()
    plugins = [*core_plugins(), *domains()]
    register_all(plugins)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # On a laptop (jobs_inline) the web process also runs the job loop in a thread.
        background = None
        if settings.jobs_inline:
            from lakana.core.jobs.worker import start_background_worker

            background = start_background_worker(settings)
        yield
        if background is not None:
            background.stop()
        app.state.epoch_reader.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Lakana",
        version=__version__,
        description="Sovereign platform for national cybersecurity governance (JSON API).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        dependencies=[Depends(negotiate_language)],
        swagger_ui_parameters={"syntaxHighlight": False},
    )
    engine = make_engine(settings, **engine_kwargs)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    configure_ledger(app.state.session_factory, settings)
    app.state.epoch_reader = EpochReader(engine)
    app.state.token_cache = EpochCache(maxsize=1024)
    app.state.response_cache = EpochCache(maxsize=256)
    app.state.plugins = plugins
    app.state.jinja = build_environment(
        [p.templates_dir for p in plugins if p.templates_dir is not None])
    app.state.jinja.globals["menu_entries"] = sorted(
        (m for p in plugins for m in p.menu), key=lambda m: m.order)
    app.state.jinja.globals["public_links"] = sorted(
        (m for p in plugins for m in p.public_links), key=lambda m: m.order)
    for plugin in plugins:
        # Routers are included one level deep: FastAPI matches nested routers lazily and
        # each extra level is paid on every request (bench/bench_api.py).
        for api_router in plugin.api_routers:
            app.include_router(api_router, prefix="/api/v1",
                               dependencies=[Depends(csrf_protect)])
        for pages_router in plugin.pages_routers:
            app.include_router(pages_router, dependencies=[Depends(csrf_protect)],
                               include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    errors.install(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes,
                       own_limit_paths=frozenset(path for p in plugins
                                                 for path in p.own_body_limit_paths))
    app.add_middleware(SecurityHeadersMiddleware, https=settings.https)
    return app


def create_server_app() -> FastAPI:
    """The application as ``lakana serve`` runs it: :func:`create_app`, then everything built
    at start-up is moved out of the garbage collector's reach.

    Those objects live as long as the process; leaving them tracked made each full (gen-2)
    collection walk them all, and such ~150 ms pauses landing inside requests dominated the
    heatmap's p95. Tests build many short-lived apps with :func:`create_app` and never
    freeze (frozen cycles would never be freed).
    """
    import gc

    app = create_app()
    gc.collect()
    gc.freeze()
    return app
