"""End definitions, produced events, continueAs and subflows (spec 0.8).

Produced events are read back from the outbox (the production emit activity writes there);
continueAs and subflows resolve published definitions, so those tests publish them first.
"""

from __future__ import annotations

import time

from .conftest import call, expr_fn, fail_fn, inject, operation, wf

PRODUCED = [{"name": "provisioningCompleteEvent", "type": "org.provisioned", "kind": "produced"}]


# --- end / terminate ----------------------------------------------------------------------------


def test_end_true_completes_with_the_state_output(run):
    # End Definition: "If type boolean, must be set to `true`"; the last state's output is the
    # workflow output.
    assert run(wf(inject("A", {"done": True}, end=True)), {"x": 1}) == {"x": 1, "done": True}


def test_end_terminate_completes_the_instance(run):
    # "The `terminate` property, if set to `true`, completes the workflow instance execution"
    # -- the output is the state's data output.
    definition = wf(inject("A", {"done": True}, end={"terminate": True}))
    assert run(definition, {"x": 1}) == {"x": 1, "done": True}


def test_switch_condition_end_object_terminate(run):
    # "Note that Switch states cannot declare to be workflow end states. Their conditions
    # however can define a stop of workflow execution."
    definition = wf(
        {
            "name": "Check",
            "type": "switch",
            "dataConditions": [{"condition": "${ .stop }", "end": {"terminate": True}}],
            "defaultCondition": {"transition": "Go"},
        },
        inject("Go", {"went": True}),
    )
    assert run(definition, {"stop": True}) == {"stop": True}
    assert run(definition, {"stop": False}) == {"stop": False, "went": True}


# --- produceEvents ------------------------------------------------------------------------------


def test_end_produce_events_with_data_expression(run, produced):
    # End Definition example: produceEvents [{"eventRef": "provisioningCompleteEvent", "data":
    # "${ .provisionedOrders }"}] -- "If of string type, it is an expression that can select
    # parts of state data to be used as the event payload."
    definition = wf(
        inject(
            "A",
            {"provisionedOrders": [1, 2]},
            end={
                "produceEvents": [
                    {"eventRef": "provisioningCompleteEvent", "data": "${ .provisionedOrders }"}
                ]
            },
        ),
        events=PRODUCED,
    )
    assert run(definition, {"x": 1}) == {"x": 1, "provisionedOrders": [1, 2]}
    events = produced()
    assert [(t, d) for t, d, _ in events] == [("org.provisioned", [1, 2])]


def test_produce_events_data_object_is_the_payload(run, produced):
    # "If of object type, you can define a custom object to be the event payload."
    definition = wf(
        inject(
            "A",
            {},
            end={
                "produceEvents": [
                    {"eventRef": "provisioningCompleteEvent", "data": {"status": "done"}}
                ]
            },
        ),
        events=PRODUCED,
    )
    run(definition, {})
    assert [(t, d) for t, d, _ in produced()] == [("org.provisioned", {"status": "done"})]


def test_produce_events_context_attributes(run, produced):
    # "The `contextAttributes` property allows you to add one or more extension context
    # attributes to the generated event."
    definition = wf(
        inject(
            "A",
            {"buyerId": "B-7"},
            end={
                "produceEvents": [
                    {
                        "eventRef": "provisioningCompleteEvent",
                        "data": "${ .buyerId }",
                        "contextAttributes": {"buyerid": "${ .buyerId }"},
                    }
                ]
            },
        ),
        events=PRODUCED,
    )
    run(definition, {})
    ((event_type, data, attributes),) = produced()
    assert data == "B-7"
    assert attributes.get("buyerid") == "B-7"


def test_transition_produce_events_before_the_transition(run, produced):
    # Transition Definition: "produceEvents: Events to be produced before the transition takes
    # place" (the example's "data": "${ .result.data }").
    definition = wf(
        inject(
            "A",
            {"result": {"data": {"n": 1}}},
            transition={
                "nextState": "B",
                "produceEvents": [{"eventRef": "produceResultEvent", "data": "${ .result.data }"}],
            },
        ),
        inject("B", {"b": True}),
        events=[{"name": "produceResultEvent", "type": "org.result", "kind": "produced"}],
    )
    assert run(definition, {})["b"] is True
    assert [(t, d) for t, d, _ in produced()] == [("org.result", {"n": 1})]


