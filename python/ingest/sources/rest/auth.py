"""Request authentication: bearer token, HTTP basic, or an API key in a header or the query.

Each scheme is a ``requests`` auth object, applied to every request of a run, including
requests to next-page URLs the API returns (a query-string API key is added to those too).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from ingest.sources.rest.config import ApiKeyAuth, Auth, BasicAuth, BearerAuth


class BearerTokenAuth(AuthBase):
    """``Authorization: Bearer <token>`` (RFC 6750).

    Args:
        token: The token.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class ApiKeyHeaderAuth(AuthBase):
    """An API key in a request header.

    Args:
        header: Header name, e.g. ``X-API-Key``.
        key: The key.
    """

    def __init__(self, header: str, key: str) -> None:
        self._header = header
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self._header] = self._key
        return request


class ApiKeyQueryAuth(AuthBase):
    """An API key as a query parameter, replacing any value of that parameter in the URL.

    Args:
        param: Query parameter name, e.g. ``api_key``.
        key: The key.
    """

    def __init__(self, param: str, key: str) -> None:
        self._param = param
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url or "")
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != self._param]
        query.append((self._param, self._key))
        request.url = urlunsplit(parts._replace(query=urlencode(query)))
        return request


def build_auth(auth: Auth, values: dict[str, str]) -> AuthBase:
    """The ``requests`` auth object of an ``auth`` block.

    Args:
        auth: The file's ``auth`` block.
        values: Values of the block's environment variables, by variable name (all present).

    Returns:
        The auth object.
    """
    if isinstance(auth, BearerAuth):
        return BearerTokenAuth(values[auth.token_env])
    if isinstance(auth, BasicAuth):
        return HTTPBasicAuth(values[auth.username_env], values[auth.password_env])
    if isinstance(auth, ApiKeyAuth) and auth.location == "query":
        return ApiKeyQueryAuth(auth.name, values[auth.value_env])
    return ApiKeyHeaderAuth(auth.name, values[auth.value_env])


def secret_variables(auth: Auth | None) -> tuple[str, ...]:
    """Names of the environment variables an ``auth`` block reads, in the file's order."""
    if auth is None:
        return ()
    if isinstance(auth, BearerAuth):
        return (auth.token_env,)
    if isinstance(auth, BasicAuth):
        return (auth.username_env, auth.password_env)
    return (auth.value_env,)
