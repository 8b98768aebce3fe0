"""Structural checks and xflow's extensions: one broken definition per check."""

from __future__ import annotations

import jq
import pytest

from apps.workflows.dsl.validation import ERROR, WARNING, ValidationIssue, validate
from tests.dsl.mutations import _check, _drop, _set

USERTASK = ["states", 2]
CORPUS = [
    # --- structure (schema)
    (
        "unknown-state-type",
        _set(["states", 6, "type"], "injection"),
        "states[6].type",
        "unknown_state_type",
        "use one of 'callback', 'event', 'foreach'",
    ),
    (
        "state-type-missing",
        _drop(["states", 6, "type"]),
        "states[6]",
        "required",
        "the state has no 'type'",
    ),
    (
        "state-name-missing",
        _drop(["states", 6, "name"]),
        "states[6]",
        "required",
        "missing the required property 'name'",
    ),
    (
        "end-and-transition",
        _set(["states", 3, "end"], True),
        "states[3]",
        "conflict",
        "'end' and 'transition' cannot be used together",
    ),
    (
        "no-end-no-transition",
        _drop(["states", 6, "end"]),
        "states[6]",
        "required",
        "needs 'end' or 'transition'",
    ),
    (
        "property-typo",
        _set(["states", 6, "transiton"], "Check"),
        "states[6].transiton",
        "unknown_property",
        "did you mean 'transition'?",
    ),
    (
        "enum-typo",
        _set(["states", 3, "actionMode"], "paralel"),
        "states[3].actionMode",
        "enum",
        "did you mean 'parallel'?",
    ),
    (
        "wrong-type",
        _set(["states", 4, "end"], "yes"),
        "states[4].end",
        "type",
        "must be true or false or an object (mapping), not a string",
    ),
    (
        "missing-spec-version",
        _drop(["specVersion"]),
        "",
        "required",
        "missing the required property 'specVersion'",
    ),
    (
        "id-and-key",
        _set(["key"], "order-key"),
        "",
        "conflict",
        "'id' and 'key' cannot be used together",
    ),
    (
        "switch-without-conditions",
        _drop(["states", 1, "dataConditions"]),
        "states[1]",
        "required",
        "needs 'dataConditions' or 'eventConditions'",
    ),
    (
        "action-two-kinds",
        _set(["states", 5, "actions", 0, "subFlowRef"], "refund-flow"),
        "states[5].actions[0]",
        "conflict",
        "'functionRef' and 'subFlowRef' cannot be used",
    ),
    ("secrets-type", _set(["secrets"], 42), "secrets", "type", "must be a string or a list"),
    (
        "constants-type",
        _set(["constants"], [1]),
        "constants",
        "type",
        "must be a string or an object (mapping), not a list",
    ),
    # --- extensions
    (
        "usertask-task-key",
        _drop(USERTASK + ["taskKey"]),
        "states[2]",
        "required",
        "missing the required property 'taskKey'",
    ),
    (
        "usertask-priority",
        _set(USERTASK + ["priority"], 150),
        "states[2].priority",
        "maximum",
        "must be at most 100",
    ),
    (
        "usertask-form-key",
        _set(USERTASK + ["formKey"], "order approval@v2"),
        "states[2].formKey",
        "pattern",
        "optionally followed by '@' and a version number",
    ),
    (
        "usertask-listener-on",
        _set(USERTASK + ["listeners", 0, "on"], ["creatd"]),
        "states[2].listeners[0].on[0]",
        "enum",
        "did you mean 'created'?",
    ),
    (
        "usertask-timer-action",
        _set(USERTASK + ["timers", 0, "action"], "nag"),
        "states[2].timers[0].action",
        "enum",
        "use one of 'remind', 'escalate' or 'event'",
    ),
    (
        "usertask-timer-event",
        _set(USERTASK + ["timers", 0, "action"], "event"),
        "states[2].timers[0]",
        "required",
        "needs 'produceEventRef'",
    ),
    (
        "usertask-unknown-field",
        _set(USERTASK + ["assignees"], ["bob"]),
        "states[2].assignees",
        "unknown_property",
        "did you mean 'assignee'?",
    ),
    (
        "usertask-outcome-name",
        _set(USERTASK + ["outcomes", 0], {"label": "Go", "end": True}),
        "states[2].outcomes[0]",
        "required",
        "missing the required property 'name'",
    ),
    (
        "envs-name",
        _set(["envs"], ["1REGION"]),
        "envs[0]",
        "pattern",
        "an environment variable name",
    ),
    (
        "envs-duplicate",
        _set(["envs"], ["REGION", "REGION"]),
        "envs",
        "unique_items",
        "'REGION' appears more than once",
    ),
    (
        "continue-as-timeout",
        _set(
            ["states", 6, "end"],
            {"continueAs": {"workflowId": "next", "workflowExecTimeout": "1h"}},
        ),
        "states[6].end.continueAs.workflowExecTimeout",
        "duration",
        "'1h' is not an ISO 8601 duration",
    ),
    (
        "event-data-expression",
        _set(["states", 4, "end", "produceEvents", 0, "data"], ".order |"),
        "states[4].end.produceEvents[0].data",
        "expression",
        "does not compile",
    ),
    (
        "consumed-by-default",
        _set(["states", 4, "end", "produceEvents", 0, "eventRef"], "OrderPlaced"),
        "states[4].end.produceEvents[0].eventRef",
        "event_kind",
        "the default kind 'consumed'",
    ),
    (
        "event-source",
        _drop(["events", 0, "source"]),
        "events[0]",
        "required",
        "missing the required property 'source' (consumed events need one",
    ),
]


