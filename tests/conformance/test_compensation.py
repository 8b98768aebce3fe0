"""Workflow compensation (spec 0.8 "Workflow Compensation").

Each state appends its name to `log` (arrays merge by concatenation), so the output shows
which states and compensation states ran, in order. The spec: "when compensation triggers,
the current workflow data is passed as input to the "D1" state ... The states data output is
then passed as states data input to "B1", and so on." -- so compensation output flows on.
"""

from __future__ import annotations

from .conftest import call, expr_fn, fail_fn, inject, wf


def step(name: str, **props) -> dict:
    return inject(name, {"log": [name]}, **props)


def comp(name: str, **props) -> dict:
    return inject(name, {"log": [name]}, usedForCompensation=True, **props)


def test_end_compensate_runs_compensations_in_reverse_order(run):
    # "Compensation is performed on all already successfully completed states (that define
    # `compensatedBy`) in **reverse** order."
    definition = wf(
        step("A", compensatedBy="A1", transition="B"),
        step("B", compensatedBy="B1", transition="C"),
        step("C", end={"compensate": True}),
        comp("A1"),
        comp("B1"),
    )
    assert run(definition, {}) == {"log": ["A", "B", "C", "B1", "A1"]}


def test_states_without_compensated_by_are_not_compensated(run):
    # "State "E" is not compensated as it does not define a `compensatedBy` state"
    definition = wf(
        step("A", compensatedBy="A1", transition="E"),
        step("E", transition="End"),
        step("End", end={"compensate": True}),
        comp("A1"),
    )
    assert run(definition, {}) == {"log": ["A", "E", "End", "A1"]}


def test_states_never_executed_are_not_compensated(run):
    # "State C is not compensated as it was never active during workflow execution"
    definition = wf(
        step("A", compensatedBy="A1", transition="Route"),
        {
            "name": "Route",
            "type": "switch",
            "dataConditions": [{"condition": "${ .takeC }", "transition": "C"}],
            "defaultCondition": {"transition": "D"},
        },
        step("C", compensatedBy="C1", transition="End"),
        step("D", compensatedBy="D1", transition="End"),
        step("End", end={"compensate": True}),
        comp("A1"),
        comp("C1"),
        comp("D1"),
    )
    output = run(definition, {"takeC": False})
    assert output == {"takeC": False, "log": ["A", "D", "End", "D1", "A1"]}


def test_compensation_state_may_transition_to_other_compensation_states(run):
    # "State "B" is compensated by executing "B1" and then "B2"" / "They can transition only to
    # states which also have their `usedForCompensation` property and set to `true`"
    definition = wf(
        step("A", compensatedBy="A1", transition="B"),
        step("B", compensatedBy="B1", transition="End"),
        step("End", end={"compensate": True}),
        comp("A1"),
        comp("B1", transition="B2"),
        comp("B2"),
    )
    assert run(definition, {}) == {"log": ["A", "B", "End", "B1", "B2", "A1"]}


def test_transition_compensate_runs_before_the_next_state(run):
    # "Transitions can trigger compensations by specifying the `compensate` property and
    # setting it to `true`. This means that before the transition is executed ... workflow
    # compensation must be performed."
    definition = wf(
        step("A", compensatedBy="A1", transition={"nextState": "N", "compensate": True}),
        step("N"),
        comp("A1"),
    )
    assert run(definition, {}) == {"log": ["A", "A1", "N"]}


def test_no_compensation_without_compensate(run):
    # "Compensation in Serverless Workflow must be explicitly defined by the workflow control
    # flow logic." -- a plain end does not compensate.
    definition = wf(step("A", compensatedBy="A1", transition="B"), step("B"), comp("A1"))
    assert run(definition, {}) == {"log": ["A", "B"]}


def test_compensation_from_an_error_handler_transition(run):
    # Compensation is triggered by a transition with `compensate: true` -- here the onErrors
    # transition of a failing state; only states that "successfully completed" are
    # compensated, so the failing state itself is not.
    definition = wf(
        step("A", compensatedBy="A1", transition="Charge"),
        {
            "name": "Charge",
            "type": "operation",
            "actions": [call("fail", {"code": "Declined"})],
            "compensatedBy": "Charge1",
            "onErrors": [
                {
                    "errorRef": "Card declined",
                    "transition": {"nextState": "Failed", "compensate": True},
                }
            ],
            "transition": "Done",
        },
        step("Failed"),
        step("Done"),
        comp("A1"),
        comp("Charge1"),
        functions=[fail_fn()],
        errors=[{"name": "Card declined", "code": "Declined"}],
    )
    assert run(definition, {}) == {"log": ["A", "A1", "Failed"]}


