"""Semantic checks: names, references, flow, durations, expressions, operations."""

from __future__ import annotations

import pytest

from apps.workflows.dsl.validation import ERROR, WARNING, validate
from tests.dsl.mutations import _add_state, _both, _check, _drop, _set

USERTASK = ["states", 2]
CORPUS = [
    # --- references to states
    (
        "transition-typo",
        _set(["states", 0, "transition"], "Chek"),
        "states[0].transition",
        "unknown_state",
        "'Chek' names no state; did you mean 'Check'?",
    ),
    (
        "condition-typo",
        _set(["states", 1, "dataConditions", 0, "transition"], "Aproved"),
        "states[1].dataConditions[0].transition",
        "unknown_state",
        "did you mean 'Approve'?",
    ),
    (
        "default-condition",
        _set(["states", 1, "defaultCondition"], {"transition": "Nowhere"}),
        "states[1].defaultCondition.transition",
        "unknown_state",
        "'Nowhere' names no state",
    ),
    (
        "transition-object",
        _set(["states", 0, "transition"], {"nextState": "Chck"}),
        "states[0].transition.nextState",
        "unknown_state",
        "did you mean 'Check'?",
    ),
    ("start", _set(["start"], "Recieve"), "start", "unknown_state", "did you mean 'Receive'?"),
    (
        "start-object",
        _set(["start"], {"stateName": "Nope", "schedule": "R/PT1H"}),
        "start.stateName",
        "unknown_state",
        "'Nope' names no state",
    ),
    (
        "on-errors",
        _set(["states", 3, "onErrors", 0, "transition"], "Fail"),
        "states[3].onErrors[0].transition",
        "unknown_state",
        "did you mean 'Failed'?",
    ),
    (
        "outcome",
        _set(USERTASK + ["outcomes", 0, "transition"], "Charg"),
        "states[2].outcomes[0].transition",
        "unknown_state",
        "did you mean 'Charge'?",
    ),
    (
        "task-timeout",
        _both(
            _set(USERTASK + ["timeouts"], {"taskTimeout": "PT1H"}),
            _set(USERTASK + ["onTaskTimeout"], {"transition": "Gone"}),
        ),
        "states[2].onTaskTimeout.transition",
        "unknown_state",
        "'Gone' names no state",
    ),
    (
        "compensated-by",
        _set(["states", 3, "compensatedBy"], "Refnd"),
        "states[3].compensatedBy",
        "unknown_state",
        "did you mean 'Refund'?",
    ),
    (
        "run-before",
        _set(["timeouts"], {"workflowExecTimeout": {"duration": "PT1H", "runBefore": "Cleanup"}}),
        "timeouts.workflowExecTimeout.runBefore",
        "unknown_state",
        "'Cleanup' names no state",
    ),
    # --- duplicate names
    (
        "duplicate-state",
        _set(["states", 6, "name"], "Charge"),
        "states[6].name",
        "duplicate_name",
        "another state is already named 'Charge'",
    ),
    (
        "duplicate-function",
        _set(["functions", 3, "name"], "charge"),
        "functions[3].name",
        "duplicate_name",
        "another function is already named 'charge'",
    ),
    (
        "duplicate-event",
        _set(["events", 1, "name"], "OrderPlaced"),
        "events[1].name",
        "duplicate_name",
        "another event",
    ),
    (
        "duplicate-error",
        lambda d: d["errors"].append({"name": "PaymentFailed"}),
        "errors[1].name",
        "duplicate_name",
        "another error",
    ),
    (
        "duplicate-retry",
        lambda d: d["retries"].append({"name": "often", "maxAttempts": 1}),
        "retries[1].name",
        "duplicate_name",
        "another retry strategy",
    ),
    (
        "duplicate-auth",
        lambda d: d["auth"].append(dict(d["auth"][0])),
        "auth[1].name",
        "duplicate_name",
        "another auth definition",
    ),
    (
        "duplicate-outcome",
        _set(USERTASK + ["outcomes", 1, "name"], "approved"),
        "states[2].outcomes[1].name",
        "duplicate_name",
        "another outcome",
    ),
    (
        "duplicate-task-key",
        _add_state({"name": "Again", "type": "usertask", "taskKey": "approve-order", "end": True}),
        "states[7].taskKey",
        "duplicate_name",
        "taskKey 'approve-order'",
    ),
    # --- references to functions, events, errors, retries, auth
    (
        "function-ref",
        _set(["states", 4, "branches", 0, "actions", 0, "functionRef"], "sendMial"),
        "states[4].branches[0].actions[0].functionRef",
        "unknown_function",
        "did you mean 'sendMail'?",
    ),
    (
        "function-ref-object",
        _set(["states", 3, "actions", 0, "functionRef", "refName"], "charg"),
        "states[3].actions[0].functionRef.refName",
        "unknown_function",
        "did you mean 'charge'?",
    ),
    (
        "event-ref",
        _set(["states", 0, "onEvents", 0, "eventRefs"], ["OrderPlaced2"]),
        "states[0].onEvents[0].eventRefs[0]",
        "unknown_event",
        "did you mean 'OrderPlaced'?",
    ),
    (
        "event-kind",
        _set(["states", 0, "onEvents", 0, "eventRefs"], ["OrderDone"]),
        "states[0].onEvents[0].eventRefs[0]",
        "event_kind",
        "needs a 'consumed' event",
    ),
    (
        "produce-events",
        _set(["states", 4, "end", "produceEvents", 0, "eventRef"], "Done"),
        "states[4].end.produceEvents[0].eventRef",
        "unknown_event",
        "'Done' names no event",
    ),
    (
        "trigger-event",
        _set(
            ["states", 5, "actions"],
            [{"eventRef": {"triggerEventRef": "Refunded", "resultEventRef": "OrderPlaced"}}],
        ),
        "states[5].actions[0].eventRef.triggerEventRef",
        "unknown_event",
        "'Refunded'",
    ),
    (
        "listener-event",
        _set(USERTASK + ["listeners", 0, "produceEventRef"], "OrderPlaced"),
        "states[2].listeners[0].produceEventRef",
        "event_kind",
        "needs a 'produced' event",
    ),
    (
        "error-ref",
        _set(["states", 3, "onErrors", 0, "errorRef"], "PaymentFaild"),
        "states[3].onErrors[0].errorRef",
        "unknown_error",
        "did you mean 'PaymentFailed'?",
    ),
    (
        "error-refs",
        _set(["states", 3, "onErrors", 0], {"errorRefs": ["Timeout"], "end": True}),
        "states[3].onErrors[0].errorRefs[0]",
        "unknown_error",
        "'Timeout' names no error",
    ),
    (
        "retry-ref",
        _set(["states", 3, "actions", 0, "retryRef"], "seldom"),
        "states[3].actions[0].retryRef",
        "unknown_retry",
        "'seldom' names no retry strategy",
    ),
    (
        "auth-ref",
        _set(["functions", 0, "authRef"], "payauth"),
        "functions[0].authRef",
        "unknown_auth",
        "did you mean 'payAuth'?",
    ),
    (
        "graphql-selection",
        _set(["states", 5, "actions", 0, "functionRef"], "pets"),
        "states[5].actions[0].functionRef",
        "required",
        "needs 'selectionSet'",
    ),
    # --- control flow and compensation
    (
        "compensation-flag",
        _set(["states", 3, "compensatedBy"], "Failed"),
        "states[6]",
        "compensation",
        "must set 'usedForCompensation: true'",
    ),
    (
        "compensation-reached",
        _set(["states", 3, "transition"], "Refund"),
        "states[5]",
        "compensation",
        "normal transitions must not lead to it",
    ),
    (
        "compensation-leaves",
        _set(["states", 5, "transition"], "Ship"),
        "states[5].transition",
        "compensation",
        "may only lead to other compensation",
    ),
    (
        "compensation-event-state",
        _both(
            _set(["states", 3, "compensatedBy"], "Undo"),
            _add_state(
                {
                    "name": "Undo",
                    "type": "event",
                    "usedForCompensation": True,
                    "onEvents": [{"eventRefs": ["OrderPlaced"]}],
                    "end": True,
                }
            ),
        ),
        "states[7].type",
        "compensation",
        "cannot be an event state",
    ),
    (
        "no-exit-end-false",
        _set(["states", 6, "end"], False),
        "states[6].end",
        "no_transition",
        "'end: false' and no 'transition'",
    ),
    (
        "usertask-no-exit",
        _set(USERTASK + ["outcomes"], [{"name": "ok"}]),
        "states[2].outcomes[0]",
        "no_transition",
        "no 'transition' or 'end'",
    ),
    (
        "at-least",
        _drop(["states", 4, "numCompleted"]),
        "states[4]",
        "num_completed",
        "'atLeast' needs 'numCompleted'",
    ),
    (
        "at-least-too-many",
        _set(["states", 4, "numCompleted"], 3),
        "states[4].numCompleted",
        "num_completed",
        "only 2 branches",
    ),
    # --- durations
    (
        "retry-delay",
        _set(["retries", 0, "delay"], "1 second"),
        "retries[0].delay",
        "duration",
        "'1 second' is not an ISO 8601 duration",
    ),
    (
        "action-sleep",
        _set(["states", 4, "branches", 1, "actions", 0, "sleep", "before"], "PT1X"),
        "states[4].branches[1].actions[0].sleep.before",
        "duration",
        "not an ISO 8601 duration",
    ),
    (
        "state-timeout",
        _set(["states", 3, "timeouts"], {"stateExecTimeout": {"total": "10s"}}),
        "states[3].timeouts.stateExecTimeout.total",
        "duration",
        "'10s'",
    ),
    (
        "event-timeout",
        _set(["states", 0, "timeouts"], {"eventTimeout": "P1H"}),
        "states[0].timeouts.eventTimeout",
        "duration",
        "'P1H'",
    ),
    (
        "due-date",
        _set(USERTASK + ["dueDate"], "tomorrow"),
        "states[2].dueDate",
        "duration",
        "'tomorrow' is not an ISO 8601 duration (PT48H)",
    ),
    (
        "timer-after",
        _set(USERTASK + ["timers", 0, "after"], "4h"),
        "states[2].timers[0].after",
        "duration",
        "'4h'",
    ),
    (
        "task-timeout-duration",
        _set(USERTASK + ["timeouts"], {"taskTimeout": "3 days"}),
        "states[2].timeouts.taskTimeout",
        "duration",
        "'3 days'",
    ),
    (
        "sleep-state",
        _set(["states", 6], {"name": "Failed", "type": "sleep", "duration": "5m", "end": True}),
        "states[6].duration",
        "duration",
        "'5m'",
    ),
    # --- expressions
    (
        "condition-syntax",
        _set(["states", 1, "dataConditions", 0, "condition"], "${ .total > }"),
        "states[1].dataConditions[0].condition",
        "expression",
        "the expression '${ .total > }' does not compile: syntax error",
    ),
    (
        "fn-unknown",
        _set(["states", 1, "dataConditions", 0, "condition"], "${ fn:isHuge }"),
        "states[1].dataConditions[0].condition",
        "unknown_function",
        "fn:isHuge names no function",
    ),
    (
        "fn-wrong-type",
        _set(["states", 1, "dataConditions", 0, "condition"], "${ fn:charge }"),
        "states[1].dataConditions[0].condition",
        "function_type",
        "type 'expression'",
    ),
    (
        "expression-function",
        _set(["functions", 1, "operation"], ".order.total >"),
        "functions[1].operation",
        "expression",
        "does not compile",
    ),
    (
        "state-filter",
        _set(["states", 3, "stateDataFilter"], {"output": "${ {a: } }"}),
        "states[3].stateDataFilter.output",
        "expression",
        "does not compile",
    ),
    (
        "argument",
        _set(["states", 3, "actions", 0, "functionRef", "arguments", "x"], "${ .a[ }"),
        "states[3].actions[0].functionRef.arguments.x",
        "expression",
        "does not compile",
    ),
    (
        "usertask-title",
        _set(USERTASK + ["title"], "Order ${ .order. | } for ${ .who }"),
        "states[2].title",
        "expression",
        "the expression 'Order ${ .order. | } for ${ .who }' does not compile",
    ),
    (
        "unclosed-embedded",
        _set(USERTASK + ["title"], "Order ${ .order.id"),
        "states[2].title",
        "expression",
        "is not closed",
    ),
    (
        "unknown-variable",
        _set(USERTASK + ["assignee"], "${ $USER.name }"),
        "states[2].assignee",
        "expression",
        "it uses $USER, which is not defined",
    ),
    (
        "env-undeclared",
        _set(["states", 3, "actions", 0, "functionRef", "arguments", "region"], "${ $ENVS.ZONE }"),
        "states[3].actions[0].functionRef.arguments.region",
        "unknown_env",
        "$ENVS.ZONE is not listed in the workflow's 'envs'",
    ),
    (
        "secret-undeclared",
        _set(["auth", 0, "properties", "token"], "${ $SECRETS.TOKEN }"),
        "auth[0].properties.token",
        "unknown_secret",
        "$SECRETS.TOKEN is not listed",
    ),
    (
        "expression-language",
        _set(["expressionLang"], "jsonpath"),
        "expressionLang",
        "expression_language",
        "jq expressions only",
    ),
    # --- function operations
    (
        "rest-operation",
        _set(["functions", 0, "operation"], "https://pay.example/openapi.json"),
        "functions[0].operation",
        "operation",
        "'<OpenAPI document URI>#<operationId>'",
    ),
    (
        "graphql-operation",
        _set(["functions", 2, "operation"], "https://g.example/graphql#pets"),
        "functions[2].operation",
        "operation",
        "#query#<field>",
    ),
    (
        "custom-no-prefix",
        _set(["functions", 3, "operation"], "send-email"),
        "functions[3].operation",
        "operation",
        "'<prefix>:<name>'",
    ),
    (
        "object-operation-not-rest",
        _set(["functions", 3, "operation"], {"get": {}}),
        "functions[3].operation",
        "operation",
        "only rest functions",
    ),
    (
        "schedule-interval",
        _set(["start"], {"stateName": "Receive", "schedule": "every 2 hours"}),
        "start.schedule",
        "schedule",
        "is not a recurring interval such as 'R/PT2H'",
    ),
    (
        "schedule-cron",
        _set(["start"], {"stateName": "Receive", "schedule": {"cron": "at noon"}}),
        "start.schedule.cron",
        "schedule",
        "is not a cron expression",
    ),
    (
        "schedule-timezone",
        _set(
            ["start"],
            {"stateName": "Receive", "schedule": {"interval": "R/PT1H", "timezone": "CET/X"}},
        ),
        "start.schedule.timezone",
        "schedule",
        "'CET/X' is not a time zone name",
    ),
]

