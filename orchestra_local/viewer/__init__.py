"""The run viewer of ``orchestra-local serve``: read-only HTML pages at ``/`` (runs, one run's Gantt, task logs).

Server-rendered with Jinja2 (``templates/``), charts with plotly (``gantt.py``); guarded by the
API token like the API (``auth.py``).
"""
