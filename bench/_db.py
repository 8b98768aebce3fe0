"""A throw-away PostgreSQL database for a benchmark, so the platform's own data is untouched."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def use_throwaway_database(suffix: str) -> str:
    """Point Django at `<name><suffix>` (call before `django.setup()`); the new name."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    db["NAME"] = f"{db['NAME']}{suffix}"
    return db["NAME"]


@contextlib.contextmanager
def throwaway_database() -> Iterator[None]:
    """Create the database named in settings, migrate it, and drop it afterwards."""
    from django.core.management import call_command
    from django.db import connection

    name = connection.settings_dict["NAME"]
    with connection._nodb_cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)
    try:
        yield
    finally:
        connection.close()
        with connection._nodb_cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
