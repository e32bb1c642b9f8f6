"""Shared machinery of the command-line workers in ``python/``.

The workers (``ingest``, ``tpch_source``) share one exception base, one way of resolving
connection URLs from environment variables, one command-line boundary that turns exceptions
into a single ``Error: ...`` line and a documented exit code, and one retry loop for requests that
may succeed later (``retry``: ``Retry-After`` or capped exponential backoff with jitter).
"""