WARNING_CORPUS = [
    (
        "unreachable",
        _add_state({"name": "Orphan", "type": "inject", "data": {}, "end": True}),
        "states[7]",
        "unreachable_state",
        "the state 'Orphan' is never reached",
    ),
    (
        "custom-prefix",
        _set(["functions", 3, "operation"], "lambda:resize"),
        "functions[3].operation",
        "custom_prefix",
        "no worker is known for the custom prefix",
    ),
    (
        "unsupported-type",
        _set(["functions", 0, "type"], "odata"),
        "functions[0].type",
        "unsupported",
        "xflow cannot call 'odata' functions",
    ),
    (
        "constant-missing",
        _set(["functions", 1, "operation"], ".total > $CONST.max"),
        "functions[1].operation",
        "unknown_constant",
        "$CONST.max",
    ),
    (
        "escalate-nobody",
        _set(USERTASK + ["timers", 0, "action"], "escalate"),
        "states[2].timers[0]",
        "required",
        "nobody to escalate to",
    ),
    (
        "compensation-end",
        _set(["states", 5, "end"], True),
        "states[5].end",
        "compensation",
        "'end' is ignored",
    ),
    (
        "top-level-typo",
        _set(["fucntions"], []),
        "fucntions",
        "unknown_property",
        "'fucntions' is not a workflow property and is ignored; did you mean 'functions'?",
    ),
]


