"""The model of a REST source file: base URL, authentication, pagination, endpoints, columns.

Every model forbids unknown keys, so a misspelt key is an error located by
:mod:`ingest.sources.rest.config_file`. Secrets never appear in the file, only the names of
the environment variables that hold them (``*_env`` keys). ``python/rest_sources/github.yml``
is a worked example; ``python/README.md`` ("### rest") lists every key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Names of environment variables, endpoints, columns and query parameters.
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENDPOINT_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Headers that carry credentials: they belong in `auth`, whose values come from the environment.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

EnvName = Annotated[str, Field(pattern=_ENV_NAME)]
Name = Annotated[str, Field(min_length=1)]
ParamValue = str | int | float | bool
# How an incremental lower bound is written into its query parameter (besides strftime patterns).
BOUND_FORMATS = ("iso8601", "unix_seconds", "unix_milliseconds")


class Model(BaseModel):
    """Base of every model here: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BearerAuth(Model):
    """``Authorization: Bearer <token>``; the token is in the variable ``token_env``."""

    type: Literal["bearer"]
    token_env: EnvName


class BasicAuth(Model):
    """HTTP basic authentication (RFC 7617) from two environment variables."""

    type: Literal["basic"]
    username_env: EnvName
    password_env: EnvName


class ApiKeyAuth(Model):
    """An API key sent as the header or query parameter ``name``."""

    type: Literal["api_key"]
    name: Name
    location: Literal["header", "query"] = "header"
    value_env: EnvName


Auth = Annotated[BearerAuth | BasicAuth | ApiKeyAuth, Field(discriminator="type")]


class NoPagination(Model):
    """The endpoint answers with one page."""

    type: Literal["none"]


class PageNumberPagination(Model):
    """``?page=1,2,...`` until a page holds no records or ``total_pages_path`` is reached."""

    type: Literal["page_number"]
    page_param: Name = "page"
    first_page: int = Field(1, ge=0)
    size_param: Name | None = None
    page_size: int | None = Field(None, gt=0)
    total_pages_path: Name | None = None

    @model_validator(mode="after")
    def _size_together(self) -> PageNumberPagination:
        if (self.size_param is None) != (self.page_size is None):
            raise ValueError("size_param and page_size go together: give both or neither")
        return self


class OffsetPagination(Model):
    """``?offset=0&limit=N``, advancing by the records received, until an empty page or
    ``total_path``'s total."""

    type: Literal["offset"]
    offset_param: Name = "offset"
    limit_param: Name = "limit"
    limit: int = Field(gt=0)
    total_path: Name | None = None


class CursorPagination(Model):
    """The body names the next page's cursor (``cursor_path``), sent back as ``cursor_param``;
    stops when it is missing, null or empty, or a page holds no records."""

    type: Literal["cursor"]
    cursor_path: Name
    cursor_param: Name = "cursor"


class LinkHeaderPagination(Model):
    """The ``Link`` response header's ``rel="next"`` URL (RFC 8288), as GitHub sends it."""

    type: Literal["link_header"]


class NextUrlPagination(Model):
    """The body holds the next page's URL at ``next_url_path`` (absolute or relative)."""

    type: Literal["next_url"]
    next_url_path: Name


Pagination = Annotated[
    NoPagination
    | PageNumberPagination
    | OffsetPagination
    | CursorPagination
    | LinkHeaderPagination
    | NextUrlPagination,
    Field(discriminator="type"),
]

ColumnTypeName = Literal["string", "integer", "number", "decimal", "boolean", "date", "timestamp", "json"]


class ColumnSpec(Model):
    """The declared type of one column (a field of the flattened records).

    ``format`` applies to ``timestamp`` (``iso8601`` (default), ``unix_seconds``,
    ``unix_milliseconds`` or a ``strptime`` pattern) and ``date`` (a ``strptime`` pattern).
    """

    type: ColumnTypeName
    format: Name | None = None

    @model_validator(mode="after")
    def _format_applies(self) -> ColumnSpec:
        if self.format is not None and self.type not in ("timestamp", "date"):
            raise ValueError(f"format applies to timestamp and date columns, not {self.type}")
        if self.type == "date" and self.format is not None and "%" not in self.format:
            raise ValueError("a date format is a strptime pattern such as '%d/%m/%Y'")
        return self


class Incremental(Model):
    """How an incremental run's lower bound reaches the API.

    Attributes:
        cursor_field: The record field ``--incremental-cursor`` names; must be in ``columns``.
        param: Query parameter that receives the lower bound, e.g. ``updated_since``.
        format: How the bound is written: ``iso8601`` (UTC as ``...Z``), ``unix_seconds``,
            ``unix_milliseconds`` or a ``strftime`` pattern; numbers and text are written as is.
    """

    cursor_field: Name
    param: Name
    format: Name = "iso8601"

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in BOUND_FORMATS and "%" not in value:
            raise ValueError(f"format is one of {', '.join(BOUND_FORMATS)} or a strftime pattern")
        return value


