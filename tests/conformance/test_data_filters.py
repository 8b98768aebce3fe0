"""Workflow Data, State data filters and Action data filters (spec 0.8, "Workflow Data")."""

from __future__ import annotations

from .conftest import call, expr_fn, inject, operation, wf

FRUITS_AND_VEGGIES = {
    "fruits": ["apple", "orange", "pear"],
    "vegetables": [
        {"veggieName": "potato", "veggieLike": True},
        {"veggieName": "broccoli", "veggieLike": False},
    ],
}

BREAD_AND_PASTA = {
    "breads": ["baguette", "brioche", "rye"],
    "pasta": ["penne", "spaghetti", "ravioli"],
}


def const_fn(name: str, value: str) -> dict:
    """An expression function that returns a constant (a jq literal)."""
    return expr_fn(name, value)


# --- Workflow data input / output ------------------------------------------------------------


def test_no_input_defaults_to_an_empty_object(run):
    # "If no input is provided, the default data input should be an empty JSON object"
    assert run(wf(inject("A", {}))) == {}


def test_input_is_the_start_state_data_input(run):
    # "Workflow data input is passed to the workflow starting state as its data input."
    assert run(wf(inject("A", {"b": 2})), {"a": 1}) == {"a": 1, "b": 2}


def test_data_output_of_a_state_is_the_next_state_data_input(run):
    # "When a state completes its execution, its data output is passed to the state's data
    # input it transitions to." / "the last executed workflow state's data output becomes
    # the final Workflow data output"
    definition = wf(
        inject("A", {"b": 2}, transition="B"),
        inject("B", {"c": 3}, transition="C"),
        inject("C", {"d": 4}),
    )
    assert run(definition, {"a": 1}) == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_start_defaults_to_the_first_state(run):
    # "If not defined, the workflow starting state has to be the very first state defined in
    # the workflow states array."
    definition = {
        "id": "nostart",
        "version": "1.0",
        "specVersion": "0.8",
        "states": [inject("First", {"first": True}, transition="Second"), inject("Second", {})],
    }
    assert run(definition, {}) == {"first": True}


def test_start_object_form_with_state_name(run):
    # Start Definition: "If object type, it provides the ability to set the workflow starting
    # state name" (stateName); schedule is required by the table but only affects creation.
    definition = wf(inject("A", {"a": 1}), inject("B", {"b": 1}))
    definition["start"] = {"stateName": "B", "schedule": {"cron": "0 0 1 1 *"}}
    assert run(definition, {}) == {"b": 1}


def test_last_executed_state_output_is_the_workflow_output_not_the_end_state_in_the_array(run):
    # "The workflow data output is the data output of the last executed workflow state."
    definition = wf(
        inject("A", {"a": 1}, transition="C"),
        inject("B", {"b": 1}),
        inject("C", {"c": 1}),
    )
    assert run(definition, {}) == {"a": 1, "c": 1}


# --- State data filters ----------------------------------------------------------------------


def test_state_filter_input_selects_only_fruits(run):
    # Spec example 1: input "${ {fruits: .fruits} }" -> "The state data output then would
    # include only the fruits data"
    state = inject("A", {}, end=True, stateDataFilter={"input": "${ {fruits: .fruits} }"})
    assert run(wf(state), FRUITS_AND_VEGGIES) == {"fruits": ["apple", "orange", "pear"]}


def test_state_filter_input_and_output_veggie_like(run):
    # Spec example 2: "the 'output' of the state filter selects only the vegetables which are
    # 'veggie like'". jq: `.vegetables[] | select(...)` yields the one matching object.
    state = inject(
        "A",
        {},
        end=True,
        stateDataFilter={
            "input": "${ {vegetables: .vegetables} }",
            "output": "${ {vegetables: .vegetables[] | select(.veggieLike == true)} }",
        },
    )
    assert run(wf(state), FRUITS_AND_VEGGIES) == {
        "vegetables": {"veggieName": "potato", "veggieLike": True}
    }