def test_compensation_states_with_actions_new_item_purchase_example(run):
    # The "NewItemPurchase" example: an event state debits the customer and is
    # `compensatedBy` "CancelPurchase", an operation state with `usedForCompensation: true`
    # that credits the customer back.
    definition = wf(
        {
            "name": "NewItemPurchase",
            "type": "event",
            "onEvents": [
                {
                    "eventRefs": ["NewPurchase"],
                    "actions": [
                        call(
                            "DebitCustomerFunction",
                            {
                                "customerid": "${ .purchase.customerid }",
                                "amount": "${ .purchase.amount }",
                            },
                        )
                    ],
                }
            ],
            "compensatedBy": "CancelPurchase",
            "transition": "SomeNextWorkflowState",
        },
        {
            "name": "SomeNextWorkflowState",
            "type": "inject",
            "data": {"next": True},
            "end": {"compensate": True},
        },
        {
            "name": "CancelPurchase",
            "type": "operation",
            "usedForCompensation": True,
            "actions": [
                call(
                    "CreditCustomerFunction",
                    {
                        "customerid": "${ .purchase.customerid }",
                        "amount": "${ .purchase.amount }",
                    },
                )
            ],
        },
        events=[{"name": "NewPurchase", "type": "org.purchase", "source": "conformance"}],
        functions=[
            expr_fn("DebitCustomerFunction", "{debited: .purchase.amount}"),
            expr_fn("CreditCustomerFunction", "{credited: .purchase.amount}"),
        ],
    )
    event = {"type": "org.purchase", "source": "conformance", "data": {"purchase": {"amount": 9}}}
    output = run(definition, {}, events=[event])
    assert output == {"purchase": {"amount": 9}, "debited": 9, "next": True, "credited": 9}


def test_each_completed_state_is_compensated_in_reverse_with_data_flowing(run):
    # "the current workflow data is passed as input to the "D1" state, the first compensation
    # state for our example. The states data output is then passed as states data input to
    # "B1", and so on." -- B1 sees what D1 produced.
    definition = wf(
        step("B", compensatedBy="B1", transition="D"),
        step("D", compensatedBy="D1", transition="End"),
        step("End", end={"compensate": True}),
        {
            "name": "B1",
            "type": "operation",
            "usedForCompensation": True,
            "actions": [call("sawD1", actionDataFilter={"toStateData": "${ .b1SawD1 }"})],
        },
        comp("D1"),
        functions=[expr_fn("sawD1", '.log | index("D1") != null')],
    )
    assert run(definition, {}) == {"log": ["B", "D", "End", "D1"], "b1SawD1": True}


def test_unrecoverable_error_during_compensation_stops_the_workflow(run_failure):
    # "In case of unrecoverable errors during their execution (errors not explicitly handled),
    # workflow execution should be stopped"
    definition = wf(
        step("A", compensatedBy="A1", transition="End"),
        step("End", end={"compensate": True}),
        {
            "name": "A1",
            "type": "operation",
            "usedForCompensation": True,
            "actions": [call("fail", {"code": "CompensationBroke"})],
        },
        functions=[fail_fn()],
    )
    assert run_failure(definition, {})


def test_compensated_operation_state_with_actions_in_reverse(run):
    # Compensation states may be operation states; they run in reverse order of completion.
    definition = wf(
        step("A", compensatedBy="A1", transition="B"),
        step("B", compensatedBy="B1", transition="End"),
        step("End", end={"compensate": True}),
        {
            "name": "A1",
            "type": "operation",
            "usedForCompensation": True,
            "actions": [call("undoA")],
        },
        {
            "name": "B1",
            "type": "operation",
            "usedForCompensation": True,
            "actions": [call("undoB")],
        },
        functions=[
            expr_fn("undoA", '{"log": ["A1"]}'),
            expr_fn("undoB", '{"log": ["B1"]}'),
        ],
    )
    assert run(definition, {}) == {"log": ["A", "B", "End", "B1", "A1"]}


def test_switch_condition_transition_with_compensate(run):
    # "Transitions can trigger compensations by specifying the `compensate` property" -- a data
    # condition's transition is a transition like any other.
    definition = wf(
        step("A", compensatedBy="A1", transition="Check"),
        {
            "name": "Check",
            "type": "switch",
            "dataConditions": [
                {"condition": "${ .cancel }", "transition": {"nextState": "N", "compensate": True}}
            ],
            "defaultCondition": {"transition": "N"},
        },
        step("N"),
        comp("A1"),
    )
    assert run(definition, {"cancel": True}) == {"cancel": True, "log": ["A", "A1", "N"]}


def test_end_of_a_compensation_state_is_ignored(run):
    # States referenced by compensatedBy: "They cannot define an end definition. If they do, it
    # should be ignored" -- B1's end does not stop the compensation of A.
    definition = wf(
        step("A", compensatedBy="A1", transition="B"),
        step("B", compensatedBy="B1", transition="End"),
        step("End", end={"compensate": True}),
        comp("A1"),
        comp("B1", end=True),
    )
    assert run(definition, {}) == {"log": ["A", "B", "End", "B1", "A1"]}
