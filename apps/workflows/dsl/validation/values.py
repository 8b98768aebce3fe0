"""Checks of values inside the definition: jq expressions, ISO 8601 durations, operations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from apps.core import jqeval

from ..durations import DurationError, is_strict_duration, parse_duration
from ..expressions import FN_REFERENCE, VARIABLES, is_expression, strip_wrapper
from .flow import Path, as_dict, as_list, get_at, iter_actions, state_edges
from .issues import ERROR, WARNING, IssueCode, ValidationIssue, issue
from .messages import keys_phrase, show
from .semantic import Index

# Custom function operations run on the plugin worker that registered their prefix
# (PRODUCT.md §1); the engine's routing table is apps.workflows.engine.contracts.CUSTOM_PREFIXES.
KNOWN_CUSTOM_PREFIXES = frozenset({"query", "xflow"})
# Function types the engine runs; the others are valid 0.8 but would fail when called.
RUNNABLE_FUNCTION_TYPES = ("rest", "graphql", "expression", "custom")

# Keys whose string value is always an expression, written with or without `${ }`.
_ALWAYS_EXPRESSION = {"condition", "inputCollection", "outputCollection", "dataFilter"}
_FILTER_SLOTS = {
    ("stateDataFilter", "input"),
    ("stateDataFilter", "output"),
    ("actionDataFilter", "fromStateData"),
    ("actionDataFilter", "results"),
    ("actionDataFilter", "toStateData"),
    ("eventDataFilter", "data"),
    ("eventDataFilter", "toStateData"),
}
# Compiling costs ~1 ms per distinct expression: bound the work one document can cause.
MAX_EXPRESSIONS = 500
# Places whose content is static data (or prose), never evaluated.
_STATIC_KEYS = {"metadata", "constants", "dataInputSchema", "description", "annotations"}
_VARIABLE_USE = re.compile(r"\$(CONST|SECRETS|ENVS)\.([A-Za-z_][A-Za-z0-9_]*)")
_JQ_NOISE = re.compile(r"\s*\(Unix shell quoting issues\?\)|\s*at <top-level>,? ?")
_JQ_LOCATION = re.compile(r"line (\d+), column (\d+):?$")


def expression_problem(text: str) -> str | None:
    """Why a jq expression does not compile, in plain words (None when it compiles)."""
    # Cached by text; very long texts are not kept so the cache's memory stays small.
    return _cached_problem(text) if len(text) <= 2000 else _compile_problem(text)


@lru_cache(maxsize=4096)
def _cached_problem(text: str) -> str | None:
    return _compile_problem(text)


def _compile_problem(text: str) -> str | None:
    body = strip_wrapper(text)
    if not body:
        return "the expression is empty"
    # `fn:name` is the spec's reference to an expression function, not jq: the reference
    # itself is checked separately, so compile the rest with a neutral stand-in.
    body = FN_REFERENCE.sub("(.)", body)
    try:
        # Compiled bare (not with the engine's prelude) so messages show the author's text;
        # in the evaluator's child, since jq folds constants (`"x" * 1e10`) while compiling.
        problem = jqeval.compile_problem(body, VARIABLES)
    except jqeval.JqLimitExceeded as exc:
        return f"compiling it was stopped: {exc}"
    except Exception as exc:  # noqa: BLE001 - jq must never crash validation
        return str(exc) or "the expression does not compile"
    return _plain_jq_error(problem) if problem else None


def _plain_jq_error(raw: str) -> str:
    first = raw.strip().splitlines()[0] if raw.strip() else "does not compile"
    first = first.removeprefix("jq: error: ").strip()
    where = ""
    location = _JQ_LOCATION.search(first)
    if location:
        first = first[: location.start()]
        line, column = location.groups()
        where = f" (at column {column})" if line == "1" else f" (at line {line}, column {column})"
    first = _JQ_NOISE.sub("", first).strip().rstrip(",")
    variable = re.match(r"^\$(\w+) is not defined", first)
    if variable:
        allowed = keys_phrase(["$" + v for v in VARIABLES])
        return f"it uses ${variable.group(1)}, which is not defined; expressions can read {allowed}"
    return first + where


def check_expressions(doc: dict, index: Index) -> Iterator[ValidationIssue]:
    """Every jq expression compiles and every fn:/$ENVS/$SECRETS/$CONST it uses exists."""
    language = doc.get("expressionLang", "jq")
    if isinstance(language, str) and language.strip().lower() != "jq":
        message = (
            f"xflow evaluates jq expressions only; expressionLang {show(language)} is not supported"
        )
        yield issue(("expressionLang",), IssueCode.EXPRESSION_LANGUAGE, message)
        return
    checker = _ExpressionChecker(doc, index)
    for key, value in doc.items():
        if key in _STATIC_KEYS or key in ("states", "functions"):
            continue
        yield from checker.walk(value, (key,))
    for position, state in enumerate(as_list(doc.get("states"))):
        if not isinstance(state, dict):
            continue
        for key, value in state.items():
            if key in _STATIC_KEYS or (key == "data" and state.get("type") == "inject"):
                continue
            yield from checker.walk(value, ("states", position, key))
    for position, function in enumerate(as_list(doc.get("functions"))):
        function = as_dict(function)
        operation = function.get("operation")
        if function.get("type") == "expression" and isinstance(operation, str):
            yield from checker.check(operation, ("functions", position, "operation"))
    if checker.skipped:
        message = (
            f"only the first {MAX_EXPRESSIONS} different expressions were checked;"
            f" {checker.skipped} more were not"
        )
        yield issue((), IssueCode.LIMIT, message, WARNING)


class _ExpressionChecker:
    def __init__(self, doc: dict, index: Index) -> None:
        self.index = index
        envs = doc.get("envs")
        self.envs = {e for e in as_list(envs) if isinstance(e, str)}
        secrets = doc.get("secrets")
        self.secrets = (
            None
            if isinstance(secrets, str)
            else {s for s in as_list(secrets) if isinstance(s, str)}
        )
        constants = doc.get("constants")
        self.constants = None if isinstance(constants, str) else set(as_dict(constants))
        self.seen: set[str] = set()
        self.skipped = 0

    def walk(self, value: Any, path: Path) -> Iterator[ValidationIssue]:
        stack = [(value, path)]
        while stack:
            current, where = stack.pop()
            # Children are pushed in reverse so issues come out in document order.
            if isinstance(current, dict):
                stack.extend(
                    (v, where + (k,)) for k, v in reversed(current.items()) if k not in _STATIC_KEYS
                )
            elif isinstance(current, list):
                stack.extend((v, where + (i,)) for i, v in reversed(list(enumerate(current))))
            elif isinstance(current, str) and (is_expression(current) or _always(where)):
                yield from self.check(current, where)
            elif isinstance(current, str) and "${" in current:
                yield from self._check_embedded(current, where)

    def _check_embedded(self, text: str, path: Path) -> Iterator[ValidationIssue]:
        """Text with `${ }` parts inside (titles, selection sets) is interpolated part by part."""
        parts = embedded_expressions(text)
        if parts is None:
            message = f"an expression in {show(text)} is not closed: a '}}' is missing"
            yield issue(path, IssueCode.EXPRESSION, message)
            return
        for part in parts:
            found = list(self.check(part, path))
            yield from (
                issue(path, IssueCode(i.code), i.message.replace(show(part), show(text), 1))
                for i in found
            )

    def check(self, text: str, path: Path) -> Iterator[ValidationIssue]:
        if text not in self.seen:
            if len(self.seen) >= MAX_EXPRESSIONS:
                self.skipped += 1
                return
            self.seen.add(text)
        body = strip_wrapper(text)
        refused = jqeval.refused_uses(body)
        for use in refused:
            message = (
                f"the expression {show(text)} uses {use.name}, which is not available in"
                f" expressions: {use.reason}"
            )
            yield issue(path, IssueCode.EXPRESSION_REFUSED, message)
        if refused:
            return
        problem = expression_problem(text)
        if problem:
            message = f"the expression {show(text)} does not compile: {problem}"
            yield issue(path, IssueCode.EXPRESSION, message)
            return
        for name in FN_REFERENCE.findall(body):
            yield from self._function_reference(name, path)
        for scope, name in _VARIABLE_USE.findall(body):
            yield from self._variable(scope, name, path)

    def _function_reference(self, name: str, path: Path) -> Iterator[ValidationIssue]:
        functions = self.index.functions
        if functions is None:
            return
        if name not in functions:
            defined = [n for n, f in functions.items() if as_dict(f).get("type") == "expression"]
            hint = f"; expression functions: {keys_phrase(sorted(defined))}" if defined else ""
            message = f"fn:{name} names no function{hint}"
            yield issue(path, IssueCode.UNKNOWN_FUNCTION, message)
        elif as_dict(functions[name]).get("type") != "expression":
            message = f"fn:{name} must name a function of type 'expression'"
            yield issue(path, IssueCode.FUNCTION_TYPE, message)

    def _variable(self, scope: str, name: str, path: Path) -> Iterator[ValidationIssue]:
        if scope == "ENVS" and name not in self.envs:
            message = f"$ENVS.{name} is not listed in the workflow's 'envs'; add {show(name)} there"
            yield issue(path, IssueCode.UNKNOWN_ENV, message)
        elif scope == "SECRETS" and self.secrets is not None and name not in self.secrets:
            message = f"$SECRETS.{name} is not listed in the workflow's 'secrets'"
            yield issue(path, IssueCode.UNKNOWN_SECRET, message)
        elif scope == "CONST" and self.constants is not None and name not in self.constants:
            message = f"$CONST.{name} is not one of the workflow's 'constants'"
            yield issue(path, IssueCode.UNKNOWN_CONSTANT, message, WARNING)


def embedded_expressions(text: str) -> list[str] | None:
    """The `${ ... }` parts of a larger text, braces matched as the engine does; None if open."""
    found = []
    start = text.find("${")
    while start >= 0:
        depth, end = 0, start + 1
        while end < len(text):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    break
            end += 1
        if depth:
            return None
        found.append(text[start : end + 1])
        start = text.find("${", end + 1)
    return found


def _always(path: Path) -> bool:
    key = path[-1]
    if key in _ALWAYS_EXPRESSION:
        return True
    if key == "data" and len(path) >= 3:
        # Event payloads and continueAs input: "if string type, an expression" (0.8 schema).
        return path[-2] in ("eventRef", "continueAs") or path[-3] == "produceEvents"
    return len(path) >= 2 and (path[-2], key) in _FILTER_SLOTS


# --- durations ---------------------------------------------------------------------------------


def _duration(value: Any, path: Path) -> Iterator[ValidationIssue]:
    if not isinstance(value, str):
        return  # the schema reports wrong types
    try:
        parse_duration(value)
    except DurationError as exc:
        yield issue(path, IssueCode.DURATION, str(exc))
        return
    if not is_strict_duration(value):
        yield issue(
            path,
            IssueCode.DURATION,
            f"'{value}' is not strict ISO 8601 (days and weeks come before the T, as in "
            f"P30D or P2W); it is read as meant, but write it the standard way",
            severity=WARNING,
        )


def _timeouts(timeouts: Any, path: Path) -> Iterator[ValidationIssue]:
    timeouts = as_dict(timeouts)
    for key in ("actionExecTimeout", "branchExecTimeout", "eventTimeout", "taskTimeout"):
        yield from _duration(timeouts.get(key), path + (key,))
    workflow = timeouts.get("workflowExecTimeout")
    if isinstance(workflow, dict):
        yield from _duration(workflow.get("duration"), path + ("workflowExecTimeout", "duration"))
    else:
        yield from _duration(workflow, path + ("workflowExecTimeout",))
    state = timeouts.get("stateExecTimeout")
    if isinstance(state, dict):
        for key in ("single", "total"):
            yield from _duration(state.get(key), path + ("stateExecTimeout", key))
    else:
        yield from _duration(state, path + ("stateExecTimeout",))


def check_durations(doc: dict) -> Iterator[ValidationIssue]:
    """Every ISO 8601 duration parses (timeouts, sleeps, retries, user task timers)."""
    yield from _timeouts(doc.get("timeouts"), ("timeouts",))
    for position, retry in enumerate(as_list(doc.get("retries"))):
        retry = as_dict(retry)
        for key in ("delay", "maxDelay", "increment", "jitter"):
            yield from _duration(retry.get(key), ("retries", position, key))
    for position, state in enumerate(as_list(doc.get("states"))):
        if not isinstance(state, dict):
            continue
        path = ("states", position)
        yield from _timeouts(state.get("timeouts"), path + ("timeouts",))
        if state.get("type") == "sleep":
            yield from _duration(state.get("duration"), path + ("duration",))
        for b_index, branch in enumerate(as_list(state.get("branches"))):
            branch_path = path + ("branches", b_index, "timeouts")
            yield from _timeouts(as_dict(branch).get("timeouts"), branch_path)
        for action, action_path in iter_actions(state, path):
            sleep = as_dict(action.get("sleep"))
            for key in ("before", "after"):
                yield from _duration(sleep.get(key), action_path + ("sleep", key))
            timeout = as_dict(action.get("eventRef")).get("resultEventTimeout")
            yield from _duration(timeout, action_path + ("eventRef", "resultEventTimeout"))
        if state.get("type") == "usertask":
            yield from _task_durations(state, path)
        for edge in state_edges(state, path):
            continue_as = as_dict(get_at(state, edge.path[len(path) :])).get("continueAs")
            if edge.end and isinstance(continue_as, dict):
                yield from _timeouts(
                    {"workflowExecTimeout": continue_as.get("workflowExecTimeout")},
                    edge.path + ("continueAs",),
                )


def _task_durations(state: dict, path: Path) -> Iterator[ValidationIssue]:
    due = state.get("dueDate")
    if isinstance(due, str) and not is_expression(due) and not _is_duration_or_datetime(due):
        message = (
            f"dueDate {show(due)} is not an ISO 8601 duration (PT48H), a date-time"
            " (2026-01-31T17:00:00Z) or an expression"
        )
        yield issue(path + ("dueDate",), IssueCode.DURATION, message)
    for position, timer in enumerate(as_list(state.get("timers"))):
        for key in ("after", "every"):
            yield from _duration(as_dict(timer).get(key), path + ("timers", position, key))


def _is_duration_or_datetime(text: str) -> bool:
    try:
        parse_duration(text)
        return True
    except DurationError:
        pass
    try:
        datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


# --- function operations -----------------------------------------------------------------------

_OPERATION_FORMATS = {
    "rest": (
        2,
        "'<OpenAPI document URI>#<operationId>', e.g. 'https://api.example.com/openapi.json#getPet'",
    ),
    "asyncapi": (2, "'<AsyncAPI document URI>#<operationId>'"),
    "rpc": (3, "'<proto file URI>#<service>#<method>'"),
    "graphql": (3, "'<GraphQL endpoint URL>#query#<field>' or '<URL>#mutation#<field>'"),
    "odata": (2, "'<OData service URI>#<entity set>'"),
}


def check_functions(
    doc: dict, custom_prefixes: frozenset[str] | set[str] = KNOWN_CUSTOM_PREFIXES
) -> Iterator[ValidationIssue]:
    """Each function's operation has the format its type calls for."""
    for position, function in enumerate(as_list(doc.get("functions"))):
        if not isinstance(function, dict):
            continue
        kind = function.get("type", "rest")
        operation = function.get("operation")
        path = ("functions", position, "operation")
        if not isinstance(kind, str):
            continue
        if kind not in RUNNABLE_FUNCTION_TYPES and kind in _OPERATION_FORMATS:
            message = f"xflow cannot call '{kind}' functions; calling this function will fail"
            yield issue(("functions", position, "type"), IssueCode.UNSUPPORTED, message, WARNING)
        if isinstance(operation, dict):
            if kind != "rest":
                message = "only rest functions may give the operation as an inline OpenAPI object"
                yield issue(path, IssueCode.OPERATION, message)
            continue
        if not isinstance(operation, str) or not operation:
            continue
        if kind in _OPERATION_FORMATS:
            yield from _hash_format(kind, operation, path)
        elif kind == "custom":
            yield from _custom(operation, path, custom_prefixes)


