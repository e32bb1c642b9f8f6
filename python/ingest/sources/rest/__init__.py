"""The ``rest`` source: any JSON REST API described by a small YAML file.

One file per API (``python/rest_sources/<api>.yml``) names its base URL, authentication (secrets
only as the *names* of environment variables), pagination and endpoints; ``--table`` picks an
endpoint. The modules, in the order a run uses them:

- :mod:`~ingest.sources.rest.config` and :mod:`~ingest.sources.rest.config_file`: the file's
  model and its loading, with errors located by file, line and key.
- :mod:`~ingest.sources.rest.resolve`: base URL and secrets from the environment, all at once.
- :mod:`~ingest.sources.rest.client` and :mod:`~ingest.sources.rest.retry`: HTTP requests with
  retries on 429, 5xx and connection failures.
- :mod:`~ingest.sources.rest.pagination`: the next request of each pagination style.
- :mod:`~ingest.sources.rest.records`: records out of a response body, nested objects flattened.
- :mod:`~ingest.sources.rest.columns` and :mod:`~ingest.sources.rest.spill`: declared and
  inferred column types, batches unified to one schema.
- :mod:`~ingest.sources.rest.source`: the :class:`~ingest.sources.base.Source` itself.

This package is imported by the source registry, so it imports nothing heavy at import time;
:mod:`~ingest.sources.rest.kind` loads the rest on first use.
"""
