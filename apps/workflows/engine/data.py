"""State data: filters and the spec's merge rules (0.8 "Workflow Data", "Data Merging").

Pure module (passed through the sandbox). Every function returns new values and never
mutates its arguments: the interpreter keeps the previous state data for queries and errors.
"""

from __future__ import annotations

import copy
from typing import Any

from apps.workflows.dsl.expressions import (
    ExpressionError,
    ExpressionLimit,
    evaluate,
    evaluate_path,
    interpolate,
    is_expression,
)
from apps.workflows.dsl.model import ActionDataFilter, EventDataFilter, EventDef, StateDataFilter
from apps.workflows.engine.errors import EXPRESSION_ERROR, EXPRESSION_LIMIT, WorkflowError

FunctionTable = tuple[tuple[str, str], ...]


class Evaluator:
    """Evaluates expressions with the instance's $CONST/$SECRETS/$ENVS and fn: functions."""

    def __init__(self, variables: dict[str, Any], functions: FunctionTable = ()) -> None:
        self.variables = variables
        self.functions = functions

    def __call__(self, text: str, data: Any) -> Any:
        try:
            return evaluate(text, data, self.variables, self.functions)
        except ExpressionError as exc:
            raise _failure(text, exc) from None

    def path(self, text: str, data: Any) -> list[Any]:
        try:
            return evaluate_path(text, data, self.variables, self.functions)
        except ExpressionError as exc:
            raise _failure(text, exc) from None

    def interpolate(self, text: str, data: Any) -> str:
        """Replace each `${ }` embedded in a longer text (e.g. a GraphQL selection set)."""
        try:
            return interpolate(text, data, self.variables, self.functions)
        except ExpressionError as exc:
            raise _failure(text, exc) from None

    def resolve(self, value: Any, data: Any) -> Any:
        """Evaluate `${ }` strings inside objects/arrays; other values stay literal."""
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("${") and stripped.endswith("}"):
                return self(value, data)
            return value
        if isinstance(value, dict):
            return {k: self.resolve(v, data) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, data) for v in value]
        return value

    def template(self, value: Any, data: Any) -> Any:
        """Like resolve, and `${ }` embedded in a longer text is replaced by its value."""
        if isinstance(value, str) and "${" in value and not is_expression(value):
            return self.interpolate(value, data)
        if isinstance(value, list):
            return [self.template(v, data) for v in value]
        return self.resolve(value, data)

    def payload(self, spec: Any, data: Any) -> Any:
        """An event/continueAs `data`: a string is an expression over data, an object a template."""
        if spec is None:
            return copy.deepcopy(data)
        if isinstance(spec, str):
            return self(spec, data)
        return self.resolve(spec, data)


def _failure(text: str, exc: ExpressionError) -> WorkflowError:
    """ExpressionError, or expression_limit when the evaluator stopped the expression."""
    code = EXPRESSION_LIMIT if isinstance(exc, ExpressionLimit) else EXPRESSION_ERROR
    return WorkflowError(code, f"{text.strip()}: {exc}")


def merge(target: Any, source: Any) -> Any:
    """Merge source (event payload / action result) into target (state data element).

    Spec rules: objects merge key by key, recursively, the source winning on conflicts;
    arrays concatenate keeping the unique elements of both; numbers, strings and booleans
    are overwritten. Values of different types cannot merge: the source replaces the target.
    """
    if isinstance(target, dict) and isinstance(source, dict):
        out = dict(target)
        for key, value in source.items():
            out[key] = merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    if isinstance(target, list) and isinstance(source, list):
        out_list = list(target)
        for item in source:
            if item not in out_list:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(source)


def get_path(data: Any, path: list[Any]) -> Any:
    node = data
    for key in path:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def set_path(data: Any, path: list[Any], value: Any) -> Any:
    """A copy of data with value at path, creating missing objects on the way."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(key, int):
        items = list(data) if isinstance(data, list) else []
        while len(items) <= key:
            items.append(None)
        items[key] = set_path(items[key], rest, value)
        return items
    out = dict(data) if isinstance(data, dict) else {}
    out[key] = set_path(out.get(key), rest, value)
    return out


def merge_into(ev: Evaluator, data: Any, value: Any, to_state_data: str | None) -> Any:
    """Merge value into the data element `toStateData` selects (created when missing)."""
    if not to_state_data:
        return merge(data, value)
    path = ev.path(to_state_data, data)
    current = get_path(data, path)
    return set_path(data, path, value if current is None else merge(current, value))


def state_input(ev: Evaluator, flt: StateDataFilter, data: Any) -> Any:
    """Apply stateDataFilter.input; a filter selecting nothing leaves the data unfiltered."""
    if not flt.input:
        return data
    selected = ev(flt.input, data)
    return data if selected is None else selected


def state_output(ev: Evaluator, flt: StateDataFilter, data: Any) -> Any:
    """Apply stateDataFilter.output; a filter selecting nothing leaves the data unfiltered."""
    if not flt.output:
        return data
    selected = ev(flt.output, data)
    return data if selected is None else selected


def action_input(ev: Evaluator, flt: ActionDataFilter, data: Any) -> Any:
    """The data an action's arguments see (actionDataFilter.fromStateData)."""
    if not flt.from_state_data:
        return data
    return ev(flt.from_state_data, data)


def filter_results(ev: Evaluator, flt: ActionDataFilter, result: Any) -> Any:
    """The part of an action result to merge (actionDataFilter.results)."""
    if result is None or not flt.results:
        return result
    return ev(flt.results, result)


def apply_action_results(ev: Evaluator, flt: ActionDataFilter, data: Any, result: Any) -> Any:
    """Merge an action result into the state data (results + toStateData, unless useResults)."""
    if not flt.use_results:
        return data
    selected = filter_results(ev, flt, result)
    if selected is None:
        return data
    return merge_into(ev, data, selected, flt.to_state_data)


def event_payload(event_def: EventDef | None, event: dict[str, Any]) -> Any:
    """What filters see of a consumed CloudEvent: its data, or all of it when dataOnly=false."""
    if event_def is not None and not event_def.data_only:
        return event
    return event.get("data")


def apply_event_data(
    ev: Evaluator,
    flt: EventDataFilter,
    data: Any,
    event_def: EventDef | None,
    event: dict[str, Any],
) -> Any:
    """Merge a consumed event into the state data (eventDataFilter data/toStateData/useData).

    Spec: without a filter "its entire data section (payload)" merges; `dataOnly: false`
    makes the context attributes visible to the `data` filter expression.
    """
    if not flt.use_data:
        return data
    if flt.data:
        payload = event_payload(event_def, event)
        payload = None if payload is None else ev(flt.data, payload)
    else:
        payload = event.get("data")
    if payload is None:
        return data
    return merge_into(ev, data, payload, flt.to_state_data)