def test_state_filter_input_only_veggie_like(run):
    # Spec example 2, second way: "directly filter only the 'veggie like' vegetables with just
    # the data input path"
    state = inject(
        "A",
        {},
        end=True,
        stateDataFilter={
            "input": "${ {vegetables: [.vegetables[] | select(.veggieLike == true)]} }"
        },
    )
    assert run(wf(state), FRUITS_AND_VEGGIES) == {
        "vegetables": [{"veggieName": "potato", "veggieLike": True}]
    }


def test_state_filter_input_selecting_nothing_leaves_input_unfiltered(run):
    # "If `input` is not defined or does not select any parts of the state's data input, its
    # data input is not filtered."
    state = inject("A", {"x": 1}, end=True, stateDataFilter={"input": "${ .missing }"})
    assert run(wf(state), {"a": 1}) == {"a": 1, "x": 1}


def test_state_filter_output_selecting_nothing_leaves_output_unfiltered(run):
    # "If `output` is not defined or does not select any parts of the state's data output, its
    # data output is not filtered."
    state = inject("A", {"x": 1}, end=True, stateDataFilter={"output": "${ .missing }"})
    assert run(wf(state), {"a": 1}) == {"a": 1, "x": 1}


def test_state_filter_output_is_applied_after_actions(run):
    # "Once all actions have performed, before the state transition or workflow execution
    # completion (if this is an end state), the 'output' of the state filter ..."
    state = operation(
        "A",
        call("make"),
        end=True,
        stateDataFilter={"output": "${ {made: .made} }"},
    )
    definition = wf(state, functions=[const_fn("make", '{"made": "yes"}')])
    assert run(definition, {"a": 1}) == {"made": "yes"}


def test_state_filter_output_feeds_the_next_state(run):
    # "It filters the state's data output to be passed as data input to the transitioning
    # state."
    definition = wf(
        inject("A", {"b": 2}, transition="B", stateDataFilter={"output": "${ {b: .b} }"}),
        inject("B", {"c": 3}),
    )
    assert run(definition, {"a": 1}) == {"b": 2, "c": 3}


def test_state_filter_input_of_the_next_state_applies_to_previous_output(run):
    # "The state data filters `input` property expression is applied when the workflow
    # transitions to the current state and receives its data input."
    definition = wf(
        inject("A", {"b": 2}, transition="B"),
        inject("B", {"c": 3}, end=True, stateDataFilter={"input": "${ {b: .b} }"}),
    )
    assert run(definition, {"a": 1}) == {"b": 2, "c": 3}


def test_output_filter_may_yield_an_array_as_workflow_output(run):
    # Spec example "solvemathproblems": stateDataFilter output "${ .results }" on the end state
    # -> "the filtered state's data output becomes the workflow data output" (an array here).
    state = inject("A", {"results": [1, 2]}, end=True, stateDataFilter={"output": "${ .results }"})
    assert run(wf(state), {}) == [1, 2]


def test_expression_with_surrounding_spaces_in_filter(run):
    # The "Using multiple data filters" example writes "${ .greetings } " (trailing space).
    state = inject("A", {}, end=True, stateDataFilter={"input": "${ .greetings } "})
    assert run(wf(state), {"greetings": {"hello": "Hola"}, "x": 1}) == {"hello": "Hola"}


def test_expression_example_output_filter_reshapes_applicant(run):
    # Workflow Expressions example: output "${ .applicant | {applicant: .name, contactInfo:
    # { email: .email, phone: .phoneNumbers }} }" -> "This would set the data output ..."
    applicant = {
        "applicant": {
            "name": "John Doe",
            "age": 26,
            "email": "johndoe@something.com",
            "address": {
                "streetAddress": "Naist street",
                "city": "Nara",
                "postalCode": "630-0192",
            },
            "phoneNumbers": [
                {"type": "iPhone", "number": "0123-4567-8888"},
                {"type": "home", "number": "0123-4567-8910"},
            ],
        }
    }
    state = inject(
        "A",
        {},
        end=True,
        stateDataFilter={
            "output": "${ .applicant | {applicant: .name, contactInfo: { email: .email, "
            "phone: .phoneNumbers }} }"
        },
    )
    assert run(wf(state), applicant) == {
        "applicant": "John Doe",
        "contactInfo": {
            "email": "johndoe@something.com",
            "phone": [
                {"type": "iPhone", "number": "0123-4567-8888"},
                {"type": "home", "number": "0123-4567-8910"},
            ],
        },
    }