class Retry(Model):
    """Retries of 429, 5xx and connection failures: capped exponential backoff with jitter.

    Attributes:
        max_attempts: Attempts per request, the first included.
        initial_delay_seconds: Backoff before the second attempt; doubles per attempt.
        max_delay_seconds: Cap of one backoff.
        max_retry_after_seconds: Longest ``Retry-After`` honoured; a longer one fails the run.
    """

    max_attempts: int = Field(5, ge=1, le=20)
    initial_delay_seconds: float = Field(1.0, ge=0)
    max_delay_seconds: float = Field(60.0, ge=0)
    max_retry_after_seconds: float = Field(300.0, ge=0)


class Timeouts(Model):
    """Seconds to wait for a connection, and for each read of the response."""

    connect_seconds: float = Field(10.0, gt=0)
    read_seconds: float = Field(60.0, gt=0)


class Endpoint(Model):
    """One endpoint, ingested as one table (``--table <name>``).

    Attributes:
        path: Path below the base URL, e.g. ``v1/users``.
        method: ``GET``, or ``POST`` for search-style endpoints (sent with ``body``; never
            retried after an ambiguous failure).
        body: JSON body of a ``POST``.
        params: Static query parameters.
        records_path: Dotted path of the records in the body (``data.items``); empty when the
            body itself is the list.
        primary_key: Key fields, declared in ``columns``; the default merge key.
        columns: Declared types by field name; nested objects are flattened to
            ``parent__child`` names first.
        undeclared_fields: ``infer`` (default) types the other fields from the data;
            ``ignore`` loads only the declared columns.
        incremental: How ``--incremental-cursor`` is sent to the API.
        pagination: Overrides the file's pagination.
    """

    path: Name
    method: Literal["GET", "POST"] = "GET"
    body: dict[str, Any] | None = None
    params: dict[Name, ParamValue] = Field(default_factory=dict)
    records_path: str = ""
    primary_key: tuple[Name, ...] = ()
    columns: dict[Name, ColumnSpec] = Field(default_factory=dict)
    undeclared_fields: Literal["infer", "ignore"] = "infer"
    incremental: Incremental | None = None
    pagination: Pagination | None = None

    @field_validator("columns", mode="before")
    @classmethod
    def _short_column_form(cls, value: Any) -> Any:
        """Accept ``id: integer`` as short for ``id: {type: integer}``."""
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        if "://" in value or "?" in value:
            raise ValueError("path is relative to base_url, without a query (use params)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Endpoint:
        if self.body is not None and self.method != "POST":
            raise ValueError("body needs method: POST")
        missing = [key for key in self.primary_key if key not in self.columns]
        if missing:
            raise ValueError(f"primary_key field(s) {', '.join(missing)} must be declared in columns")
        if self.incremental and self.incremental.cursor_field not in self.columns:
            raise ValueError(
                f"incremental.cursor_field {self.incremental.cursor_field!r} must be declared in "
                f"columns (its type and format)"
            )
        if self.undeclared_fields == "ignore" and not self.columns:
            raise ValueError("undeclared_fields: ignore needs declared columns")
        return self


class RestApiConfig(Model):
    """A REST source file.

    Attributes:
        base_url: Root URL of the API (``http`` or ``https``).
        base_url_env: Variable whose value, when set, replaces ``base_url`` (per environment).
        auth: How requests authenticate; None for public APIs.
        headers: Static request headers (never credentials: use ``auth``).
        pagination: Default pagination of every endpoint.
        retry: Retry policy.
        timeouts: Connect and read timeouts.
        endpoints: Endpoints by name.
    """

    base_url: Name | None = None
    base_url_env: EnvName | None = None
    auth: Auth | None = None
    headers: dict[Name, str] = Field(default_factory=dict)
    pagination: Pagination = NoPagination(type="none")
    retry: Retry = Retry()
    timeouts: Timeouts = Timeouts()
    endpoints: dict[Annotated[str, Field(pattern=_ENDPOINT_NAME)], Endpoint] = Field(min_length=1)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value

    @field_validator("headers")
    @classmethod
    def _no_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        secret = sorted(name for name in value if name.lower() in _SECRET_HEADERS)
        if secret:
            raise ValueError(
                f"header(s) {', '.join(secret)} carry credentials: use auth, whose values come "
                f"from environment variables"
            )
        return value

    @model_validator(mode="after")
    def _has_base_url(self) -> RestApiConfig:
        if self.base_url is None and self.base_url_env is None:
            raise ValueError("give base_url, base_url_env, or both")
        return self

    def pagination_of(self, endpoint: Endpoint) -> Pagination:
        """The endpoint's pagination, else the file's default."""
        return endpoint.pagination if endpoint.pagination is not None else self.pagination