@pytest.mark.parametrize(
    "mutate, path, code, fragment",
    [row[1:] for row in CORPUS],
    ids=[row[0] for row in CORPUS],
)
def test_each_mistake_is_reported_as_an_error(definition, mutate, path, code, fragment):
    _check(definition, mutate, path, code, fragment, ERROR)


def test_the_base_definition_is_valid(definition):
    assert validate(definition) == []


def test_validating_again_compiles_no_expression_again(definition, monkeypatch):
    # Given a definition validated once (compiled jq programs are cached by their text)
    first = validate(definition)
    # When it is validated again
    compiled = []
    real_compile = jq.compile
    monkeypatch.setattr(jq, "compile", lambda *a, **k: compiled.append(a) or real_compile(*a, **k))
    again = validate(definition)
    # Then the answer is the same and no jq program was compiled a second time
    assert again == first
    assert compiled == []


def test_every_issue_is_reported_at_once(definition):
    # given a definition with three unrelated mistakes
    doc = definition
    doc["states"][0]["transition"] = "Chek"
    doc["retries"][0]["delay"] = "soon"
    doc["states"][6]["type"] = "injection"
    # when it is validated
    issues = validate(doc)
    # then all three are reported
    codes = {i.code for i in issues}
    assert {"unknown_state", "duration", "unknown_state_type"} <= codes


def test_issue_is_a_frozen_value():
    found = ValidationIssue("states[0]", "required", "missing", "error")
    with pytest.raises(AttributeError):
        found.path = "x"  # type: ignore[misc]


def test_state_object_of_wrong_kind_does_not_crash(definition):
    doc = definition
    doc["states"] += [None, "text", 5, [], {"type": None}, {"type": "switch", "name": 3}]
    doc["functions"].append("nope")
    doc["events"] = "https://example.com/events.json"
    issues = validate(doc)
    assert not [i for i in issues if i.code == "internal"]
    assert {i.path for i in issues if i.code == "type"} >= {"states[7]", "states[8]"}


def test_references_to_external_resources_are_not_checked(definition):
    # given functions defined in an external resource (a URI)
    doc = definition
    doc["functions"] = "https://example.com/functions.json"
    doc["states"][1]["dataConditions"][0]["condition"] = "${ .order.total > 100 }"
    doc["auth"] = "https://example.com/auth.json"
    # then references to them cannot be judged and are not reported
    assert [i for i in validate(doc) if i.severity == ERROR] == []


def test_inline_openapi_operation_object_is_accepted_for_rest(definition):
    doc = definition
    doc["functions"][0]["operation"] = {
        "url": "https://pay.example/charge",
        "method": "post",
    }
    assert validate(doc) == []


def test_start_defaults_to_first_state(definition):
    doc = definition
    del doc["start"]
    assert validate(doc) == []


def test_yaml_usertask_contract_from_product_is_valid():
    doc = {
        "id": "leave",
        "specVersion": "0.8",
        "events": [{"name": "TaskNotification", "type": "task.note", "kind": "produced"}],
        "states": [
            {
                "name": "ApproveLeave",
                "type": "usertask",
                "taskKey": "approve-leave",
                "title": "Leave request from ${ .employee.name }",
                "formKey": "leave-approval",
                "assignee": "${ .employee.manager }",
                "candidateUsers": ["alice", "${ .backupApprover }"],
                "candidateGroups": ["hr"],
                "priority": 50,
                "dueDate": "PT48H",
                "dataFilter": "${ {employee, days, reason} }",
                "outcomes": [
                    {
                        "name": "approved",
                        "label": "Approve",
                        "dataFilter": "${ {decision: .} }",
                        "transition": "BookLeave",
                    },
                    {"name": "rejected", "label": "Reject", "transition": "NotifyRejection"},
                ],
                "listeners": [
                    {"on": ["created", "assigned"], "produceEventRef": "TaskNotification"}
                ],
                "timers": [
                    {"name": "remind", "after": "PT24H", "action": "remind"},
                    {
                        "name": "escalate",
                        "after": "PT40H",
                        "action": "escalate",
                        "candidateGroups": ["hr-leads"],
                    },
                ],
                "timeouts": {"taskTimeout": "PT72H"},
                "onTaskTimeout": {"transition": "AutoReject"},
                "onTaskDeleted": {"transition": "Cancelled"},
                "transition": "NextState",
            },
            *[
                {"name": name, "type": "inject", "data": {}, "end": True}
                for name in ("BookLeave", "NotifyRejection", "AutoReject", "Cancelled", "NextState")
            ],
        ],
    }
    assert validate(doc) == []


def test_expression_checks_are_bounded_per_document(definition, monkeypatch):
    # given a document with more distinct expressions than one validation compiles
    monkeypatch.setattr("apps.workflows.dsl.validation.values.MAX_EXPRESSIONS", 3)
    doc = definition
    # when it is validated
    issues = validate(doc)
    # then the remainder is skipped and that is said, rather than spending unbounded time
    limits = [i for i in issues if i.code == "limit"]
    assert len(limits) == 1 and limits[0].severity == WARNING
    assert "only the first 3 different expressions were checked" in limits[0].message


def test_huge_broken_definition_is_validated_in_bounded_time():
    # given 2,000 states, each with its own bad type, bad target and expression
    states = [
        {
            "name": f"S{i}",
            "type": "operaton",
            "actions": [{"functionRef": {"refName": f"f{i}", "arguments": {"x": f"${{ .a{i} }}"}}}],
            "transition": f"Missing{i}",
        }
        for i in range(2000)
    ]
    doc = {"id": "big", "specVersion": "0.8", "functions": [], "states": states}
    # when it is validated
    issues = validate(doc)
    # then every state's problems are reported
    assert sum(1 for i in issues if i.code == "unknown_state_type") == 2000
    assert sum(1 for i in issues if i.code == "unknown_state") == 2000