def test_event_ref_action_produces_the_trigger_event(run, produced):
    # EventRef "data": "If it is of string type, it is an expression that can select parts of
    # state data to be used as payload of the event referenced by `triggerEventRef`."
    definition = wf(
        operation(
            "A",
            {
                "eventRef": {
                    "triggerEventRef": "MakeVetAppointment",
                    "data": "${ .patientInfo }",
                    "resultEventRef": "VetAppointmentInfo",
                    "invoke": "async",
                }
            },
        ),
        events=[
            {"name": "MakeVetAppointment", "type": "org.vet.make", "kind": "produced"},
            {"name": "VetAppointmentInfo", "type": "org.vet.info", "source": "conformance"},
        ],
    )
    run(definition, {"patientInfo": {"name": "Rex"}})
    assert [(t, d) for t, d, _ in produced()] == [("org.vet.make", {"name": "Rex"})]


# --- continueAs ---------------------------------------------------------------------------------


def counter(**continue_as) -> dict:
    return wf(
        operation("Increment", call("inc"), transition="Check"),
        {
            "name": "Check",
            "type": "switch",
            "dataConditions": [
                {
                    "condition": "${ .count < 3 }",
                    "end": {"continueAs": continue_as or "counter"},
                }
            ],
            "defaultCondition": {"end": True},
        },
        id="counter",
        functions=[expr_fn("inc", "{count: (.count + 1)}")],
    )


def test_continue_as_string_continues_with_the_state_data(run, publish):
    # "Defining this should stop the current workflow execution, and continue execution as a
    # new workflow instance of the workflow which defines the workflow id ... The state data
    # where this is define should become the workflow data input of the workflow that is
    # continuing the current workflow execution."
    definition = counter()
    publish(definition)
    assert run(definition, {"count": 0, "keep": "me"}) == {"count": 3, "keep": "me"}


def test_continue_as_object_data_expression(run, publish):
    # continueAs object "data: If string type, a workflow expression which selects parts of
    # the states data output to become the workflow data input of continued execution."
    definition = counter(workflowId="counter", data="${ {count: .count} }")
    publish(definition)
    assert run(definition, {"count": 0, "drop": "me"}) == {"count": 3}


# --- subflows -----------------------------------------------------------------------------------


CHILD = wf(
    operation("Work", call("work")),
    id="childflow",
    functions=[expr_fn("work", "{child: (.value * 10)}")],
)


def test_subflow_result_is_merged_into_the_parent_state_data(run, publish):
    # "Each referenced workflow receives the SubFlow actions data as workflow data input." and
    # "when a sub-workflow is invoked it can produce a result that is then merged into the
    # parent workflow state data."
    publish(CHILD)
    definition = wf(operation("Parent", {"subFlowRef": "childflow"}), id="parentflow")
    assert run(definition, {"value": 2}) == {"value": 2, "child": 20}


def test_subflow_object_form_with_version_and_action_data_filter(run, publish):
    # SubFlowRef object: workflowId + version ("runtimes should match both the `id` and the
    # `version` properties"); actionDataFilter applies to the subflow result.
    publish(CHILD, {**CHILD, "version": "2.0", "functions": [expr_fn("work", '{"child": "v2"}')]})
    definition = wf(
        operation(
            "Parent",
            {
                "subFlowRef": {"workflowId": "childflow", "version": "2.0"},
                "actionDataFilter": {"results": "${ .child }", "toStateData": "${ .fromChild }"},
            },
        ),
        id="parentflow",
    )
    assert run(definition, {"value": 2}) == {"value": 2, "fromChild": "v2"}


def test_subflow_receives_the_from_state_data(run, publish):
    # "Each referenced workflow receives the SubFlow actions data as workflow data input."
    publish(CHILD)
    definition = wf(
        operation(
            "Parent",
            {
                "subFlowRef": "childflow",
                "actionDataFilter": {"fromStateData": "${ .inner }", "toStateData": "${ .out }"},
            },
        ),
        id="parentflow",
    )
    assert run(definition, {"inner": {"value": 4}}) == {
        "inner": {"value": 4},
        "out": {"value": 4, "child": 40},
    }