def _hash_format(kind: str, operation: str, path: Path) -> Iterator[ValidationIssue]:
    parts_wanted, example = _OPERATION_FORMATS[kind]
    parts = operation.split("#")
    valid = len(parts) == parts_wanted and all(p.strip() for p in parts)
    if valid and kind == "graphql" and parts[1] not in ("query", "mutation"):
        valid = False
    if not valid:
        message = f"a {kind} function's operation is {example}; got {show(operation)}"
        yield issue(path, IssueCode.OPERATION, message)


def _custom(
    operation: str, path: Path, prefixes: frozenset[str] | set[str]
) -> Iterator[ValidationIssue]:
    prefix, sep, name = operation.partition(":")
    known = keys_phrase(sorted(p + ":" for p in prefixes), "or")
    if not sep or not prefix.strip() or not name.strip():
        message = (
            f"a custom function's operation is '<prefix>:<name>' with a prefix such as {known}"
            f" (for example 'xflow:send-email' or 'query:customers'); got {show(operation)}"
        )
        yield issue(path, IssueCode.OPERATION, message, ERROR)
    elif prefix not in prefixes:
        message = (
            f"no worker is known for the custom prefix '{prefix}:' (known: {known});"
            " the call fails unless a plugin worker registers it"
        )
        yield issue(path, IssueCode.CUSTOM_PREFIX, message, WARNING)
