"""Typed, immutable model of a Serverless Workflow 0.8 definition (plus xflow's extensions).

Pure module: imported by the validator, the API and inside the Temporal workflow sandbox
(passed through), so no Django and no I/O. `parse_workflow` accepts every shorthand the spec
allows (string `start`/`transition`/`functionRef`/`subFlowRef`/`continueAs`, `end: true`...)
and trusts that the document was validated; it only raises `ModelError` on shapes it cannot
read at all. Parsed workflows are cached by content hash.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

JSON = Any


class ModelError(ValueError):
    """A definition the model cannot read (the validator reports these better)."""


# ---------------------------------------------------------------- small building blocks


@dataclass(frozen=True, kw_only=True)
class ProducedEvent:
    event_ref: str
    data: JSON = None  # expression text or a custom object
    context_attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Transition:
    next_state: str
    compensate: bool = False
    produce_events: tuple[ProducedEvent, ...] = ()


@dataclass(frozen=True, kw_only=True)
class WorkflowExecTimeout:
    duration: str
    interrupt: bool = False
    run_before: str | None = None


@dataclass(frozen=True, kw_only=True)
class ContinueAs:
    workflow_id: str
    version: str | None = None
    data: JSON = None
    workflow_exec_timeout: WorkflowExecTimeout | None = None


@dataclass(frozen=True, kw_only=True)
class End:
    terminate: bool = False
    produce_events: tuple[ProducedEvent, ...] = ()
    compensate: bool = False
    continue_as: ContinueAs | None = None


@dataclass(frozen=True, kw_only=True)
class StateExecTimeout:
    total: str | None = None
    single: str | None = None


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    workflow_exec_timeout: WorkflowExecTimeout | None = None
    state_exec_timeout: StateExecTimeout | None = None
    action_exec_timeout: str | None = None
    branch_exec_timeout: str | None = None
    event_timeout: str | None = None
    task_timeout: str | None = None  # usertask extension


@dataclass(frozen=True, kw_only=True)
class StateDataFilter:
    input: str | None = None
    output: str | None = None


@dataclass(frozen=True, kw_only=True)
class ActionDataFilter:
    from_state_data: str | None = None
    use_results: bool = True
    results: str | None = None
    to_state_data: str | None = None


@dataclass(frozen=True, kw_only=True)
class EventDataFilter:
    use_data: bool = True
    data: str | None = None
    to_state_data: str | None = None


# ---------------------------------------------------------------- top-level definitions


@dataclass(frozen=True, kw_only=True)
class FunctionDef:
    name: str
    operation: str | dict[str, Any] = ""  # xflow also accepts an inline OpenAPI path object
    type: str = "rest"  # rest|asyncapi|rpc|graphql|odata|expression|custom
    auth_ref: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Correlation:
    context_attribute_name: str
    context_attribute_value: str | None = None


@dataclass(frozen=True, kw_only=True)
class EventDef:
    name: str
    type: str = ""
    source: str | None = None
    kind: str = "consumed"
    correlation: tuple[Correlation, ...] = ()
    data_only: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ErrorDef:
    name: str
    code: str | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class RetryDef:
    name: str
    delay: str | None = None
    max_attempts: int | None = None  # None: unlimited
    max_delay: str | None = None
    increment: str | None = None
    multiplier: float | None = None
    jitter: float | str | None = None  # fraction of the delay, or an ISO duration


@dataclass(frozen=True, kw_only=True)
class AuthDef:
    name: str
    scheme: str = "basic"
    properties: JSON = None  # object, or an expression string referencing a secret
    raw: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, kw_only=True)
class FunctionRef:
    ref_name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    selection_set: str | None = None
    invoke: str = "sync"


@dataclass(frozen=True, kw_only=True)
class EventRef:
    trigger_event_ref: str
    result_event_ref: str | None = None
    result_event_timeout: str | None = None
    data: JSON = None
    context_attributes: dict[str, Any] = field(default_factory=dict)
    invoke: str = "sync"


@dataclass(frozen=True, kw_only=True)
class SubFlowRef:
    workflow_id: str
    version: str | None = None
    invoke: str = "sync"
    on_parent_complete: str = "terminate"


@dataclass(frozen=True, kw_only=True)
class Action:
    id: str | None = None
    name: str | None = None
    function_ref: FunctionRef | None = None
    event_ref: EventRef | None = None
    sub_flow_ref: SubFlowRef | None = None
    retry_ref: str | None = None
    non_retryable_errors: tuple[str, ...] = ()
    retryable_errors: tuple[str, ...] | None = None  # None: not given
    action_data_filter: ActionDataFilter = field(default_factory=ActionDataFilter)
    sleep_before: str | None = None
    sleep_after: str | None = None
    condition: str | None = None

    @property
    def label(self) -> str:
        """A name for timelines and errors."""
        if self.name:
            return self.name
        if self.function_ref:
            return self.function_ref.ref_name
        if self.event_ref:
            return self.event_ref.trigger_event_ref
        if self.sub_flow_ref:
            return self.sub_flow_ref.workflow_id
        return "action"


# ---------------------------------------------------------------- states


@dataclass(frozen=True, kw_only=True)
class ErrorHandler:
    """One `onErrors` entry."""

    error_refs: tuple[str, ...]
    transition: Transition | None = None
    end: End | None = None


@dataclass(frozen=True, kw_only=True)
class State:
    name: str
    type: str
    id: str | None = None
    state_data_filter: StateDataFilter = field(default_factory=StateDataFilter)
    transition: Transition | None = None
    end: End | None = None
    on_errors: tuple[ErrorHandler, ...] = ()
    timeouts: Timeouts | None = None
    compensated_by: str | None = None
    used_for_compensation: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class OnEvents:
    event_refs: tuple[str, ...]
    action_mode: str = "sequential"
    actions: tuple[Action, ...] = ()
    event_data_filter: EventDataFilter = field(default_factory=EventDataFilter)


@dataclass(frozen=True, kw_only=True)
class EventState(State):
    exclusive: bool = True
    on_events: tuple[OnEvents, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OperationState(State):
    action_mode: str = "sequential"
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DataCondition:
    condition: str
    name: str | None = None
    transition: Transition | None = None
    end: End | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EventCondition:
    event_ref: str
    name: str | None = None
    transition: Transition | None = None
    end: End | None = None
    event_data_filter: EventDataFilter = field(default_factory=EventDataFilter)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DefaultCondition:
    transition: Transition | None = None
    end: End | None = None


@dataclass(frozen=True, kw_only=True)
class SwitchState(State):
    data_conditions: tuple[DataCondition, ...] = ()
    event_conditions: tuple[EventCondition, ...] = ()
    default_condition: DefaultCondition = field(default_factory=DefaultCondition)


@dataclass(frozen=True, kw_only=True)
class SleepState(State):
    duration: str = "PT0S"


@dataclass(frozen=True, kw_only=True)
class Branch:
    name: str
    actions: tuple[Action, ...] = ()
    timeouts: Timeouts | None = None


@dataclass(frozen=True, kw_only=True)
class ParallelState(State):
    branches: tuple[Branch, ...] = ()
    completion_type: str = "allOf"
    num_completed: int | None = None


@dataclass(frozen=True, kw_only=True)
class InjectState(State):
    data: JSON = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ForEachState(State):
    input_collection: str = ""
    output_collection: str | None = None
    iteration_param: str | None = None
    batch_size: int | None = None
    mode: str = "parallel"
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CallbackState(State):
    action: Action | None = None
    event_ref: str = ""
    event_data_filter: EventDataFilter = field(default_factory=EventDataFilter)


@dataclass(frozen=True, kw_only=True)
class TaskOutcome:
    name: str
    label: str | None = None
    data_filter: str | None = None
    transition: Transition | None = None
    end: End | None = None


@dataclass(frozen=True, kw_only=True)
class TaskTimer:
    name: str
    after: str | None = None
    every: str | None = None
    max: int | None = None
    action: str = "remind"  # remind|escalate|event
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TaskListener:
    on: tuple[str, ...]
    produce_event_ref: str | None = None


@dataclass(frozen=True, kw_only=True)
class UserTaskState(State):
    """xflow's `usertask` extension (PRODUCT.md §3)."""

    task_key: str = ""
    title: JSON = None
    form_key: str | None = None
    assignee: JSON = None
    candidate_users: tuple[Any, ...] = ()
    candidate_groups: tuple[Any, ...] = ()
    priority: JSON = 50
    due_date: JSON = None
    data_filter: str | None = None
    outcomes: tuple[TaskOutcome, ...] = ()
    listeners: tuple[TaskListener, ...] = ()
    timers: tuple[TaskTimer, ...] = ()
    on_task_timeout: DefaultCondition | None = None
    on_task_deleted: DefaultCondition | None = None
    raw: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- the workflow