# --- Action data filters ---------------------------------------------------------------------


def bread_state(**filters) -> dict:
    action = call("breadAndPastaTypesFunction")
    if filters:
        action["actionDataFilter"] = filters
    return operation("A", action)


def bread_workflow(**filters) -> dict:
    return wf(
        bread_state(**filters),
        functions=[
            const_fn(
                "breadAndPastaTypesFunction",
                '{"breads": ["baguette", "brioche", "rye"], '
                '"pasta": ["penne", "spaghetti", "ravioli"]}',
            )
        ],
    )


def test_action_results_without_filter_are_merged_into_state_data(run):
    # "If `useResults` is not specified (or it's value set to `true`), action results, if
    # available, should be added/merged to state data."
    assert run(bread_workflow(), {"a": 1}) == {"a": 1, **BREAD_AND_PASTA}


def test_action_results_filter_selects_breads(run):
    # Spec example: results "${ {breads: .breads} }" -> "The `results` will filter the action
    # results, which would then be: {breads: [...]}"
    output = run(bread_workflow(results="${ {breads: .breads} }"), {})
    assert output == {"breads": ["baguette", "brioche", "rye"]}


def test_action_results_to_state_data_items_to_buy(run):
    # Spec example: results "${ [ .breads[0], .pasta[1] ] }", toStateData
    # "${ .itemsToBuyAtStore }" on state data {"itemsToBuyAtStore": []} -> the state data
    # would be {"itemsToBuyAtStore": ["baguette", "spaghetti"]}
    definition = bread_workflow(
        results="${ [ .breads[0], .pasta[1] ] }", toStateData="${ .itemsToBuyAtStore }"
    )
    assert run(definition, {"itemsToBuyAtStore": []}) == {
        "itemsToBuyAtStore": ["baguette", "spaghetti"]
    }


def test_action_to_state_data_element_is_created_when_missing(run):
    # Data Merging: "toStateData ... select a specific element of the state data ... If this
    # element does not exist, a new one should be created first."
    definition = bread_workflow(results="${ .breads }", toStateData="${ .items }")
    assert run(definition, {"a": 1}) == {"a": 1, "items": ["baguette", "brioche", "rye"]}


def test_action_to_state_data_nested_element_is_created(run):
    # "If this element does not exist, a new one should be created first." (nested path)
    definition = bread_workflow(results="${ .pasta[0] }", toStateData="${ .order.pasta }")
    assert run(definition, {"order": {"id": 7}}) == {"order": {"id": 7, "pasta": "penne"}}


def test_action_use_results_false_merges_nothing(run):
    # "In the case action results should not be added/merged to state data, we can set the
    # `useResults` property to `false`."
    assert run(bread_workflow(useResults=False), {"a": 1}) == {"a": 1}


def test_action_use_results_false_ignores_results_and_to_state_data(run):
    # "In this case, the `results` and `toStateData` properties should be ignored, and nothing
    # is added/merged to state data."
    definition = bread_workflow(
        useResults=False, results="${ .breads }", toStateData="${ .itemsToBuyAtStore }"
    )
    assert run(definition, {"a": 1}) == {"a": 1}


def test_action_from_state_data_limits_what_arguments_see(run, rest):
    # "Filter the state data to select only the data that can be used within function
    # definition arguments using its `fromStateData` property."
    path = rest.route({"ok": True})
    action = call(
        "greet",
        {"greeting": "${ .spanish }", "outside": "${ .language }"},
        actionDataFilter={"fromStateData": "${ .hello }", "useResults": False},
    )
    definition = wf(operation("A", action), functions=[rest.function("greet", path)])
    data = {"language": "spanish", "hello": {"spanish": "Hola", "english": "Hello"}}
    assert run(definition, data) == data
    assert rest.calls(path)[0].body == {"greeting": "Hola", "outside": None}


