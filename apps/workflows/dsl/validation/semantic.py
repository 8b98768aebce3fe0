"""Semantic checks the schema cannot express: names, references and the shape of the flow."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .flow import (
    Path,
    as_dict,
    as_list,
    get_at,
    iter_actions,
    named_states,
    start_state,
    state_edges,
)
from .issues import ERROR, WARNING, IssueCode, ValidationIssue, issue
from .messages import show, suggest

CONSUMED, PRODUCED = "consumed", "produced"


@dataclass
class Index:
    """Named definitions of a document; a collection is None when it lives at a URI."""

    states: dict[str, dict] = field(default_factory=dict)
    functions: dict[str, dict] | None = None
    events: dict[str, dict] | None = None
    errors: set[str] | None = None
    retries: set[str] | None = None
    auth: set[str] | None = None
    # "Did you mean" costs a difflib scan of every name: a document with thousands of bad
    # references gets suggestions for the first ones only, so validation stays fast.
    suggestions_left: int = 100
    _sorted: dict[int, list[str]] = field(default_factory=dict)

    def unknown(
        self, path: Path, code: IssueCode, what: str, name: Any, known: dict | set | None
    ) -> Iterator[ValidationIssue]:
        """An issue when `name` is not among the `known` names (None: cannot be checked)."""
        if known is None or not isinstance(name, str) or name in known:
            return
        names = self._sorted.get(id(known))
        if names is None:
            names = self._sorted[id(known)] = sorted(known)
        if not names:
            yield issue(
                path, code, f"{show(name)} names no {what}; the workflow defines no {what}s"
            )
            return
        hint = ""
        if self.suggestions_left > 0:
            self.suggestions_left -= 1
            hint = suggest(name, names)
        if not hint:
            listed = ", ".join(show(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
            hint = f"; the defined {what}s are {listed}"
        yield issue(path, code, f"{show(name)} names no {what}{hint}")


def _names(doc: dict, key: str, found: list[ValidationIssue], what: str) -> dict[str, dict] | None:
    value = doc.get(key)
    if isinstance(value, str):
        return None  # defined in an external resource: references cannot be checked here
    named: dict[str, dict] = {}
    for index, item in enumerate(as_list(value)):
        name = as_dict(item).get("name")
        if not isinstance(name, str):
            continue
        if name in named:
            message = f"another {what} is already named {show(name)}; names must be unique"
            found.append(issue((key, index, "name"), IssueCode.DUPLICATE_NAME, message))
        else:
            named[name] = item
    return named


def build_index(doc: dict, found: list[ValidationIssue]) -> Index:
    """Index the definitions, reporting duplicate names on the way."""
    index = Index()
    for position, state, name in named_states(doc):
        if name in index.states:
            message = f"another state is already named {show(name)}; state names must be unique"
            found.append(issue(("states", position, "name"), IssueCode.DUPLICATE_NAME, message))
        else:
            index.states[name] = state
    index.functions = _names(doc, "functions", found, "function")
    index.events = _names(doc, "events", found, "event")
    errors = _names(doc, "errors", found, "error")
    retries = _names(doc, "retries", found, "retry strategy")
    auth = _names(doc, "auth", found, "auth definition")
    index.errors = None if errors is None else set(errors)
    index.retries = None if retries is None else set(retries)
    index.auth = None if auth is None else set(auth)
    secrets = doc.get("secrets")
    seen: set[str] = set()
    for position, secret in enumerate(as_list(secrets)):
        if not isinstance(secret, str):
            continue
        if secret in seen:
            message = f"the secret {show(secret)} is listed twice"
            found.append(issue(("secrets", position), IssueCode.DUPLICATE_NAME, message))
        seen.add(secret)
    return index


def unknown_state(path: Path, name: Any, index: Index) -> Iterator[ValidationIssue]:
    yield from index.unknown(path, IssueCode.UNKNOWN_STATE, "state", name, index.states)


def event_ref(path: Path, name: Any, kind: str, index: Index) -> Iterator[ValidationIssue]:
    if index.events is None or not isinstance(name, str):
        return
    if name not in index.events:
        yield from index.unknown(path, IssueCode.UNKNOWN_EVENT, "event", name, index.events)
        return
    definition = as_dict(index.events[name])
    actual = definition.get("kind", CONSUMED)
    if actual != kind:
        verb = "consume" if kind == CONSUMED else "produce"
        defined = f"kind '{actual}'" if "kind" in definition else "the default kind 'consumed'"
        message = (
            f"the event {show(name)} is defined with {defined}, but this place needs a"
            f" '{kind}' event (the workflow must {verb} it)"
        )
        yield issue(path, IssueCode.EVENT_KIND, message)


def check_references(doc: dict, index: Index) -> Iterator[ValidationIssue]:
    """Every name that points at a state, function, event, error, retry or auth definition."""
    start = doc.get("start")
    if isinstance(start, str):
        yield from unknown_state(("start",), start, index)
    elif isinstance(start, dict):
        yield from unknown_state(("start", "stateName"), start.get("stateName"), index)
    run_before = as_dict(as_dict(as_dict(doc.get("timeouts")).get("workflowExecTimeout")))
    if "runBefore" in run_before:
        path = ("timeouts", "workflowExecTimeout", "runBefore")
        yield from unknown_state(path, run_before["runBefore"], index)
    for position, function in enumerate(as_list(doc.get("functions"))):
        if "authRef" in as_dict(function):
            path = ("functions", position, "authRef")
            yield from index.unknown(
                path, IssueCode.UNKNOWN_AUTH, "auth definition", function["authRef"], index.auth
            )
    for position, state in enumerate(as_list(doc.get("states"))):
        if isinstance(state, dict):
            yield from _state_references(state, ("states", position), index)


def _state_references(state: dict, path: Path, index: Index) -> Iterator[ValidationIssue]:
    for edge in state_edges(state, path):
        if edge.target is not None:
            yield from unknown_state(edge.path, edge.target, index)
    for holder, holder_path in _transitions_and_ends(state, path):
        for position, produced in enumerate(as_list(as_dict(holder).get("produceEvents"))):
            ref_path = holder_path + ("produceEvents", position, "eventRef")
            yield from event_ref(ref_path, as_dict(produced).get("eventRef"), PRODUCED, index)
    for position, handler in enumerate(as_list(state.get("onErrors"))):
        handler = as_dict(handler)
        if "errorRef" in handler:
            yield from index.unknown(
                path + ("onErrors", position, "errorRef"),
                IssueCode.UNKNOWN_ERROR,
                "error",
                handler["errorRef"],
                index.errors,
            )
        for ref_pos, ref in enumerate(as_list(handler.get("errorRefs"))):
            yield from index.unknown(
                path + ("onErrors", position, "errorRefs", ref_pos),
                IssueCode.UNKNOWN_ERROR,
                "error",
                ref,
                index.errors,
            )
    if "compensatedBy" in state:
        yield from unknown_state(path + ("compensatedBy",), state["compensatedBy"], index)
    for position, on_event in enumerate(as_list(state.get("onEvents"))):
        for ref_pos, ref in enumerate(as_list(as_dict(on_event).get("eventRefs"))):
            ref_path = path + ("onEvents", position, "eventRefs", ref_pos)
            yield from event_ref(ref_path, ref, CONSUMED, index)
    for position, cond in enumerate(as_list(state.get("eventConditions"))):
        ref_path = path + ("eventConditions", position, "eventRef")
        yield from event_ref(ref_path, as_dict(cond).get("eventRef"), CONSUMED, index)
    if state.get("type") == "callback" and "eventRef" in state:
        yield from event_ref(path + ("eventRef",), state["eventRef"], CONSUMED, index)
    for action, action_path in iter_actions(state, path):
        yield from _action_references(action, action_path, index)


def _transitions_and_ends(state: dict, path: Path) -> Iterator[tuple[Any, Path]]:
    """The transition objects and end objects of a state (they may produce events)."""
    for edge in state_edges(state, path):
        relative = edge.path[len(path) :]
        if edge.end:
            yield get_at(state, relative), edge.path
        elif edge.path[-1] == "nextState":
            yield get_at(state, relative[:-1]), edge.path[:-1]


def _action_references(action: dict, path: Path, index: Index) -> Iterator[ValidationIssue]:
    ref = action.get("functionRef")
    name = ref if isinstance(ref, str) else as_dict(ref).get("refName")
    ref_path = path + (("functionRef",) if isinstance(ref, str) else ("functionRef", "refName"))
    if ref is not None:
        yield from index.unknown(
            ref_path, IssueCode.UNKNOWN_FUNCTION, "function", name, index.functions
        )
        function = as_dict((index.functions or {}).get(name)) if isinstance(name, str) else {}
        if function.get("type") == "graphql":
            for key in ("arguments", "selectionSet"):
                if key not in as_dict(ref):
                    message = f"a graphql function call needs '{key}' in its functionRef"
                    yield issue(path + ("functionRef",), IssueCode.REQUIRED, message)
    event_call = action.get("eventRef")
    if isinstance(event_call, dict):
        yield from event_ref(
            path + ("eventRef", "triggerEventRef"),
            event_call.get("triggerEventRef"),
            PRODUCED,
            index,
        )
        yield from event_ref(
            path + ("eventRef", "resultEventRef"), event_call.get("resultEventRef"), CONSUMED, index
        )
    if "retryRef" in action:
        yield from index.unknown(
            path + ("retryRef",),
            IssueCode.UNKNOWN_RETRY,
            "retry strategy",
            action["retryRef"],
            index.retries,
        )
    for key in ("retryableErrors", "nonRetryableErrors"):
        for position, name in enumerate(as_list(action.get(key))):
            yield from index.unknown(
                path + (key, position), IssueCode.UNKNOWN_ERROR, "error", name, index.errors
            )


# --- control flow ------------------------------------------------------------------------------


def check_flow(doc: dict, index: Index) -> Iterator[ValidationIssue]:
    """Reachability, compensation rules, dead ends and parallel completion."""
    positions = {name: position for position, _state, name in reversed(named_states(doc))}
    roots = _main_roots(doc, index)
    main = _reachable(doc, index, roots)
    compensators = {
        state["compensatedBy"]
        for state in index.states.values()
        if isinstance(state.get("compensatedBy"), str) and state["compensatedBy"] in index.states
    }
    compensation = _reachable(doc, index, compensators)
    for name, state in index.states.items():
        path = ("states", positions[name])
        used = state.get("usedForCompensation") is True
        if name in main and used:
            message = (
                f"the state {show(name)} is marked usedForCompensation, so it must not be"
                " reachable from the start state (normal transitions must not lead to it)"
            )
            yield issue(path, IssueCode.COMPENSATION, message)
        if name in compensation:
            yield from _compensation_rules(name, state, path, index)
        # Unreachable states are a warning: the 0.8 spec does not forbid them and such a
        # definition runs correctly; they are almost always a typo in a transition though.
        # (Without a known start state every state would be "unreachable": the unknown start
        # is reported instead.)
        if roots and name not in main and name not in compensation:
            message = (
                f"the state {show(name)} is never reached: no transition, condition or error"
                " handler leads to it from the start state"
            )
            if used:
                message = f"the compensation state {show(name)} is not used by any 'compensatedBy'"
            yield issue(path, IssueCode.UNREACHABLE_STATE, message, WARNING)
        yield from _dead_end(state, path)
        yield from _completion(state, path)


def _main_roots(doc: dict, index: Index) -> set[str]:
    roots = set()
    start = start_state(doc)
    if start in index.states:
        roots.add(start)
    run_before = as_dict(as_dict(doc.get("timeouts")).get("workflowExecTimeout")).get("runBefore")
    if isinstance(run_before, str) and run_before in index.states:
        roots.add(run_before)
    return roots


def _reachable(doc: dict, index: Index, roots: set[str]) -> set[str]:
    seen = set(roots)
    queue = deque(roots)
    while queue:
        state = index.states[queue.popleft()]
        for edge in state_edges(state, ()):
            if edge.target in index.states and edge.target not in seen:
                seen.add(edge.target)
                queue.append(edge.target)
    return seen


def _compensation_rules(
    name: str, state: dict, path: Path, index: Index
) -> Iterator[ValidationIssue]:
    # Spec 0.8 "Defining Compensation": compensation states (and the states they lead to)
    # must be marked usedForCompensation, cannot be event states, are not compensated
    # themselves and only lead to other compensation states.
    if state.get("usedForCompensation") is not True:
        message = (
            f"the state {show(name)} compensates another state, so it must set"
            " 'usedForCompensation: true'"
        )
        yield issue(path, IssueCode.COMPENSATION, message)
    if state.get("type") == "event":
        message = f"the compensation state {show(name)} cannot be an event state"
        yield issue(path + ("type",), IssueCode.COMPENSATION, message)
    if "compensatedBy" in state:
        message = (
            "a compensation state cannot itself be compensated (compensation is not recursive)"
        )
        yield issue(path + ("compensatedBy",), IssueCode.COMPENSATION, message)
    if state.get("end") not in (None, False):
        message = "a compensation state's 'end' is ignored: compensation returns when it finishes"
        yield issue(path + ("end",), IssueCode.COMPENSATION, message, WARNING)
    for edge in state_edges(state, path):
        target = edge.target
        if target in index.states and index.states[target].get("usedForCompensation") is not True:
            message = (
                f"a compensation state may only lead to other compensation states;"
                f" {show(target)} does not set 'usedForCompensation: true'"
            )
            yield issue(edge.path, IssueCode.COMPENSATION, message)


def _dead_end(state: dict, path: Path) -> Iterator[ValidationIssue]:
    if state.get("usedForCompensation") is True or state.get("type") in ("switch", "usertask"):
        return
    if state.get("end") is False and "transition" not in state:
        message = "the state has 'end: false' and no 'transition', so the flow stops nowhere"
        yield issue(path + ("end",), IssueCode.NO_TRANSITION, message)


def _completion(state: dict, path: Path) -> Iterator[ValidationIssue]:
    if state.get("type") != "parallel" or state.get("completionType") != "atLeast":
        return
    wanted = state.get("numCompleted")
    if wanted is None:
        message = "completionType 'atLeast' needs 'numCompleted' (how many branches must finish)"
        yield issue(path, IssueCode.NUM_COMPLETED, message)
        return
    if isinstance(wanted, str):
        try:
            wanted = int(wanted.strip())
        except ValueError:
            message = f"numCompleted {show(wanted)} is not a whole number"
            yield issue(path + ("numCompleted",), IssueCode.NUM_COMPLETED, message)
            return
    branches = len(as_list(state.get("branches")))
    if isinstance(wanted, int | float) and not isinstance(wanted, bool) and wanted > branches:
        message = f"numCompleted is {wanted} but the state has only {branches} branches"
        yield issue(path + ("numCompleted",), IssueCode.NUM_COMPLETED, message, ERROR)
