"""Pieces of the HTTP side, in process: ``Retry-After``, incremental bounds as query text, URLs in
messages, the secret masker, and credentials that never follow a redirect to another host."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ingest.sources.rest.client import display_url
from ingest.sources.rest.source import bound_text, open_rest_source
from worker_kit.masking import SecretMasker
from worker_kit.retry_after import parse_retry_after

NOW = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("Fri, 01 Mar 2024 12:00:30 GMT", 30.0),
        ("Fri, 01 Mar 2024 11:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "iso8601", "2024-01-02T03:04:05Z"),
        (
            dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "iso8601",
            "2024-01-02T03:04:05Z",
        ),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC), "unix_seconds", "1704164645"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC), "unix_milliseconds", "1704164645600"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "%Y-%m-%d %H:%M", "2024-01-02 03:04"),
        (dt.date(2024, 1, 2), "iso8601", "2024-01-02"),
        (dt.date(2024, 1, 2), "unix_seconds", "1704153600"),
        (1500, "iso8601", "1500"),
        (Decimal("12.50"), "iso8601", "12.50"),
    ],
)
def test_incremental_bounds_are_written_in_the_parameters_format(value: object, fmt: str, text: str) -> None:
    assert bound_text(value, fmt) == text  # type: ignore[arg-type]


def test_urls_in_messages_lose_credentials_and_query() -> None:
    assert display_url("https://user:pw@api.example.com:8443/v1/users?api_key=k&page=2") == (
        "https://api.example.com:8443/v1/users"
    )


def test_masker_hides_raw_and_url_encoded_secrets_in_text_and_log_records() -> None:
    masker = SecretMasker(["s3cr3t/+key word", "abc"])  # "abc" is too short to mask safely

    text = "a=s3cr3t/+key word b=s3cr3t%2F%2Bkey%20word c=s3cr3t%2F%2Bkey+word abc"
    assert masker.mask(text) == "a=*** b=*** c=*** abc"
    record = logging.LogRecord("urllib3", logging.DEBUG, __file__, 1, "GET /x?k=%s", ("s3cr3t%2F%2Bkey+word",), None)
    assert masker.filter(record) and record.getMessage() == "GET /x?k=***"


def test_a_redirect_to_another_host_does_not_carry_the_api_key(tmp_path: Path) -> None:
    headers_seen: dict[str, list[str | None]] = {"api": [], "elsewhere": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            headers_seen[self.server.name].append(self.headers.get("X-API-Key"))  # type: ignore[attr-defined]
            if self.path.startswith("/moved"):
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{elsewhere.server_address[1]}/items")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'[{"id": 1}]'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    api, elsewhere = ThreadingHTTPServer(("127.0.0.1", 0), Handler), ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.name, elsewhere.name = "api", "elsewhere"  # type: ignore[attr-defined]
    for server in (api, elsewhere):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "api.yml"
    config.write_text(
        f"base_url: http://127.0.0.1:{api.server_address[1]}\n"
        "auth: {type: api_key, name: X-API-Key, value_env: KEY}\n"
        "endpoints:\n  items: {path: moved, primary_key: [id], columns: {id: integer}}\n"
    )
    source = open_rest_source(config, {"KEY": "key-Secret-31"})
    try:
        rows = [batch.to_pylist() for batch in source.read(source.describe("items"), 10, None)]
    finally:
        source.close()
        for server in (api, elsewhere):
            server.shutdown()
            server.server_close()

    assert rows == [[{"id": 1}]]
    assert headers_seen == {"api": ["key-Secret-31"], "elsewhere": [None]}