@pytest.mark.parametrize(
    "mutate, path, code, fragment",
    [row[1:] for row in CORPUS],
    ids=[row[0] for row in CORPUS],
)
def test_each_mistake_is_reported_as_an_error(definition, mutate, path, code, fragment):
    _check(definition, mutate, path, code, fragment, ERROR)


@pytest.mark.parametrize(
    "mutate, path, code, fragment",
    [row[1:] for row in WARNING_CORPUS],
    ids=[row[0] for row in WARNING_CORPUS],
)
def test_each_doubtful_construct_is_a_warning(definition, mutate, path, code, fragment):
    issues = _check(definition, mutate, path, code, fragment, WARNING)
    assert not [i for i in issues if i.severity == ERROR]


def test_unknown_start_is_reported_once_not_as_every_state_unreachable(definition):
    definition["start"] = "Nowhere"
    issues = validate(definition)
    assert [(i.path, i.code) for i in issues] == [("start", "unknown_state")]


def test_compensation_flow_may_not_branch_back_into_the_main_flow(definition):
    # given a compensation state whose error handler leads to a normal state
    definition["errors"].append({"name": "RefundFailed"})
    definition["states"][5]["onErrors"] = [{"errorRef": "RefundFailed", "transition": "Failed"}]
    # when validated
    issues = validate(definition)
    # then that edge is refused with the spec's rule
    found = [i for i in issues if i.path == "states[5].onErrors[0].transition"]
    assert [i.code for i in found] == ["compensation"]
    assert "'Failed' does not set 'usedForCompensation: true'" in found[0].message


def test_first_state_is_the_start_when_start_is_omitted(definition):
    # given no `start`: the 0.8 spec starts at the first state, here the terminal "Failed"
    del definition["start"]
    definition["states"].insert(0, definition["states"].pop(6))
    issues = validate(definition)
    # then the old main flow is reported unreachable (as warnings), the new start is not
    unreachable = [i for i in issues if i.code == "unreachable_state"]
    assert [i.path for i in unreachable] == [f"states[{n}]" for n in range(1, 6)]
    assert "'Receive' is never reached" in unreachable[0].message
    assert all(i.severity == WARNING for i in unreachable)


@pytest.mark.parametrize(
    "schedule",
    [
        "R/PT2H",
        "R/2020-03-20T13:00:00Z/PT2H",
        "R/PT2H/2020-05-11T15:30:00Z",
        {"cron": "0 0/15 * * * ?", "timezone": "Europe/Paris"},
        {"cron": {"expression": "0 15,30,45 * ? * *", "validUntil": "2021-11-05T08:15:30-05:00"}},
    ],
)
def test_schedules_written_as_in_the_spec_are_accepted(definition, schedule):
    definition["start"] = {"stateName": "Receive", "schedule": schedule}
    assert validate(definition) == []