def test_subflow_error_is_handled_by_the_parent(run, publish):
    # "All unhandled exceptions from the called workflow execution however are propagated back
    # to the parallel state and can be handled with the parallel states `onErrors` definition."
    failing_child = wf(
        operation("Work", call("fail", {"code": "ChildFailed"})),
        id="failingchild",
        functions=[fail_fn()],
    )
    publish(failing_child)
    definition = wf(
        operation(
            "Parent",
            {"subFlowRef": "failingchild"},
            onErrors=[{"errorRef": "Child failed", "transition": "Handled"}],
        ),
        inject("Handled", {"handled": True}),
        id="parentflow",
        errors=[{"name": "Child failed", "code": "ChildFailed"}],
    )
    assert run(definition, {"x": 1}) == {"x": 1, "handled": True}


def test_subflow_async_produces_no_result(run, publish):
    # "If set to `async`, workflow execution should just invoke the subflow and not wait for
    # its results. Note that in this case the action does not produce any results"
    publish(CHILD)
    definition = wf(
        operation(
            "Parent",
            {"subFlowRef": {"workflowId": "childflow", "invoke": "async"}},
        ),
        id="parentflow",
    )
    assert run(definition, {"value": 2}) == {"value": 2}


def test_parallel_exec_example_with_subflows(run, publish):
    # examples/05-parallelexec.json: two branches each calling a subflow; allOf.
    publish(
        wf(inject("S", {"short": True}), id="shortdelayworkflowid"),
        wf(
            {"name": "W", "type": "sleep", "duration": "PT1S", "transition": "S"},
            inject("S", {"long": True}),
            id="longdelayworkflowid",
        ),
    )
    definition = {
        "id": "parallelexec",
        "version": "1.0",
        "specVersion": "0.8",
        "name": "Parallel Execution Workflow",
        "description": "Executes two branches in parallel",
        "start": "ParallelExec",
        "states": [
            {
                "name": "ParallelExec",
                "type": "parallel",
                "completionType": "allOf",
                "branches": [
                    {
                        "name": "ShortDelayBranch",
                        "actions": [{"subFlowRef": "shortdelayworkflowid"}],
                    },
                    {"name": "LongDelayBranch", "actions": [{"subFlowRef": "longdelayworkflowid"}]},
                ],
                "end": True,
            }
        ],
    }
    assert run(definition, {"in": 1}) == {"in": 1, "short": True, "long": True}


def test_subflow_continue_as_returns_the_last_run_result(run, publish):
    # "No matter how many times sub-workflow may use `continueAs`, to the parent workflow it
    # should be as a single invocation is performed, meaning that the results of the last
    # sub-workflow invocation (triggered by `continueAs`) should be used as the data returned"
    child = counter()
    publish(child)
    definition = wf(
        operation(
            "Parent",
            {
                "subFlowRef": "counter",
                "actionDataFilter": {"fromStateData": "${ .start }", "toStateData": "${ .out }"},
            },
        ),
        id="parentflow",
    )
    assert run(definition, {"start": {"count": 0}}) == {
        "start": {"count": 0},
        "out": {"count": 3},
    }


def test_continue_as_another_workflow(run, publish):
    # "continue execution as a new workflow instance of the workflow which defines the workflow
    # id" -- a different id than the current one.
    publish(wf(inject("Next", {"continued": True}), id="nextflow"))
    definition = wf(
        inject("A", {"a": 1}, end={"continueAs": "nextflow"}),
        id="firstflow",
    )
    assert run(definition, {"x": 1}) == {"x": 1, "a": 1, "continued": True}


def test_event_ref_context_attributes_on_the_trigger_event(run, produced):
    # "The `contextAttributes` property allows you to add one or more extension context
    # attributes to the trigger/produced event."
    definition = wf(
        operation(
            "A",
            {
                "eventRef": {
                    "triggerEventRef": "MakeVetAppointment",
                    "data": {"fixed": True},
                    "resultEventRef": "VetAppointmentInfo",
                    "contextAttributes": {"patientid": "${ .id }"},
                    "invoke": "async",
                }
            },
        ),
        events=[
            {"name": "MakeVetAppointment", "type": "org.vet.make", "kind": "produced"},
            {"name": "VetAppointmentInfo", "type": "org.vet.info", "source": "conformance"},
        ],
    )
    run(definition, {"id": "P-9"})
    ((event_type, data, attributes),) = produced()
    assert (event_type, data, attributes.get("patientid")) == (
        "org.vet.make",
        {"fixed": True},
        "P-9",
    )


