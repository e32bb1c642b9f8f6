"""The parameterised ingestion worker: one invocation loads one source table into one table.

Run ``python -m ingest --source sql --table orders`` from ``python/``; see ``python/README.md``
and ``python -m ingest --help`` for every parameter.
"""
