"""Dependencies of the routers: the run service (swappable in tests) and bearer-token auth.

Both are ``async`` although they never await: FastAPI runs a sync dependency in its thread pool,
a thread hop per dependency on every request (measured: most of the CPU of a cached
``GET /pipelines``, see benchmarks/results/api_pipelines_latency.md).
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestra_local.api.service import RunService

_bearer = HTTPBearer(auto_error=False)


async def get_service(request: Request) -> RunService:
    """The app's :class:`RunService` (set by ``create_app``)."""
    return request.app.state.service


async def require_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008 - FastAPI idiom
) -> None:
    """Accept ``Authorization: Bearer <token>`` with the server's token; 401 otherwise.

    Raises:
        HTTPException: 401 with Orchestra's ``{"detail": ...}`` body.
    """
    expected: str = request.app.state.token
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Invalid or missing API key",
                            headers={"WWW-Authenticate": "Bearer"})
