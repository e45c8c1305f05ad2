"""The real app on both backends (the ``api`` fixture of tests/api)."""

from tests.api.conftest import api

__all__ = ["api"]
