"""Operation state: sequential and parallel actions, functions of every kind, conditions."""

from .builders import definition, operation


def test_rest_function_result_merges_into_state_data(engine):
    # given a REST operation served by the local HTTP service
    engine.services.add(
        "getCustomer", lambda args, req: (200, {"customer": {"id": args["id"], "tier": "gold"}})
    )
    doc = definition(
        operation(
            "Load",
            {"functionRef": {"refName": "getCustomer", "arguments": {"id": "${ .customerId }"}}},
        ),
        functions=[
            {"name": "getCustomer", "operation": "http://api.example/openapi.json#getCustomer"}
        ],
    )
    # when
    out = engine.execute(doc, {"customerId": "c-1"})
    # then the result is merged into the state data (spec: Data Merging)
    assert out == {"customerId": "c-1", "customer": {"id": "c-1", "tier": "gold"}}


def test_expression_function_runs_in_the_workflow(engine):
    # given the spec's "simpleadd" example (with its `actionFilter` spelling)
    doc = definition(
        {
            "name": "Initialize Count",
            "type": "inject",
            "data": {"count": 0},
            "transition": "Increment Count",
        },
        operation(
            "Increment Count",
            {
                "functionRef": "Increment Count Function",
                "actionFilter": {"toStateData": "${ .count }"},
            },
        ),
        functions=[
            {
                "name": "Increment Count Function",
                "type": "expression",
                "operation": ".count += 1 | .count",
            }
        ],
    )
    # when
    out = engine.execute(doc)
    # then no activity was called and the count is 1
    assert out == {"count": 1}


def test_sequential_actions_see_previous_results(engine):
    # given two expression actions, the second reading what the first produced
    doc = definition(
        operation(
            "Compute",
            {"functionRef": "double", "actionDataFilter": {"toStateData": "${ .doubled }"}},
            {"functionRef": "plusOne", "actionDataFilter": {"toStateData": "${ .result }"}},
        ),
        functions=[
            {"name": "double", "type": "expression", "operation": ".value * 2"},
            {"name": "plusOne", "type": "expression", "operation": ".doubled + 1"},
        ],
    )
    # when
    out = engine.execute(doc, {"value": 5})
    # then
    assert out == {"value": 5, "doubled": 10, "result": 11}


def test_parallel_actions_merge_results_in_action_order(engine):
    # given two REST calls in parallel, both writing into .items
    engine.services.add("listA", {"items": ["a"]})
    engine.services.add("listB", {"items": ["b", "a"]})
    doc = definition(
        operation(
            "Fetch", {"functionRef": "listA"}, {"functionRef": "listB"}, actionMode="parallel"
        ),
        functions=[
            {"name": "listA", "operation": "http://x/api.json#listA"},
            {"name": "listB", "operation": "http://x/api.json#listB"},
        ],
    )
    # when
    out = engine.execute(doc, {"items": []})
    # then arrays concatenate keeping unique elements (spec: Data Merging)
    assert out == {"items": ["a", "b"]}


def test_action_condition_false_skips_the_action(engine):
    # given an action guarded by a condition
    doc = definition(
        operation(
            "Maybe",
            {"functionRef": "mark", "condition": "${ .enabled }"},
            {"functionRef": "mark2"},
        ),
        functions=[
            {"name": "mark", "type": "expression", "operation": "{marked: true}"},
            {"name": "mark2", "type": "expression", "operation": "{second: true}"},
        ],
    )
    # when / then
    assert engine.execute(doc, {"enabled": False}) == {"enabled": False, "second": True}
    assert engine.execute(doc, {"enabled": True}) == {
        "enabled": True,
        "marked": True,
        "second": True,
    }


def test_custom_function_routes_by_prefix(engine):
    # given a `query:` custom function (forms queue) and an `xflow:` one (engine queue)
    engine.services.add("uuid", {"uuid": "u-1"})
    doc = definition(
        operation(
            "Run",
            {
                "functionRef": {"refName": "orders", "arguments": {"status": "open"}},
                "actionDataFilter": {"toStateData": "${ .rows }"},
            },
            {"functionRef": "newId"},
        ),
        functions=[
            {"name": "orders", "type": "custom", "operation": "query:open-orders"},
            {"name": "newId", "type": "custom", "operation": "xflow:uuid"},
        ],
    )
    # when
    started = engine.start(doc, {})
    out = engine.result(started)
    # then
    assert out == {"rows": [{"query": "open-orders", "status": "open"}], "uuid": "u-1"}
    assert (
        engine.recorder.queries[started.instance_id][0].function["operation"] == "query:open-orders"
    )


def test_async_function_does_not_wait_nor_merge(engine):
    # given an async invocation of a failing function
    doc = definition(
        operation("Fire", {"functionRef": {"refName": "missing", "invoke": "async"}}),
        functions=[{"name": "missing", "operation": "http://x/api.json#noSuchOperation"}],
    )
    # when / then: its error does not fail the workflow, its result is not merged
    assert engine.execute(doc, {"a": 1}) == {"a": 1}


def test_graphql_selection_set_expressions_are_evaluated(engine):
    # given a graphql function whose selection set embeds an expression
    engine.services.add(
        "pet", lambda args, req: (200, {"pet": {"id": args["id"], "sel": req["selectionSet"]}})
    )
    doc = definition(
        operation(
            "Q",
            {
                "functionRef": {
                    "refName": "getPet",
                    "arguments": {"id": "${ .petId }"},
                    "selectionSet": "{ id, age(useDogYears: ${ .dog }) }",
                }
            },
        ),
        functions=[
            {"name": "getPet", "type": "graphql", "operation": "http://x/graphql#query#pet"}
        ],
    )
    # when
    out = engine.execute(doc, {"petId": 42, "dog": True})
    # then
    assert out["pet"] == {"id": 42, "sel": "{ id, age(useDogYears: true) }"}


def test_expression_function_arguments_are_laid_over_the_state_data(engine):
    # given an expression function reading both state data and an argument
    doc = definition(
        operation(
            "Add",
            {
                "functionRef": {"refName": "add", "arguments": {"inc": "${ .step * 2 }"}},
                "actionDataFilter": {"toStateData": "${ .count }"},
            },
        ),
        functions=[{"name": "add", "type": "expression", "operation": ".count + .inc"}],
    )
    # when / then
    assert engine.execute(doc, {"count": 1, "step": 3}) == {"count": 7, "step": 3}
