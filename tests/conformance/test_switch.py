"""Switch state with data conditions (spec 0.8 "Switch State", "Switch State Data Conditions")."""

from __future__ import annotations

from .conftest import expr_fn, inject, wf


def switch(name: str, conditions: list[dict], default: dict, **extra) -> dict:
    return {
        "name": name,
        "type": "switch",
        "dataConditions": conditions,
        "defaultCondition": default,
        **extra,
    }


def routed(conditions, default, data, **extra):
    """A switch followed by three marker states; returns the definition."""
    return wf(
        switch("Check", conditions, default, **extra),
        inject("A", {"went": "A"}),
        inject("B", {"went": "B"}),
        inject("C", {"went": "C"}),
    )


def test_first_true_condition_wins(run):
    # "Conditions defined first take precedence over conditions defined later. ... there are
    # two `true` conditions: A and B, defined in that order. Because A was defined first, its
    # transition will be executed, not B's."
    definition = routed(
        [
            {"condition": "${ .n > 1 }", "transition": "A"},
            {"condition": "${ .n > 0 }", "transition": "B"},
        ],
        {"transition": "C"},
        None,
    )
    assert run(definition, {"n": 5}) == {"n": 5, "went": "A"}


def test_second_condition_when_first_is_false(run):
    definition = routed(
        [
            {"condition": "${ .n > 10 }", "transition": "A"},
            {"condition": "${ .n > 0 }", "transition": "B"},
        ],
        {"transition": "C"},
        None,
    )
    assert run(definition, {"n": 5}) == {"n": 5, "went": "B"}


def test_default_condition_transition_when_nothing_matches(run):
    # "If no defined conditions can be matched, the state transitions is taken based on the
    # `defaultCondition` property."
    definition = routed(
        [{"condition": "${ .n > 10 }", "transition": "A"}], {"transition": "C"}, None
    )
    assert run(definition, {"n": 5}) == {"n": 5, "went": "C"}


def test_default_condition_end(run):
    # "This property can be either a `transition` to another workflow state, or an `end`
    # definition meaning a workflow end." The switch passes its data through.
    definition = routed([{"condition": "${ .n > 10 }", "transition": "A"}], {"end": True}, None)
    assert run(definition, {"n": 5}) == {"n": 5}


def test_data_condition_end(run):
    # "If the condition is evaluated to `true`, you can specify either the `transition` or
    # `end` definitions"
    definition = routed(
        [{"condition": "${ .n > 1 }", "end": True}, {"condition": "true", "transition": "A"}],
        {"transition": "C"},
        None,
    )
    assert run(definition, {"n": 5}) == {"n": 5}


def test_condition_evaluates_against_filtered_state_data(run):
    # "Workflow expression evaluated against state data" -- the state data is the result of
    # the stateDataFilter input ("Results of the `input` expression should become the state
    # data").
    definition = routed(
        [{"condition": "${ .age >= 18 }", "transition": "A"}],
        {"transition": "C"},
        None,
        stateDataFilter={"input": "${ .applicant }"},
    )
    assert run(definition, {"applicant": {"age": 20}}) == {"age": 20, "went": "A"}


def test_switch_output_filter_applies_before_transition(run):
    # "The state data filter `output` property expression is applied right before the state
    # transitions to the next state defined."
    definition = routed(
        [{"condition": "${ .n == 1 }", "transition": "B"}],
        {"transition": "C"},
        None,
        stateDataFilter={"output": "${ {m: .n} }"},
    )
    assert run(definition, {"n": 1, "other": 2}) == {"m": 1, "went": "B"}


def test_eighteen_or_older_example(run):
    # Data condition example: "${ .applicant | .age >= 18 }" -> "StartApplication"
    definition = wf(
        switch(
            "CheckApplicant",
            [
                {
                    "name": "Eighteen or older",
                    "condition": "${ .applicant | .age >= 18 }",
                    "transition": "StartApplication",
                }
            ],
            {"transition": "RejectApplication"},
        ),
        inject("StartApplication", {"decision": "start"}),
        inject("RejectApplication", {"decision": "reject"}),
    )
    assert run(definition, {"applicant": {"age": 18}})["decision"] == "start"
    assert run(definition, {"applicant": {"age": 17}})["decision"] == "reject"


