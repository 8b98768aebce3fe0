"""The contract between the interpreter workflow and the activities it calls.

This module is imported inside the Temporal workflow sandbox: keep it free of Django,
I/O and side effects. Everything crossing the workflow/activity boundary is a small
JSON-serialisable dataclass defined here, so the interpreter, the activity
implementations and the Django services agree on one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Task queues. A worker serves all of them in development (`run_worker`) or one each.
QUEUE_ENGINE = "xflow-engine"  # the interpreter workflow, engine activities, xflow: built-ins
QUEUE_TASKS = "xflow-tasks"  # user task activities (apps.tasks)
QUEUE_FORMS = "xflow-forms"  # query: activities (apps.forms)
ALL_QUEUES = (QUEUE_ENGINE, QUEUE_TASKS, QUEUE_FORMS)

# The one generic workflow type that interprets any definition.
INTERPRETER_WORKFLOW = "xflow.Interpreter"
# Runs one `invoke: async` function call apart from its instance (which does not wait).
ASYNC_CALL_WORKFLOW = "xflow.AsyncCall"

# Temporal workflow ids of instances: prefix + the Postgres instance id.
WORKFLOW_ID_PREFIX = "xflow-"


def workflow_id_for(instance_id: str) -> str:
    """The Temporal workflow id of an instance (children and continue-as-new keep this rule)."""
    return WORKFLOW_ID_PREFIX + instance_id


# Activity names (the interpreter calls them by name; implementations register under them).
ACT_CALL_FUNCTION = "xflow.call_function"  # rest / graphql / custom xflow: built-ins
ACT_RUN_QUERY = "xflow.run_query"  # custom `query:<key>` (forms app, QUEUE_FORMS)
ACT_EMIT_EVENT = "xflow.emit_event"  # write a CloudEvent to the outbox
ACT_REGISTER_WAIT = "xflow.register_wait"  # instance waits for events (subscription rows)
ACT_CLEAR_WAIT = "xflow.clear_wait"
ACT_RESOLVE_SUBFLOW = "xflow.resolve_subflow"  # definition for a child + its instance row
# Mirror: status/current states/output/timeline. Called as a LOCAL activity (cheap on the hot
# path): register it on every worker that runs the interpreter (QUEUE_ENGINE).
ACT_INSTANCE_CHANGED = "xflow.instance_changed"
# A timeline entry for an instance from outside its run (e.g. an async call's outcome).
ACT_NOTE_INSTANCE = "xflow.note_instance"
# usertask state (apps.tasks, QUEUE_TASKS): CreateUserTask -> the task id (str, or a dict
# with "task_id"); idempotent per dedupe_key. The task service signals SIGNAL_TASK back.
ACT_CREATE_USER_TASK = "xflow.create_user_task"
ACT_USER_TASK_EVENT = "xflow.user_task_event"  # UserTaskEvent: timer fired / timeout / cancel

# Signals and queries understood by the interpreter.
SIGNAL_EVENT = "event"  # payload: a CloudEvent as a dict (attributes + "data")
SIGNAL_TASK = "task"  # payload: TaskSignal
# -> {status, current_states, data, visited_states, timeline}
QUERY_STATUS = "status"

# Custom function operations are routed by the prefix before the first ':'.
# prefix -> (task queue, activity name). Pure data: the interpreter reads it.
CUSTOM_PREFIXES: dict[str, tuple[str, str]] = {
    "xflow": (QUEUE_ENGINE, ACT_CALL_FUNCTION),
    "query": (QUEUE_FORMS, ACT_RUN_QUERY),
}


@dataclass
class InterpreterInput:
    """What starts (or continues) one instance."""

    instance_id: str  # the Postgres instance row's id (uuid text); also the workflow id suffix
    definition: dict[str, Any]  # the published definition document, as JSON
    definition_key: str
    version: str
    input: Any = None
    envs: dict[str, str] = field(default_factory=dict)  # $ENVS, resolved at start
    secrets: dict[str, Any] = field(default_factory=dict)  # $SECRETS the definition names
    parent_instance_id: str | None = None
    # Set when resuming: retry from a failed state, or continue-as-new of a long run.
    resume_state: str | None = None
    resume_data: Any = None
    # Carried over continue-as-new so the timeline and counters survive.
    carry: dict[str, Any] = field(default_factory=dict)
    # How the instance's end reaches the mirror. False: an ACT_INSTANCE_CHANGED report like
    # every other (the contract for any worker). True (the platform's own instances, whose
    # worker runs the live writer): handed to the worker's writer, sparing every instance an
    # activation; the reconciler covers a worker lost before it wrote. Part of the input so
    # that a replay takes the same path the run took.
    end_via_writer: bool = False


@dataclass
class FunctionCall:
    """One function invocation of an action (rest, graphql, custom)."""

    instance_id: str
    state: str
    action: str | None
    function: dict[str, Any]  # the function definition (name, operation, type, authRef, metadata)
    auth: dict[str, Any] | None  # the resolved auth definition, if authRef is set
    arguments: dict[str, Any] = field(default_factory=dict)  # already evaluated
    selection_set: str | None = None  # graphql
    invoke: str = "sync"
    timeout_seconds: float | None = None
    # Stable for one logical call of one action (the same across activity retries, worker
    # deaths and replays; a new one for each retry the definition asks for): REST and GraphQL
    # calls send it as the `Idempotency-Key` header so the called service can deduplicate.
    idempotency_key: str = ""


@dataclass
class AsyncCall:
    """An `invoke: async` function call, made by ASYNC_CALL_WORKFLOW."""

    call: FunctionCall
    activity: str
    task_queue: str
    start_to_close_seconds: float
    heartbeat_seconds: float | None = None
    summary: str | None = None


@dataclass
class InstanceNote:
    """One timeline entry written to an instance's mirror (ACT_NOTE_INSTANCE)."""

    instance_id: str
    kind: str
    state: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


