"""Send one alert to its destination: WEBHOOK, SLACK, MICROSOFT_TEAMS, EMAIL.

Connections (``connections.yml``, named by the destination's ``connection_id``; field names **our
choice** where Orchestra's are not public):

- WEBHOOK (Orchestra's "Webhook" connector: a base URL, Basic or Bearer auth, and the alert's
  ``destination`` as the path): ``base_url``, and ``bearer_token`` or ``username`` + ``password``.
  The body is Orchestra's ``{"event_type", "detail"}``, with an ``Idempotency-Key`` header (the
  outbox row's id) so a receiver can drop a repeat after a lost answer.
- SLACK, MICROSOFT_TEAMS: the incoming webhook of the connection (``webhook_url``), as their tasks.
- EMAIL: an SMTP server (``host``, ``port`` default 587, ``username``, ``password``, ``starttls``
  default true, ``ssl`` default false, ``from_address``); ``destination`` holds the recipients,
  comma-separated.

PAGER_DUTY and DATADOG alerts are delivered by hosted Orchestra only: :class:`RemoteOnly`.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import httpx

from orchestra_local.connections import Connection
from orchestra_local.integrations.microsoft_teams import teams_payload

TIMEOUT_SECONDS = 10.0
"""Connect and read timeout of one delivery attempt, in seconds."""
RETRYABLE_STATUS = frozenset({408, 425, 429})


class DeliveryError(Exception):
    """An attempt failed; ``permanent`` when another attempt cannot succeed (a 4xx, a missing connection)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class RemoteOnly(Exception):
    """The destination is one only hosted Orchestra delivers to (PAGER_DUTY, DATADOG)."""


def subject(row: Mapping[str, Any]) -> str:
    """One line naming the pipeline (and task) and the status, e.g. ``TPC-H ELT: pipeline run FAILED``."""
    detail = row["detail"]
    name = detail.get("pipeline_name") or detail["pipeline_id"]
    if row["event_type"] == "TASK_RUN_COMPLETED":
        return f"{name} / {detail['task_name']}: task run {detail['status']}"
    return f"{name}: pipeline run {detail['status']}"


def text(row: Mapping[str, Any]) -> str:
    """The message: the rule's custom message, the subject, the run's message, ids and times."""
    detail = row["detail"]
    lines = [line for line in (row.get("custom_message"), subject(row), detail.get("message")) if line]
    lines.append(f"alert {row['alert_name']!r}; pipeline run {detail['pipeline_run_id']}"
                 + (f", task run {detail['task_run_id']}" if detail.get("task_run_id") else ""))
    lines.append(f"started {detail.get('started_at') or '-'}, completed {detail.get('completed_at') or '-'}")
    return "\n".join(lines)


def _connection(row: Mapping[str, Any], connections: Mapping[str, Connection], integration: str,
                *required: str) -> Connection:
    name = row.get("connection_id")
    connection = connections.get(name) if name else None
    if connection is None:
        raise DeliveryError(f"{row['integration']} alert {row['alert_name']!r}: connection_id {name!r} is not in the "
                            "connections file (see connections.example.yml)", permanent=True)
    if connection.integration != integration:
        raise DeliveryError(f"connection '{connection.name}' is a {connection.integration} connection, "
                            f"not {integration}", permanent=True)
    missing = [field for field in required if not connection.fields.get(field)]
    if missing:
        raise DeliveryError(f"connection '{connection.name}' lacks field(s) {', '.join(missing)}", permanent=True)
    return connection


def _post(url: str, body: dict[str, Any], what: str, **kwargs: Any) -> None:
    try:
        response = httpx.post(url, json=body, timeout=TIMEOUT_SECONDS, **kwargs)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}: {exc}") from None
    if response.is_success:
        return
    permanent = 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_STATUS
    raise DeliveryError(f"{what} answered {response.status_code}: {response.text[:200]}", permanent=permanent)


def _webhook(row: Mapping[str, Any], connections: Mapping[str, Connection]) -> None:
    fields = _connection(row, connections, "WEBHOOK", "base_url").fields
    path = (row.get("destination") or "").strip()
    url = fields["base_url"].rstrip("/") + ("/" + path.lstrip("/") if path else "")
    headers = {"Idempotency-Key": row["id"]}
    auth = None
    if fields.get("bearer_token"):
        headers["Authorization"] = f"Bearer {fields['bearer_token']}"
    elif fields.get("username"):
        auth = (fields["username"], fields.get("password", ""))
    _post(url, {"event_type": row["event_type"], "detail": row["detail"]}, "the webhook", headers=headers, auth=auth)


def _slack(row: Mapping[str, Any], connections: Mapping[str, Connection]) -> None:
    url = _connection(row, connections, "SLACK", "webhook_url").fields["webhook_url"]
    _post(url, {"text": text(row)}, "the Slack webhook")


def _teams(row: Mapping[str, Any], connections: Mapping[str, Connection]) -> None:
    url = _connection(row, connections, "MICROSOFT_TEAMS", "webhook_url").fields["webhook_url"]
    card = {"type": "AdaptiveCard", "version": "1.4",
            "body": [{"type": "TextBlock", "text": line, "wrap": True} for line in text(row).splitlines()]}
    _post(url, teams_payload(card)[0], "the Microsoft Teams webhook")


def _email(row: Mapping[str, Any], connections: Mapping[str, Connection]) -> None:
    fields = _connection(row, connections, "EMAIL", "host", "from_address").fields
    recipients = [address.strip() for address in (row.get("destination") or "").split(",") if address.strip()]
    if not recipients:
        raise DeliveryError(f"EMAIL alert {row['alert_name']!r} has no destination address", permanent=True)
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject(row), fields["from_address"], ", ".join(recipients)
    message["Message-ID"] = f"<{row['id']}@orchestra-local>"
    message.set_content(text(row))
    port = int(fields.get("port") or 587)
    try:
        if fields.get("ssl", "false").lower() == "true":
            server: smtplib.SMTP = smtplib.SMTP_SSL(fields["host"], port, timeout=TIMEOUT_SECONDS,
                                                    context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(fields["host"], port, timeout=TIMEOUT_SECONDS)
        with server:
            server.ehlo()
            if fields.get("starttls", "true").lower() == "true" and fields.get("ssl", "false").lower() != "true":
                if not server.has_extn("starttls"):
                    raise DeliveryError(f"the SMTP server {fields['host']}:{port} does not offer STARTTLS; set "
                                        "starttls: false on the connection to send without it", permanent=True)
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
            if fields.get("username"):
                server.login(fields["username"], fields.get("password", ""))
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"the SMTP server refused the recipients: {exc}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from None


SENDERS = {"WEBHOOK": _webhook, "SLACK": _slack, "MICROSOFT_TEAMS": _teams, "EMAIL": _email}


def send(row: Mapping[str, Any], connections: Mapping[str, Connection]) -> None:
    """Deliver one outbox row once.

    Raises:
        RemoteOnly: PAGER_DUTY, DATADOG.
        DeliveryError: The attempt failed (``permanent`` when retrying cannot help).
    """
    sender = SENDERS.get(row["integration"])
    if sender is None:
        raise RemoteOnly(f"{row['integration']} alerts are delivered by hosted Orchestra only")
    sender(row, connections)