def test_fn_expression_functions_in_conditions_example(run, run_many):
    # "Using Functions for Expression Evaluation": conditions "${ fn:isAdult }" and
    # "${ fn:isMinor }" referencing expression functions.
    definition = wf(
        switch(
            "CheckApplicant",
            [
                {
                    "name": "Applicant is adult",
                    "condition": "${ fn:isAdult }",
                    "transition": "ApproveApplication",
                },
                {
                    "name": "Applicant is minor",
                    "condition": "${ fn:isMinor }",
                    "transition": "RejectApplication",
                },
            ],
            {"transition": "RejectApplication"},
        ),
        inject("ApproveApplication", {"decision": "approve"}),
        inject("RejectApplication", {"decision": "reject"}),
        functions=[
            expr_fn("isAdult", ".applicant | .age >= 18"),
            expr_fn("isMinor", ".applicant | .age < 18"),
        ],
    )
    adult, minor = run_many(
        [(definition, {"applicant": {"age": 30}}), (definition, {"applicant": {"age": 12}})]
    )
    assert adult == {"applicant": {"age": 30}, "decision": "approve"}
    assert minor == {"applicant": {"age": 12}, "decision": "reject"}


def test_const_in_conditions_example(run, run_many):
    # Workflow Constants: "${ .applicant | .age >= $CONST.AGE.MIN_ADULT }"
    definition = wf(
        switch(
            "CheckApplicant",
            [
                {
                    "name": "Applicant is adult",
                    "condition": "${ .applicant | .age >= $CONST.AGE.MIN_ADULT }",
                    "transition": "ApproveApplication",
                },
                {
                    "name": "Applicant is minor",
                    "condition": "${ .applicant | .age < $CONST.AGE.MIN_ADULT }",
                    "transition": "RejectApplication",
                },
            ],
            {"transition": "RejectApplication"},
        ),
        inject("ApproveApplication", {"decision": "approve"}),
        inject("RejectApplication", {"decision": "reject"}),
        constants={"AGE": {"MIN_ADULT": 18}},
    )
    adult, minor = run_many(
        [(definition, {"applicant": {"age": 18}}), (definition, {"applicant": {"age": 17}})]
    )
    assert adult["decision"] == "approve"
    assert minor["decision"] == "reject"


def test_switch_loop_fill_glass_of_water_example(run):
    # examples/26-fillglassofwater.json verbatim: a switch/operation loop with an expression
    # function ".counts.current += 1 | .counts.current" and toStateData ".counts.current"
    # (bare, without ${ }), and a bare condition ".counts.current >= .counts.max".
    definition = {
        "id": "fillglassofwater",
        "name": "Fill glass of water workflow",
        "version": "1.0",
        "specVersion": "0.8",
        "start": "Check if full",
        "functions": [
            {
                "name": "Increment Current Count Function",
                "type": "expression",
                "operation": ".counts.current += 1 | .counts.current",
            }
        ],
        "states": [
            {
                "name": "Check if full",
                "type": "switch",
                "dataConditions": [
                    {
                        "name": "Need to fill more",
                        "condition": "${ .counts.current < .counts.max }",
                        "transition": "Add Water",
                    },
                    {
                        "name": "Glass full",
                        "condition": ".counts.current >= .counts.max",
                        "end": True,
                    },
                ],
                "defaultCondition": {"end": True},
            },
            {
                "name": "Add Water",
                "type": "operation",
                "actions": [
                    {
                        "functionRef": "Increment Current Count Function",
                        "actionDataFilter": {"toStateData": ".counts.current"},
                    }
                ],
                "transition": "Check if full",
            },
        ],
    }
    assert run(definition, {"counts": {"current": 0, "max": 3}}) == {
        "counts": {"current": 3, "max": 3}
    }


def test_transition_object_form_next_state(run):
    # Transition Definition: "If you need to define additional parameters in your `transition`
    # definition, you can define it with its `object` type" (nextState).
    definition = routed(
        [{"condition": "${ true }", "transition": {"nextState": "B"}}],
        {"transition": {"nextState": "C"}},
        None,
    )
    assert run(definition, {}) == {"went": "B"}