def test_action_results_filter_and_to_state_data_together(run):
    # Table: results "filters the actions data results"; toStateData "selects a state data
    # element to which the action results should be added/merged into".
    definition = bread_workflow(results="${ .breads[1] }", toStateData="${ .choice }")
    assert run(definition, {"choice": "none"}) == {"choice": "brioche"}


def test_sequential_actions_see_previous_action_results(run, rest):
    # Operation state: "a set of actions to be performed in sequence"; results are merged into
    # state data, so the second action's arguments see the first one's result.
    path = rest.route({"second": "done"})
    definition = wf(
        operation(
            "A",
            call("first"),
            call("echo", {"seen": "${ .first }"}),
            actionMode="sequential",
        ),
        functions=[expr_fn("first", '{"first": 1}'), rest.function("echo", path)],
    )
    assert run(definition, {}) == {"first": 1, "second": "done"}
    assert rest.calls(path)[0].body == {"seen": 1}


def test_increment_count_expression_function_example(run):
    # "Using Functions for Expression Evaluation" (simpleadd): inject count 0, then
    # ".count += 1 | .count" with toStateData "${ .count }" -> {"count": 1}
    definition = wf(
        inject("Initialize Count", {"count": 0}, transition="Increment Count"),
        operation(
            "Increment Count",
            call("Increment Count Function", actionDataFilter={"toStateData": "${ .count }"}),
        ),
        functions=[expr_fn("Increment Count Function", ".count += 1 | .count")],
    )
    assert run(definition) == {"count": 1}


def test_functionref_string_form(run):
    # FunctionRef: "If `string` type, it defines the name of the referenced function."
    definition = wf(
        operation("A", {"functionRef": "make"}),
        functions=[expr_fn("make", '{"made": true}')],
    )
    assert run(definition, {}) == {"made": True}


def test_arguments_example_nested_object_and_literal(run, rest):
    # FunctionRef arguments example (checkFundsAvailabe): nested "account": {"id":
    # "${ .accountId }"}, "forAmount": "${ .payment.amount }", and a literal message.
    path = rest.route({"funds": "ok"})
    arguments = {
        "account": {"id": "${ .accountId }"},
        "forAmount": "${ .payment.amount }",
        "insufficientMessage": "The requested amount is not available.",
    }
    definition = wf(
        operation("A", call("checkFundsAvailabe", arguments)),
        functions=[rest.function("checkFundsAvailabe", path)],
    )
    output = run(definition, {"accountId": "A-1", "payment": {"amount": 30}})
    assert output == {"accountId": "A-1", "payment": {"amount": 30}, "funds": "ok"}
    assert rest.calls(path)[0].body == {
        "account": {"id": "A-1"},
        "forAmount": 30,
        "insufficientMessage": "The requested amount is not available.",
    }


def test_greeting_example_results_filter_scalar_replaces_nothing_else(run, rest):
    # examples/02-greeting.json: results "${ .greeting }" of a service returning
    # {"greeting": "..."} -> the selected value is merged into the state data. A string
    # merged into an object is a type mismatch ("you should not merge arrays with objects or
    # objects with arrays etc."); so a definition gives a toStateData. Here: greeting into
    # .greeting keeps the person.
    path = rest.route({"greeting": "Hello John"})
    definition = wf(
        operation(
            "Greet",
            call(
                "greetingFunction",
                {"name": "${ .person.name }"},
                actionDataFilter={"results": "${ .greeting }", "toStateData": "${ .greeting }"},
            ),
        ),
        functions=[rest.function("greetingFunction", path)],
    )
    assert run(definition, {"person": {"name": "John"}}) == {
        "person": {"name": "John"},
        "greeting": "Hello John",
    }
    assert rest.calls(path)[0].body == {"name": "John"}