# How an activity reports a business error: raise temporalio.exceptions.ApplicationError
# with type=FUNCTION_ERROR, non_retryable=True and details=[FunctionErrorDetail as dict].
# The interpreter matches `code` against the definition's `errors` (for rest: the HTTP status).
FUNCTION_ERROR = "FunctionError"


@dataclass
class FunctionErrorDetail:
    code: str  # e.g. "404", "ConnectionError", "Timeout"
    message: str
    body: Any = None


@dataclass
class EmitEvent:
    """A CloudEvent a workflow produces (produceEvents, eventRef action, listeners)."""

    instance_id: str
    event: dict[str, Any]  # the event definition (name, source, type, correlation...)
    data: Any = None
    context_attributes: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str = ""  # stable per emission (workflow id + sequence) so retries write once


@dataclass
class EventWait:
    """The events an instance is now waiting for, so the event service can find it."""

    instance_id: str
    workflow_id: str
    wait_id: str  # unique per wait within the instance
    events: list[dict[str, Any]] = field(default_factory=list)  # {type, source, correlation: [...]}


@dataclass
class SubflowRequest:
    parent_instance_id: str
    workflow_id: str  # subFlowRef.workflowId
    version: str | None = None
    invoke: str = "sync"
    on_parent_complete: str = "terminate"
    # "subflow": a child instance (new instance row); "continue_as": `end.continueAs` to
    # another definition, the same instance row continues (no new row).
    purpose: str = "subflow"


@dataclass
class SubflowResolved:
    instance_id: str
    definition: dict[str, Any]
    definition_key: str
    version: str
    envs: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)


@dataclass
class InstanceChanged:
    """Mirror update for the Postgres instance row and its timeline."""

    instance_id: str
    status: str  # running|waiting|completed|failed|cancelled|terminated|timed_out
    current_states: list[str] = field(default_factory=list)
    output: Any = None
    error: dict[str, Any] | None = None  # {type, message, state}
    timeline: list[dict[str, Any]] = field(default_factory=list)  # new entries since last report
    visited_states: list[str] = field(default_factory=list)
    seq: int = 0  # the run's timeline counter when reporting: newer reports win
    pending_actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CreateUserTask:
    instance_id: str
    workflow_id: str
    state: str
    task: dict[str, Any]  # the usertask state with expressions already evaluated
    input: Any = None
    dedupe_key: str = ""


@dataclass
class TaskSignal:
    task_id: str
    kind: str  # completed|deleted|timed_out
    outcome: str | None = None
    data: Any = None
    user: str | None = None


@dataclass
class UserTaskEvent:
    """Sent to ACT_USER_TASK_EVENT: a usertask timer fired, the task timed out or is cancelled."""

    instance_id: str
    task_id: str
    state: str
    kind: str  # timer|timeout|cancel
    timer: dict[str, Any] | None = None  # the timer definition (name, action, candidateGroups...)
    fire_count: int = 0
