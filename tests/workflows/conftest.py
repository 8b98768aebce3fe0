"""End-to-end tests of instances through the API run on the production worker; its fixture
(`engine_worker`), `wait_for_instance` and the cleanup after each test live in tests/conftest.py
so a whole session shares one worker."""

from tests.conftest import wait_for_instance

__all__ = ["wait_for_instance"]
