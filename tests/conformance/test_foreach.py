"""ForEach state (spec 0.8 "ForEach State")."""

from __future__ import annotations

from .conftest import call, expr_fn, peak_in_flight, wf

ORDERS = {
    "orders": [
        {"orderNumber": "1234", "completed": True, "email": "firstBuyer@buyer.com"},
        {"orderNumber": "5678", "completed": True, "email": "secondBuyer@buyer.com"},
        {"orderNumber": "9910", "completed": False, "email": "thirdBuyer@buyer.com"},
    ]
}


def foreach(name: str, actions: list[dict], **props) -> dict:
    state = {"name": name, "type": "foreach", "actions": actions, **props}
    if "transition" not in state:
        state.setdefault("end", True)
    return state


def test_send_confirmation_spec_example(run, rest):
    # "For each element of the array selected by `inputCollection` a JSON object defined by
    # `iterationParam` should be created ... we would have two parallel executions of the
    # `sendConfirmationFunction`" and "The results of each parallel action execution are
    # stored as elements in the state data array defined by the `outputCollection` property."
    path = rest.route()  # echoes the arguments back as the result
    definition = wf(
        foreach(
            "SendConfirmState",
            [
                call(
                    "sendConfirmationFunction",
                    {
                        "orderNumber": "${ .completedorder.orderNumber }",
                        "email": "${ .completedorder.email }",
                    },
                )
            ],
            inputCollection="${ [.orders[] | select(.completed == true)] }",
            iterationParam="completedorder",
            outputCollection="${ .confirmationresults }",
        ),
        functions=[rest.function("sendConfirmationFunction", path)],
    )
    output = run(definition, ORDERS)
    assert output == {
        **ORDERS,
        "confirmationresults": [
            {"orderNumber": "1234", "email": "firstBuyer@buyer.com"},
            {"orderNumber": "5678", "email": "secondBuyer@buyer.com"},
        ],
    }
    bodies = sorted(c.body["orderNumber"] for c in rest.calls(path))
    assert bodies == ["1234", "5678"]


def test_solve_math_problems_example_output_is_results_array(run):
    # examples/04-solvemathproblems.json: outputCollection "${ .results }" and
    # stateDataFilter output "${ .results }" -> the workflow output is the results array.
    definition = wf(
        foreach(
            "Solve",
            [call("solveMathExpressionFunction", {"expression": "${ .singleexpression }"})],
            inputCollection="${ .expressions }",
            iterationParam="singleexpression",
            outputCollection="${ .results }",
            stateDataFilter={"output": "${ .results }"},
        ),
        functions=[expr_fn("solveMathExpressionFunction", "{solved: .singleexpression}")],
    )
    output = run(definition, {"expressions": ["2+2", "4-1", "10x3"]})
    assert output == [{"solved": "2+2"}, {"solved": "4-1"}, {"solved": "10x3"}]


def test_output_collection_is_created_when_missing(run):
    # "The `outputCollection` property is a workflow expression which selects an array in the
    # state data where the results of each iteration should be added to. If this array does
    # not exist, it should be created."
    definition = wf(
        foreach(
            "Each",
            [call("double")],
            inputCollection="${ .numbers }",
            iterationParam="n",
            outputCollection="${ .doubled }",
        ),
        functions=[expr_fn("double", ".n * 2")],
    )
    assert run(definition, {"numbers": [1, 2, 3]}) == {"numbers": [1, 2, 3], "doubled": [2, 4, 6]}


def test_output_collection_existing_array_is_added_to(run):
    # "... selects an array in the state data where the results of each iteration should be
    # added to." -- results are added to what the array already holds.
    definition = wf(
        foreach(
            "Each",
            [call("double")],
            inputCollection="${ .numbers }",
            iterationParam="n",
            outputCollection="${ .doubled }",
        ),
        functions=[expr_fn("double", ".n * 2")],
    )
    assert run(definition, {"numbers": [5, 6], "doubled": [0]}) == {
        "numbers": [5, 6],
        "doubled": [0, 10, 12],
    }


def test_results_are_in_input_order_even_when_iterations_finish_out_of_order(run, rest):
    # "The results of each parallel action execution are stored as elements in the state data
    # array" -- element i is the result of the iteration over inputCollection[i].
    slow = rest.route((200, {"v": "slow"}, 1.0))
    definition = wf(
        foreach(
            "Each",
            [
                call("slowfn", condition="${ .x == 1 }"),
                call("fast", condition="${ .x != 1 }"),
            ],
            inputCollection="${ .xs }",
            iterationParam="x",
            outputCollection="${ .out }",
        ),
        functions=[rest.function("slowfn", slow), expr_fn("fast", "{v: .x}")],
    )
    assert run(definition, {"xs": [1, 2, 3]}) == {
        "xs": [1, 2, 3],
        "out": [{"v": "slow"}, {"v": 2}, {"v": 3}],
    }


def test_iteration_results_filter_applies_to_each_element(run):
    # An iteration's result is its actions' result after the actionDataFilter `results`.
    definition = wf(
        foreach(
            "Each",
            [call("wrap", actionDataFilter={"results": "${ .value }"})],
            inputCollection="${ .items }",
            iterationParam="item",
            outputCollection="${ .values }",
        ),
        functions=[expr_fn("wrap", "{value: .item.name, other: 1}")],
    )
    assert run(definition, {"items": [{"name": "a"}, {"name": "b"}]}) == {
        "items": [{"name": "a"}, {"name": "b"}],
        "values": ["a", "b"],
    }


