"""Shared machinery of the command-line workers in ``python/``.

The workers (``ingest``, ``tpch_source``), the custom sensors (``sensors/``) and
``run_multiple_pipelines.py`` share one exception base, one way of resolving
connection URLs from environment variables, one command-line boundary that turns exceptions
into a single ``Error: ...`` line and a documented exit code, and one retry loop for requests that
may succeed later (``retry``: ``Retry-After`` or capped exponential backoff with jitter), and one
client of Orchestra's public API that never starts a run twice (``orchestra_api``). Code outside
``python/`` installs it from ``python/pyproject.toml`` (``pip install -e python``).
"""
