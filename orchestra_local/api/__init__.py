"""The Orchestra-compatible API (``orchestra-local serve``): FastAPI app, one router per resource."""
