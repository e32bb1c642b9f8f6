"""BodyLimit and ErrorBoundary (api/limits.py) in process, around the real app and a bare ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from orchestra_local.api.limits import BodyLimit, ErrorBoundary

LIMIT = 1000


def _echo_app() -> Any:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail that must not leak")

    app.add_middleware(ErrorBoundary)
    app.add_middleware(BodyLimit, max_bytes=LIMIT)
    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(_echo_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def _chunks(total: int, size: int = 300) -> Iterator[bytes]:
    while total > 0:
        yield b"x" * min(size, total)
        total -= size


@pytest.mark.parametrize(("body", "status"), [
    (b"x" * LIMIT, 200),
    (b"x" * (LIMIT + 1), 413),
    (b"", 200),
], ids=["at-limit", "one-over", "empty"])
def test_declared_length(client: TestClient, body: bytes, status: int) -> None:
    response = client.post("/echo", content=body)
    assert response.status_code == status
    if status == 413:
        assert response.json() == {"detail": f"Request body too large: the limit is {LIMIT} bytes "
                                             "(orchestra-local serve --max-body-bytes)"}


@pytest.mark.parametrize(("total", "status"), [(LIMIT, 200), (LIMIT + 1, 413), (50 * LIMIT, 413)],
                         ids=["streamed-at-limit", "streamed-one-over", "streamed-far-over"])
def test_streamed_length(client: TestClient, total: int, status: int) -> None:
    response = client.post("/echo", content=_chunks(total))
    assert response.status_code == status
    if status == 200:
        assert response.json() == {"received": total}


def test_an_invalid_content_length_answers_400(client: TestClient) -> None:
    response = client.post("/echo", content=b"abc", headers={"Content-Length": "3x"})
    assert response.status_code == 400 and response.json() == {"detail": "Invalid Content-Length header"}


def test_an_escaped_exception_answers_500_without_its_detail(client: TestClient) -> None:
    response = client.get("/boom")
    assert response.status_code == 500 and response.json() == {"detail": "Internal server error"}
    assert "secret" not in response.text
