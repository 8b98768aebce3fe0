"""Semantic rules of xflow's extensions: the `usertask` state (PRODUCT.md §3)."""

from __future__ import annotations

from collections.abc import Iterator

from .flow import Path, as_dict, as_list
from .issues import WARNING, IssueCode, ValidationIssue, issue
from .messages import show
from .semantic import PRODUCED, Index, event_ref


def check_user_tasks(doc: dict, index: Index) -> Iterator[ValidationIssue]:
    """Task keys, outcomes, exits, listeners and timers of every usertask state."""
    task_keys: set[str] = set()
    for position, state in enumerate(as_list(doc.get("states"))):
        if not isinstance(state, dict) or state.get("type") != "usertask":
            continue
        path = ("states", position)
        key = state.get("taskKey")
        if isinstance(key, str):
            if key in task_keys:
                message = f"another user task already uses the taskKey {show(key)}"
                yield issue(path + ("taskKey",), IssueCode.DUPLICATE_NAME, message)
            task_keys.add(key)
        yield from _outcomes(state, path)
        yield from _listeners_and_timers(state, path, index)
        timeouts = as_dict(state.get("timeouts"))
        if "onTaskTimeout" in state and "taskTimeout" not in timeouts:
            message = "onTaskTimeout never happens without 'timeouts.taskTimeout'"
            yield issue(path + ("onTaskTimeout",), IssueCode.NO_TRANSITION, message, WARNING)


def _has_exit(holder: dict) -> bool:
    return "transition" in holder or holder.get("end") not in (None, False)


def _outcomes(state: dict, path: Path) -> Iterator[ValidationIssue]:
    if "transition" in state and "end" in state:
        message = "'end' and 'transition' cannot be used together; keep one"
        yield issue(path, IssueCode.CONFLICT, message)
    default_exit = _has_exit(state) or state.get("usedForCompensation") is True
    outcomes = [o for o in as_list(state.get("outcomes")) if isinstance(o, dict)]
    if not outcomes and not default_exit:
        message = "the user task needs a 'transition' or 'end' (or outcomes that have one)"
        yield issue(path, IssueCode.NO_TRANSITION, message)
    names: set[str] = set()
    for position, outcome in enumerate(as_list(state.get("outcomes"))):
        if not isinstance(outcome, dict):
            continue
        outcome_path = path + ("outcomes", position)
        name = outcome.get("name")
        if isinstance(name, str):
            if name in names:
                message = f"another outcome is already named {show(name)}; outcome names are unique"
                yield issue(outcome_path + ("name",), IssueCode.DUPLICATE_NAME, message)
            names.add(name)
        if "transition" in outcome and "end" in outcome:
            message = "'end' and 'transition' cannot be used together; keep one"
            yield issue(outcome_path, IssueCode.CONFLICT, message)
        if not _has_exit(outcome) and not default_exit:
            message = (
                f"the outcome {show(name)} has no 'transition' or 'end', and the state has no"
                " 'transition' or 'end' to fall back on"
            )
            yield issue(outcome_path, IssueCode.NO_TRANSITION, message)


def _listeners_and_timers(state: dict, path: Path, index: Index) -> Iterator[ValidationIssue]:
    for position, listener in enumerate(as_list(state.get("listeners"))):
        ref_path = path + ("listeners", position, "produceEventRef")
        yield from event_ref(ref_path, as_dict(listener).get("produceEventRef"), PRODUCED, index)
    names: set[str] = set()
    for position, timer in enumerate(as_list(state.get("timers"))):
        if not isinstance(timer, dict):
            continue
        timer_path = path + ("timers", position)
        name = timer.get("name")
        if isinstance(name, str):
            if name in names:
                message = f"another timer is already named {show(name)}; timer names are unique"
                yield issue(timer_path + ("name",), IssueCode.DUPLICATE_NAME, message)
            names.add(name)
        action = timer.get("action")
        if action == "event" and "produceEventRef" not in timer:
            message = "a timer with action 'event' needs 'produceEventRef' (the event to emit)"
            yield issue(timer_path, IssueCode.REQUIRED, message)
        if "produceEventRef" in timer:
            ref_path = timer_path + ("produceEventRef",)
            yield from event_ref(ref_path, timer["produceEventRef"], PRODUCED, index)
        if action == "escalate" and "candidateGroups" not in timer:
            message = "an 'escalate' timer without 'candidateGroups' has nobody to escalate to"
            yield issue(timer_path, IssueCode.REQUIRED, message, WARNING)
        if "max" in timer and "every" not in timer:
            message = "'max' only counts repeats; add 'every' or remove 'max'"
            yield issue(timer_path + ("max",), IssueCode.REQUIRED, message, WARNING)
