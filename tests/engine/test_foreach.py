"""ForEach state: iterationParam, outputCollection, sequential/parallel, batchSize."""

from .builders import definition


def _doc(**extra):
    state = {
        "name": "Each",
        "type": "foreach",
        "inputCollection": "${ .numbers }",
        "iterationParam": "n",
        "outputCollection": "${ .squares }",
        "actions": [{"functionRef": {"refName": "square", "arguments": {"value": "${ .n }"}}}],
        "end": True,
    }
    state.update(extra)
    return definition(
        state, functions=[{"name": "square", "operation": "http://x/api.json#square"}]
    )


def _square_service(engine):
    engine.services.add("square", lambda args, req: (200, args["value"] ** 2))


def test_results_are_collected_in_input_order(engine):
    _square_service(engine)
    out = engine.execute(_doc(), {"numbers": [3, 1, 2]})
    # then the iteration param does not leak into the state data
    assert out == {"numbers": [3, 1, 2], "squares": [9, 1, 4]}


def test_sequential_mode(engine):
    _square_service(engine)
    started = engine.start(_doc(mode="sequential"), {"numbers": [4, 5]})
    assert engine.result(started) == {"numbers": [4, 5], "squares": [16, 25]}
    calls = engine.recorder.calls[started.instance_id]
    assert [c.arguments["value"] for c in calls] == [4, 5]


def test_batch_size_runs_all_iterations(engine):
    _square_service(engine)
    out = engine.execute(_doc(batchSize=2), {"numbers": [1, 2, 3, 4, 5]})
    assert out["squares"] == [1, 4, 9, 16, 25]


def test_results_are_added_to_an_existing_output_array(engine):
    _square_service(engine)
    assert engine.execute(_doc(), {"numbers": [2], "squares": [0]})["squares"] == [0, 4]


def test_default_iteration_param_and_results_filter(engine):
    # given no iterationParam (the runtime's default is `item`) and a results filter
    doc = definition(
        {
            "name": "Each",
            "type": "foreach",
            "inputCollection": "${ [.orders[] | select(.completed)] }",
            "outputCollection": "${ .confirmations }",
            "actions": [{"functionRef": "confirm", "actionDataFilter": {"results": "${ .id }"}}],
            "end": True,
        },
        functions=[
            {
                "name": "confirm",
                "type": "expression",
                "operation": '{id: (.item.orderNumber + "-ok")}',
            }
        ],
    )
    data = {
        "orders": [
            {"orderNumber": "1", "completed": True},
            {"orderNumber": "2", "completed": False},
        ]
    }
    # when
    out = engine.execute(doc, data)
    # then
    assert out == {**data, "confirmations": ["1-ok"]}


def test_empty_collection(engine):
    assert engine.execute(_doc(), {"numbers": []}) == {"numbers": [], "squares": []}
