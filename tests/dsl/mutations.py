"""Small edits of a valid definition, for the one-broken-definition-per-check corpora."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apps.workflows.dsl.validation import validate


def _set(path: list, value: Any) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(path: list) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _add_state(state: dict) -> Callable[[dict], None]:
    return lambda doc: doc["states"].append(state)


def _both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        for mutation in mutations:
            mutation(doc)

    return mutate


def _check(doc, mutate, path, code, fragment, severity):
    # given the valid definition with one mistake
    mutate(doc)
    # when it is validated
    issues = validate(doc)
    # then that mistake is reported where it is, with its code and a readable message
    matching = [i for i in issues if (i.path, i.code) == (path, code)]
    assert matching, f"expected {code} at {path!r}, got {issues}"
    assert any(fragment in i.message for i in matching), matching
    assert all(i.severity == severity for i in matching)
    return issues
