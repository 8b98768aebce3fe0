"""Short builders for test definitions."""

from __future__ import annotations

from typing import Any


def operation(name: str, *actions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An operation state (end by default) — keeps test definitions short."""
    state = {"name": name, "type": "operation", "actions": list(actions)}
    state.update(extra)
    if "transition" not in state and "end" not in state:
        state["end"] = True
    return state


def definition(*states: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A workflow definition around states (the first one starts)."""
    doc = {"id": "test", "version": "1.0", "specVersion": "0.8", "states": list(states)}
    doc.update(extra)
    return doc
