"""The run viewer's guard: the API token, given once (login form or ``?token=``), then a session cookie.

The cookie holds an HMAC of the token, not the token itself, so it never shows the token and stops
working when the server's token changes. A request without a valid cookie gets the login page
(401) and no data. ``?token=`` on any page sets the cookie and redirects to the same page without
it, so the token does not stay in the address bar or the history.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from fastapi import Request

COOKIE = "orchestra_local_viewer"
SESSION_CONTEXT = b"orchestra-local run viewer session"


class LoginRequired(Exception):
    """No valid session: answer with the login page.

    Attributes:
        next_url: Where to go once logged in (a path of this server).
        error: Why the given token was refused, or None when none was given.
    """

    def __init__(self, next_url: str, error: str | None = None):
        super().__init__(error or "login required")
        self.next_url, self.error = next_url, error


class SessionStarted(Exception):
    """A valid ``?token=``: set the cookie and redirect to ``url`` (the same page without the token)."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


def session_value(token: str) -> str:
    """The cookie value for ``token``: hex HMAC-SHA256 of a fixed context keyed by the token."""
    return hmac.new(token.encode(), SESSION_CONTEXT, hashlib.sha256).hexdigest()


def token_matches(given: str, token: str) -> bool:
    """Constant-time comparison of a given token with the server's."""
    return hmac.compare_digest(given.encode(), token.encode())


def safe_next(url: str | None) -> str:
    """``url`` when it is a path of this server (``/...``, not ``//host``), else ``/``."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/"


def _here(request: Request, drop: str | None = None) -> str:
    query = urlencode([(key, value) for key, value in request.query_params.multi_items() if key != drop])
    return request.url.path + (f"?{query}" if query else "")


async def require_session(request: Request) -> None:
    """FastAPI dependency of every viewer page.

    Raises:
        SessionStarted: ``?token=`` holds the server's token.
        LoginRequired: A wrong ``?token=``, or no valid session cookie.
    """
    token: str = request.app.state.token
    given = request.query_params.get("token")
    if given is not None:
        if token_matches(given, token):
            raise SessionStarted(_here(request, drop="token"))
        raise LoginRequired(_here(request, drop="token"), "That token is not this server's API token.")
    cookie = request.cookies.get(COOKIE, "")
    if not hmac.compare_digest(cookie.encode(), session_value(token).encode()):
        raise LoginRequired(_here(request))
