"""Masking secret values inside JSON data before anyone sees it (pages, API, logs)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "********"
# Shorter values would mask ordinary words and digits all over the data; a secret this short
# protects nothing anyway.
MIN_LENGTH = 4


def secret_strings(values: Iterable[Any]) -> list[str]:
    """Every string (and number) inside the given secret values, longest first."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, str | int | float):
            text = str(value)
            if len(text) >= MIN_LENGTH:
                found.add(text)

    for value in values:
        walk(value)
    return sorted(found, key=lambda s: (-len(s), s))


class Masker:
    """Replaces the given secret strings wherever they appear in a JSON value."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = list(secrets)
        self._pattern = (
            re.compile("|".join(re.escape(s) for s in self.secrets)) if self.secrets else None
        )

    def text(self, value: str) -> str:
        return self._pattern.sub(MASK, value) if self._pattern else value

    def __call__(self, value: Any) -> Any:
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return MASK if str(value) in self.secrets else value
        return value


def mask_secrets(value: Any, secret_values: Iterable[Any]) -> Any:
    """A copy of `value` with every string of the secret values replaced by MASK."""
    return Masker(secret_strings(secret_values))(value)
