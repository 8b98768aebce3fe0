"""Property test: mutated spec examples never crash the validator, and its structural verdict
is the official 0.8 schema's verdict whenever the document uses none of xflow's extensions."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.workflows.dsl.diagram import _build
from apps.workflows.dsl.validation import (
    ValidationIssue,
    check_structure,
    is_official_valid,
    validate,
)
from tests.shared import EXAMPLES, needs_examples

DOCUMENTS = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=200),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=12),
    st.sampled_from(["end", "transition", "PT1H", "${ .a }", "${ .a | }", "fn:x", "usertask"]),
    st.sampled_from(["switch", "sleep", "operation", "event", "inject", "foreach", "parallel"]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=8), scalars, max_size=3),
)


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of the document, depth first."""
    found: list[tuple[Any, Any]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        items = current.items() if isinstance(current, dict) else enumerate(current)
        for key, value in list(items):
            found.append((current, key))
            if isinstance(value, dict | list):
                stack.append(value)
    return found


def _names(doc: dict) -> list[str]:
    return [
        value
        for container, key in _slots(doc)
        if isinstance(value := container[key], str) and len(value) < 40
    ]


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict:
    doc = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        slots = _slots(doc)
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        operation = draw(st.sampled_from(["drop", "retype", "rename", "swap-name"]))
        if operation == "drop":
            del container[key]
        elif operation == "retype":
            container[key] = draw(values)
        elif operation == "rename" and isinstance(container[key], str):
            container[key] = container[key] + draw(st.sampled_from(["x", "", " ", "2"]))
        elif operation == "swap-name" and isinstance(container[key], str):
            container[key] = draw(st.sampled_from(_names(doc) or ["x"]))
    return doc


def _uses_extensions(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    states = doc.get("states") if isinstance(doc.get("states"), list) else []
    functions = doc.get("functions") if isinstance(doc.get("functions"), list) else []
    return (
        "envs" in doc
        or any(isinstance(s, dict) and s.get("type") == "usertask" for s in states)
        or any(isinstance(f, dict) and isinstance(f.get("operation"), dict) for f in functions)
    )


@needs_examples
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_validator_never_raises_and_agrees_with_the_official_schema(doc):
    # when a mutated example is validated
    issues = validate(doc)
    # then the validator answers with issues, never an exception or an internal error
    assert all(isinstance(i, ValidationIssue) for i in issues)
    assert not [i for i in issues if i.code == "internal"]
    # and its structural verdict is the official schema's verdict
    if not _uses_extensions(doc):
        assert (check_structure(doc) == []) == is_official_valid(doc)
    # and the diagram can still be laid out from what is there
    assert _build(doc, set(), set(), set()).source


VOCABULARY = [
    "id",
    "specVersion",
    "start",
    "states",
    "functions",
    "events",
    "errors",
    "retries",
    "auth",
    "name",
    "type",
    "transition",
    "end",
    "actions",
    "functionRef",
    "refName",
    "eventRef",
    "dataConditions",
    "eventConditions",
    "defaultCondition",
    "condition",
    "onErrors",
    "errorRef",
    "compensatedBy",
    "usedForCompensation",
    "timeouts",
    "duration",
    "outcomes",
    "timers",
    "listeners",
    "on",
    "taskKey",
    "branches",
    "completionType",
    "numCompleted",
    "operation",
    "kind",
    "envs",
    "secrets",
    "constants",
    "nextState",
    "produceEvents",
]
json_values = st.recursive(
    st.one_of(scalars, st.sampled_from(VOCABULARY)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(VOCABULARY), children, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(VOCABULARY), json_values, max_size=8))
def test_arbitrary_documents_never_crash_the_validator(doc):
    issues = validate(doc)
    assert not [i for i in issues if i.code == "internal"]
    if not _uses_extensions(doc):
        assert (check_structure(doc) == []) == is_official_valid(doc)