@dataclass(frozen=True, kw_only=True)
class Start:
    state_name: str
    schedule: JSON = None


@dataclass(frozen=True, kw_only=True)
class Workflow:
    id: str | None
    key: str | None = None
    name: str | None = None
    description: str | None = None
    version: str | None = None
    spec_version: str = "0.8"
    annotations: tuple[str, ...] = ()
    data_input_schema: JSON = None
    start: Start | None = None
    expression_lang: str = "jq"
    timeouts: Timeouts | None = None
    errors: tuple[ErrorDef, ...] = ()
    keep_active: bool = False
    auth: tuple[AuthDef, ...] = ()
    events: tuple[EventDef, ...] = ()
    functions: tuple[FunctionDef, ...] = ()
    auto_retries: bool = False
    retries: tuple[RetryDef, ...] = ()
    states: tuple[State, ...] = ()
    constants: dict[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    envs: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    # Lookups, built by parse_workflow.
    states_by_name: dict[str, State] = field(default_factory=dict, repr=False)
    functions_by_name: dict[str, FunctionDef] = field(default_factory=dict, repr=False)
    events_by_name: dict[str, EventDef] = field(default_factory=dict, repr=False)
    errors_by_name: dict[str, ErrorDef] = field(default_factory=dict, repr=False)
    retries_by_name: dict[str, RetryDef] = field(default_factory=dict, repr=False)
    auth_by_name: dict[str, AuthDef] = field(default_factory=dict, repr=False)
    # `fn:` targets: (name, operation) of every `expression` function, hashable for caches.
    expression_functions: tuple[tuple[str, str], ...] = ()

    @property
    def identifier(self) -> str:
        return self.id or self.key or ""

    @property
    def start_state(self) -> str:
        """The start state name; without `start`, the first state (spec: Start Definition)."""
        if self.start is not None:
            return self.start.state_name
        if not self.states:
            raise ModelError("the workflow has no states")
        return self.states[0].name

    def state(self, name: str) -> State:
        try:
            return self.states_by_name[name]
        except KeyError:
            raise ModelError(f"there is no state named '{name}'") from None


def content_hash(doc: dict[str, Any]) -> str:
    """A stable hash of a definition document (key order does not matter)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


_CACHE: OrderedDict[str, Workflow] = OrderedDict()
_CACHE_SIZE = 256
# Temporal runs workflow activations on several threads: the LRU bookkeeping needs a lock.
_CACHE_LOCK = threading.Lock()


def parse_workflow(doc: dict[str, Any]) -> Workflow:
    """Parse a (validated) definition document; cached by content hash."""
    digest = content_hash(doc)
    with _CACHE_LOCK:
        cached = _CACHE.get(digest)
        if cached is not None:
            _CACHE.move_to_end(digest)
            return cached
    workflow = build_workflow(doc, digest)
    with _CACHE_LOCK:
        _CACHE[digest] = workflow
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return workflow


# At the end: the parser builds the classes above (and imports them from this module).
from apps.workflows.dsl.parsing import (  # noqa: E402
    STATE_TYPES,
    build_workflow,
    parse_action,
    parse_end,
    parse_state,
    parse_timeouts,
    parse_transition,
)

__all__ = [
    "STATE_TYPES",
    "parse_action",
    "parse_end",
    "parse_state",
    "parse_timeouts",
    "parse_transition",
    "parse_workflow",
]
