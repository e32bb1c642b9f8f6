"""Many pipeline runs from one JSON config, against hosted Orchestra's API or ``orchestra-local serve``.

``config.py`` reads and checks the config (Orchestra's ``run_multiple_pipelines`` shape plus
backfills), ``windows.py`` cuts a date range into windows, ``plan.py`` expands the config into the
ordered list of runs to start, ``state.py`` records them and decides what a resumed batch does,
``worker_kit.orchestra_api`` (``python/worker_kit/``, shared with ``sensors/``) calls the API, ``recover.py`` finds the run behind a start whose answer was lost,
``batch.py`` starts and waits, ``display.py`` shows it, ``cli.py`` is the command line of
``run_multiple_pipelines.py`` at the repo root.
"""