def late_child(rest, path: str) -> dict:
    """A child that sleeps 2s, then calls path."""
    return wf(
        {"name": "Nap", "type": "sleep", "duration": "PT2S", "transition": "Call"},
        operation("Call", call("ping")),
        id="latechild",
        functions=[rest.function("ping", path)],
    )


def test_async_subflow_on_parent_complete_terminate(run, publish, rest):
    # "The default value of this property is `terminate`, meaning that if the parent workflow
    # (the workflow that invoked the subflow) completes, execution of the subflow should be
    # terminated."
    path = rest.route({"pinged": True})
    publish(late_child(rest, path))
    definition = wf(
        operation("Parent", {"subFlowRef": {"workflowId": "latechild", "invoke": "async"}}),
        id="parentflow",
    )
    assert run(definition, {"x": 1}) == {"x": 1}
    time.sleep(3.5)
    assert rest.calls(path) == [], "the async subflow went on after its parent completed"


def test_async_subflow_on_parent_complete_continue(run, publish, rest):
    # "If it is set to `continue`, if the parent workflow completes, the subflow execution is
    # allowed to continue its own execution." (examples/07-onboardcustomer.json)
    path = rest.route({"pinged": True})
    publish(late_child(rest, path))
    definition = wf(
        operation(
            "Onboard",
            {
                "subFlowRef": {
                    "invoke": "async",
                    "onParentComplete": "continue",
                    "workflowId": "latechild",
                    "version": "1.0",
                }
            },
        ),
        id="onboardcustomer",
    )
    assert run(definition, {"x": 1}) == {"x": 1}
    deadline = time.monotonic() + 8
    while not rest.calls(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(rest.calls(path)) == 1, "the async subflow did not continue after its parent"


def test_continue_as_workflow_exec_timeout_overrides(run, publish, history):
    # continueAs object: "workflowExecTimeout: Workflow execution timeout to be used by the
    # workflow continuing execution. Overwrites any specific settings set by that workflow."
    publish(
        wf(
            {"name": "Long", "type": "sleep", "duration": "PT6S", "transition": "Done"},
            inject("Done", {"slept": True}),
            id="sleeper",
        )
    )
    definition = wf(
        inject(
            "A",
            {},
            end={
                "continueAs": {
                    "workflowId": "sleeper",
                    "workflowExecTimeout": {"duration": "PT1S", "interrupt": True},
                }
            },
        ),
        id="starter",
    )
    try:
        run(definition, {})
    except AssertionError:
        pass
    # the continued run's own 1s timeout fired and cut the sleeper's 6s sleep
    continued = history()
    assert continued.timer(1).outcome == "fired"
    assert continued.timer(6).outcome == "canceled", "the continued run ignored its timeout"


def test_end_compensate_produce_events_then_continue_as(run, publish, produced):
    # "In the case where the end definition has both `produceEvents`, and `continueAs`
    # compensation is performed first, then the event should be produced, and then the
    # workflow should continue its execution as a new workflow invocation."
    publish(wf(inject("Next", {"continued": True}), id="nextflow"))
    definition = wf(
        inject("A", {"log": ["A"]}, compensatedBy="A1", transition="End"),
        inject(
            "End",
            {"log": ["End"]},
            end={
                "compensate": True,
                "produceEvents": [{"eventRef": "Done", "data": "${ .log }"}],
                "continueAs": "nextflow",
            },
        ),
        inject("A1", {"log": ["A1"]}, usedForCompensation=True),
        id="firstflow",
        events=[{"name": "Done", "type": "org.done", "kind": "produced"}],
    )
    assert run(definition, {}) == {"log": ["A", "End", "A1"], "continued": True}
    assert [(t, d) for t, d, _ in produced()] == [("org.done", ["A", "End", "A1"])]
