"""Where each state can go next: the edges of a definition, read from the raw dict.

Shared by the semantic checks (unknown targets, reachability) and the diagram, and tolerant of
badly shaped documents: anything of the wrong type is skipped, never raised on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]

# Edge kinds
TRANSITION = "transition"
CONDITION = "condition"
DEFAULT = "default"
ERROR = "error"
OUTCOME = "outcome"
TASK_TIMEOUT = "task_timeout"
TASK_DELETED = "task_deleted"


@dataclass(frozen=True)
class Edge:
    """A way out of a state: to `target` (a state name) or, when `end` is set, out of the flow."""

    kind: str
    path: Path  # where the transition (or end) is written
    target: str | None = None
    label: str | None = None
    end: bool = False
    terminate: bool = False
    compensate: bool = False


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def get_at(value: Any, parts: Path) -> Any:
    """The value at a relative path, or None when the path does not exist."""
    for part in parts:
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and part < len(value) else None
        else:
            value = as_dict(value).get(part)
    return value


def transition_target(value: Any) -> str | None:
    """The state name a `transition` names (string form or `nextState`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("nextState"), str):
        return value["nextState"]
    return None


def _target_path(value: Any, path: Path) -> Path:
    return path + ("nextState",) if isinstance(value, dict) else path


def _exit(holder: dict, path: Path, kind: str, label: str | None) -> Iterator[Edge]:
    """Edges of an object holding `transition` and/or `end` (state, condition, handler)."""
    if "transition" in holder:
        value = holder["transition"]
        target = transition_target(value)
        if target is not None:
            compensate = isinstance(value, dict) and value.get("compensate") is True
            yield Edge(
                kind,
                _target_path(value, path + ("transition",)),
                target,
                label,
                compensate=compensate,
            )
    end = holder.get("end")
    if end is True or isinstance(end, dict):
        end_def = as_dict(end)
        yield Edge(
            kind,
            path + ("end",),
            None,
            label,
            end=True,
            terminate=end_def.get("terminate") is True,
            compensate=end_def.get("compensate") is True,
        )


def state_edges(state: dict, path: Path) -> Iterator[Edge]:
    """Every way out of one state, in the order they are written."""
    kind = state.get("type")
    if kind == "switch":
        for index, cond in enumerate(as_list(state.get("dataConditions"))):
            if isinstance(cond, dict):
                label = cond.get("name") if isinstance(cond.get("name"), str) else None
                label = label or (
                    cond.get("condition") if isinstance(cond.get("condition"), str) else None
                )
                yield from _exit(cond, path + ("dataConditions", index), CONDITION, label)
        for index, cond in enumerate(as_list(state.get("eventConditions"))):
            if isinstance(cond, dict):
                label = cond.get("name") if isinstance(cond.get("name"), str) else None
                label = label or (
                    cond.get("eventRef") if isinstance(cond.get("eventRef"), str) else None
                )
                yield from _exit(cond, path + ("eventConditions", index), CONDITION, label)
        default = state.get("defaultCondition")
        if isinstance(default, dict):
            yield from _exit(default, path + ("defaultCondition",), DEFAULT, "default")
    else:
        yield from _exit(state, path, TRANSITION, None)
    if kind == "usertask":
        for index, outcome in enumerate(as_list(state.get("outcomes"))):
            if isinstance(outcome, dict):
                name = outcome.get("name")
                label = outcome.get("label") if isinstance(outcome.get("label"), str) else None
                label = label or (name if isinstance(name, str) else None)
                yield from _exit(outcome, path + ("outcomes", index), OUTCOME, label)
        for key, edge_kind, label in (
            ("onTaskTimeout", TASK_TIMEOUT, "task timed out"),
            ("onTaskDeleted", TASK_DELETED, "task deleted"),
        ):
            if isinstance(state.get(key), dict):
                yield from _exit(state[key], path + (key,), edge_kind, label)
    for index, handler in enumerate(as_list(state.get("onErrors"))):
        if isinstance(handler, dict):
            yield from _exit(handler, path + ("onErrors", index), ERROR, error_label(handler))


def error_label(handler: dict) -> str:
    if isinstance(handler.get("errorRef"), str):
        return handler["errorRef"]
    refs = [r for r in as_list(handler.get("errorRefs")) if isinstance(r, str)]
    return ", ".join(refs) if refs else "error"


def named_states(doc: dict) -> list[tuple[int, dict, str]]:
    """(index, state, name) for every state that is an object with a string name."""
    return [
        (index, state, state["name"])
        for index, state in enumerate(as_list(doc.get("states")))
        if isinstance(state, dict) and isinstance(state.get("name"), str)
    ]


def start_state(doc: dict) -> str | None:
    """The start state's name: `start` (string or `stateName`), else the first state (0.8)."""
    start = doc.get("start")
    if isinstance(start, str):
        return start
    if isinstance(start, dict):
        name = start.get("stateName")
        return name if isinstance(name, str) else None
    if start is None:
        states = as_list(doc.get("states"))
        if states and isinstance(states[0], dict) and isinstance(states[0].get("name"), str):
            return states[0]["name"]
    return None


def iter_actions(state: dict, path: Path) -> Iterator[tuple[dict, Path]]:
    """The actions of a state, wherever its type keeps them."""
    for index, action in enumerate(as_list(state.get("actions"))):
        if isinstance(action, dict):
            yield action, path + ("actions", index)
    for b_index, branch in enumerate(as_list(state.get("branches"))):
        for index, action in enumerate(as_list(as_dict(branch).get("actions"))):
            if isinstance(action, dict):
                yield action, path + ("branches", b_index, "actions", index)
    for e_index, on_event in enumerate(as_list(state.get("onEvents"))):
        for index, action in enumerate(as_list(as_dict(on_event).get("actions"))):
            if isinstance(action, dict):
                yield action, path + ("onEvents", e_index, "actions", index)
    if isinstance(state.get("action"), dict):
        yield state["action"], path + ("action",)
