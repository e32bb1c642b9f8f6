"""Analytics over Orchestra run metadata: ``python -m analytics report`` (see ``analytics/README.md``)."""
