"""Hide secret values (tokens, passwords, API keys, session ids) in messages and log records.

The workers' messages never quote credentials, query strings or headers, so secrets should not
reach them at all; the masker is the second line of defence for text a worker does not control:
response bodies quoted in errors, exceptions of HTTP libraries and ``urllib3``'s debug log of
request lines. Used by the ``rest`` and ``salesforce`` sources.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values would mask ordinary words; such secrets are not secrets.
_MIN_SECRET_LENGTH = 4


class SecretMasker(logging.Filter):
    """Replaces known secret values, raw or URL-encoded, with ``***``.

    Also a :class:`logging.Filter`: attached to a logger it masks every record's message.

    Args:
        secrets: The secret values of the run; None and values under 4 characters are ignored.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._forms: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Also mask these values (e.g. a session id obtained after login)."""
        forms = set(self._forms)
        for secret in secrets:
            if secret and len(secret) >= _MIN_SECRET_LENGTH:
                forms.update({secret, quote(secret, safe=""), quote_plus(secret)})
        # Longest first, so a secret that contains another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def mask(self, text: str) -> str:
        """The text with every secret value replaced by ``***``."""
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    __call__ = mask

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's formatted message in place; never drops a record."""
        if self._forms:
            record.msg = self.mask(record.getMessage())
            record.args = None
        return True
