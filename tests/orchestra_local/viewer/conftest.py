"""The API fixtures (an in-process app over a throwaway repository) serve the viewer tests too."""

from tests.orchestra_local.api.conftest import api, write_pipeline  # noqa: F401 - fixtures
