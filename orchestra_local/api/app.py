"""``create_app``: the FastAPI application serving Orchestra's public API slice locally.

All routes live under ``/api/engine/public`` (orchestra-contract section 7), so Orchestra's own tools
(``orchestra-cli`` with ``BASE_URL`` pointing here, the metadata loader) work unchanged. Every
route but ``POST /pipelines/schema`` needs ``Authorization: Bearer <token>``. The run viewer's HTML
pages (``orchestra_local/viewer``) are served at ``/`` behind the same token.

Errors have Orchestra's shapes: ``{"detail": "..."}`` for 400/401/404/413, ``{"detail": [{loc,
msg, type, input}]}`` for 422 (every malformed parameter: ``api/params.py``); a body over
``max_body_bytes`` answers 413 before it is read (``api/limits.py``); an unexpected error answers
500 ``{"detail": "Internal server error"}``, its traceback goes to the server's log, never into a
response, and the connection stays open.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from orchestra_local import __version__
from orchestra_local.alerts.delivery import Deliverer
from orchestra_local.api.limits import DEFAULT_MAX_BODY_BYTES, BodyLimit, ErrorBoundary
from orchestra_local.api.records import iso
from orchestra_local.api.routers import (
    assets,
    environments,
    integrations,
    operations,
    pipeline_runs,
    pipeline_writes,
    pipelines,
    schema,
    sensor_events,
    state,
    task_runs,
    ticks,
)
from orchestra_local.api.service import RunService
from orchestra_local.errors import OrchestraLocalError
from orchestra_local.scheduling.scheduler import Scheduler
from orchestra_local.settings import RunnerSettings
from orchestra_local.store import RunStore
from orchestra_local.viewer import routes as viewer
from orchestra_local.workspace import Workspace

PREFIX = "/api/engine/public"
TOKEN_ENV = "ORCHESTRA_LOCAL_API_TOKEN"
logger = logging.getLogger("orchestra_local.api")


class ApiSettings(BaseModel):
    """Settings of one server.

    Attributes:
        runner: Where pipelines, state and metadata live.
        token: The bearer token clients must send.
        max_body_bytes: Largest request body accepted (413 beyond), in bytes.
        docs: Serve Swagger UI at ``/api/engine/public/docs`` (it loads its scripts from a CDN,
            so it is off by default; ``openapi.json`` is always served).
        scheduler: Run the schedules of the pipelines in a thread while the app runs
            (``orchestra_local/scheduling``; ``serve`` turns it on, tests leave it off).
        catch_up: The scheduler's policy for fire times missed while down (``none`` or ``last``).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    runner: RunnerSettings
    token: str
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=0)
    docs: bool = False
    scheduler: bool = False
    catch_up: Literal["none", "last"] = "none"

    @staticmethod
    def new_token() -> str:
        """A random token, for when none is configured."""
        return secrets.token_urlsafe(24)


def create_app(settings: ApiSettings, workspace: Workspace, store: RunStore | None = None) -> FastAPI:
    """Build the app.

    Args:
        settings: Server settings.
        workspace: Environment, connections and secrets for the runs it starts.
        store: The metadata store (default: opened from ``settings.runner.metadata_url``);
            tests pass their own.
    """
    store = store or RunStore(settings.runner.metadata_url, workspace.masker)
    service = RunService(settings.runner, store, workspace)
    workspace.masker.add(settings.token)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scheduler = Scheduler(service, catch_up=settings.catch_up).start_thread() if settings.scheduler else None
        deliverer = Deliverer(store, workspace)
        delivery, stop_delivery = deliverer.start_thread()  # alerts owed by runs of any process on this store
        yield
        if scheduler is not None:
            thread, stop = scheduler
            stop.set()
            thread.join(timeout=60)  # its pass ends: no run starts after this point
        service.shutdown()  # cancel what is still running; nothing is left RUNNING
        stop_delivery.set()
        delivery.join(timeout=30)
        try:  # the cancelled runs' alerts, once; what fails stays owed for the next deliverer
            deliverer.deliver_due()
        except OrchestraLocalError as exc:
            logger.warning("alerts not delivered at shutdown: %s", exc)

    app = FastAPI(title="orchestra-local", version=__version__, lifespan=lifespan,
                  docs_url=f"{PREFIX}/docs" if settings.docs else None, redoc_url=None, openapi_url=f"{PREFIX}/openapi.json")
    app.state.service = service
    app.state.token = settings.token
    app.state.loaded_at = iso(datetime.now(UTC))  # when the workspace files were read
    for module in (schema, pipelines, pipeline_writes, pipeline_runs, task_runs, operations, assets, environments,
                   integrations, state, ticks):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(sensor_events.router)  # Orchestra serves it on a host of its own: not under PREFIX
    viewer.install(app)  # the read-only run viewer at /, behind the same token (a login, then a cookie)
    app.add_middleware(ErrorBoundary, masker=workspace.masker)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "Internal server error"})

    @app.get(f"{PREFIX}/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
