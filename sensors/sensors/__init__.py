"""Custom sensors: wait for a condition, then let the pipeline go on (or start another one).

Run as ``python -m sensors <kind> ...`` from ``sensors/`` (Orchestra: a PYTHON_EXECUTE_SCRIPT task with
``project_dir: sensors``). Kinds: ``files`` (starlake's pre-load strategies over any fsspec URL),
``sql`` (a query against any SQLAlchemy URL), ``http`` (a status code and a JSON-path condition) and
``pipeline`` (the latest run of an Orchestra pipeline). Modules:

- :mod:`sensors.cli`: arguments, the command-line boundary (``worker_kit.cli``), outputs.
- :mod:`sensors.poke`: the poke loop and its deadline.
- :mod:`sensors.state`: what survives a retried task (first poke, trigger intent), atomically.
- :mod:`sensors.files`, :mod:`sensors.sql`, :mod:`sensors.http`, :mod:`sensors.pipeline`: the checks.
- :mod:`sensors.orchestra_api`: the slice of Orchestra's public API the sensors call.
- :mod:`sensors.trigger`: start a pipeline once, even when the sensor task is retried.
"""