def test_parallel_mode_is_the_default(run, rest, history):
    # "Each iteration of the ForEach state is by default executed in parallel by default."
    path = rest.route((200, {"ok": 1}, 1.0))
    definition = wf(
        foreach(
            "Each",
            [call("slow", {"i": "${ .i }"}, actionDataFilter={"useResults": False})],
            inputCollection="${ .items }",
            iterationParam="i",
        ),
        functions=[rest.function("slow", path)],
    )
    run(definition, {"items": [1, 2, 3, 4]})
    assert len(rest.calls(path)) == 4
    assert peak_in_flight(history().calls()) == 4, "the iterations did not run in parallel"


def test_sequential_mode_runs_one_iteration_after_the_other_in_order(run, rest, history):
    # "executing iterations sequentially is also possible by setting the value of the `mode`
    # property to `sequential`."
    path = rest.route((200, {"ok": 1}, 0.4))
    definition = wf(
        foreach(
            "Each",
            [call("slow", {"i": "${ .i }"}, actionDataFilter={"useResults": False})],
            inputCollection="${ .items }",
            iterationParam="i",
            mode="sequential",
        ),
        functions=[rest.function("slow", path)],
    )
    run(definition, {"items": [1, 2, 3]})
    calls = rest.calls(path)
    assert [c.body["i"] for c in calls] == [1, 2, 3]
    assert peak_in_flight(history().calls()) == 1, "iterations overlapped"


def test_batch_size_limits_parallel_iterations(run, rest, history):
    # "if the number of iterations is 55 and `batchSize` is set to `10`, 10 iterations are to
    # be executed at a time" -- here 4 iterations of 1s with batchSize 2: two batches.
    path = rest.route((200, {"ok": 1}, 1.0))
    definition = wf(
        foreach(
            "Each",
            [call("slow", {"i": "${ .i }"}, actionDataFilter={"useResults": False})],
            inputCollection="${ .items }",
            iterationParam="i",
            batchSize=2,
        ),
        functions=[rest.function("slow", path)],
    )
    run(definition, {"items": [1, 2, 3, 4]})
    assert len(rest.calls(path)) == 4
    # two at a time: never more, and not one after the other either
    assert peak_in_flight(history().calls()) == 2


def test_missing_input_collection_is_an_error(run_failure):
    # "If this array does not exist, the runtime should throw an error." Unhandled, the error
    # halts the workflow ("Unknown errors ... should be reported by runtime implementations and
    # halt workflow execution").
    definition = wf(
        foreach(
            "Each",
            [call("noop")],
            inputCollection="${ .nothing }",
            iterationParam="i",
            outputCollection="${ .out }",
        ),
        functions=[expr_fn("noop", "{}")],
    )
    assert run_failure(definition, {"other": 1})


def test_empty_input_collection_runs_no_iteration(run, rest):
    # The iterations are "performed against data elements of this array": none for [].
    path = rest.route({"ok": 1})
    definition = wf(
        foreach(
            "Each",
            [call("f", {"i": "${ .i }"})],
            inputCollection="${ .items }",
            iterationParam="i",
            outputCollection="${ .out }",
        ),
        functions=[rest.function("f", path)],
    )
    output = run(definition, {"items": []})
    assert rest.calls(path) == []
    assert output in ({"items": [], "out": []}, {"items": []})


def test_iteration_param_holds_each_element(run, rest):
    # "The `iterationParam` property defines the name of the iteration parameter passed to
    # each iteration ... It should contain the unique element of the `inputCollection` array"
    path = rest.route({"ok": 1})
    definition = wf(
        foreach(
            "Each",
            [call("f", {"got": "${ .singleorder }"}, actionDataFilter={"useResults": False})],
            inputCollection="${ .orders }",
            iterationParam="singleorder",
        ),
        functions=[rest.function("f", path)],
    )
    run(definition, {"orders": [{"id": 1}, {"id": 2}]})
    assert sorted(c.body["got"]["id"] for c in rest.calls(path)) == [1, 2]


def test_foreach_then_next_state_receives_output(run):
    # ForEach "transition: Next transition of the workflow after state has completed".
    definition = wf(
        foreach(
            "Each",
            [call("sq")],
            inputCollection="${ .n }",
            iterationParam="x",
            outputCollection="${ .squares }",
            transition="Sum",
        ),
        {
            "name": "Sum",
            "type": "inject",
            "data": {"done": True},
            "end": True,
            "stateDataFilter": {"output": "${ {total: (.squares | add), done} }"},
        },
        functions=[expr_fn("sq", ".x * .x")],
    )
    assert run(definition, {"n": [1, 2, 3]}) == {"total": 14, "done": True}


def test_output_collection_nested_path_is_created(run):
    # "If this array does not exist, it should be created." (a nested element)
    definition = wf(
        foreach(
            "Each",
            [call("dbl")],
            inputCollection="${ .xs }",
            iterationParam="x",
            outputCollection="${ .results.doubled }",
        ),
        functions=[expr_fn("dbl", ".x * 2")],
    )
    assert run(definition, {"xs": [1, 2], "results": {"kept": True}}) == {
        "xs": [1, 2],
        "results": {"kept": True, "doubled": [2, 4]},
    }


def test_input_collection_selecting_an_object_is_an_error(run_failure):
    # "The `inputCollection` property is a workflow expression which selects an array in the
    # states data." -- no array, an error.
    definition = wf(
        foreach(
            "Each",
            [call("noop")],
            inputCollection="${ .notAnArray }",
            iterationParam="x",
        ),
        functions=[expr_fn("noop", "{}")],
    )
    assert run_failure(definition, {"notAnArray": {"a": 1}})
