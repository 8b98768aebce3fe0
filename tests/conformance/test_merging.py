"""Data Merging (spec 0.8): objects, arrays, numbers, strings; inject merging."""

from __future__ import annotations

import json

from .conftest import call, expr_fn, inject, operation, wf


def result_of(value, **filters) -> dict:
    """A workflow whose one action returns `value` (an expression function literal)."""
    action = call("produce")
    if filters:
        action["actionDataFilter"] = filters
    return wf(operation("A", action), functions=[expr_fn("produce", json.dumps(value))])


CUSTOMER_STATE = {"customer": {"name": "John", "address": "1234 street", "zip": "12345"}}
CUSTOMER_PAYLOAD = {"customer": {"name": "John", "zip": "54321"}}
CUSTOMER_MERGED = {"customer": {"name": "John", "address": "1234 street", "zip": "54321"}}

CUSTOMERS_STATE = {"customers": [{"name": "Michael", "address": "6789 street", "zip": "6789"}]}
CUSTOMERS_PAYLOAD = {
    "customers": [
        {"name": "John", "address": "1234 street", "zip": "12345"},
        {"name": "Jane", "address": "4321 street", "zip": "54321"},
    ]
}
CUSTOMERS_MERGED = {
    "customers": [
        {"name": "Michael", "address": "6789 street", "zip": "6789"},
        {"name": "John", "address": "1234 street", "zip": "12345"},
        {"name": "Jane", "address": "4321 street", "zip": "54321"},
    ]
}


def test_objects_merge_and_the_result_wins_spec_example(run):
    # "If both objects contain a value for the same key, the object of the event data/action
    # results should 'win'." + the customer example (address kept, zip 54321).
    assert run(result_of(CUSTOMER_PAYLOAD), CUSTOMER_STATE) == CUSTOMER_MERGED


def test_objects_merge_keeps_keys_of_both(run):
    # "inserting all the key-value pairs from both objects into a single combined object"
    assert run(result_of({"b": 2}), {"a": 1}) == {"a": 1, "b": 2}


def test_arrays_concatenate_spec_example(run):
    # "Merging array types should be done by concatenating them into a larger array including
    # unique elements of both arrays." + the customers example (Michael, John, Jane).
    assert run(result_of(CUSTOMERS_PAYLOAD), CUSTOMERS_STATE) == CUSTOMERS_MERGED


def test_arrays_keep_unique_elements(run):
    # "... a larger array including unique elements of both arrays."
    assert run(result_of({"tags": ["b", "c"]}), {"tags": ["a", "b"]}) == {"tags": ["a", "b", "c"]}


def test_array_result_merged_into_array_element_via_to_state_data(run):
    # toStateData selects an array of the state data; arrays concatenate.
    definition = result_of(["bread"], toStateData="${ .basket }")
    assert run(definition, {"basket": ["milk"]}) == {"basket": ["milk", "bread"]}


def test_numbers_are_overwritten_spec_example(run):
    # "Merging number types should be done by overwriting ... {age: 30} into {age: 20} would
    # produce state data {age: 30}"
    assert run(result_of({"age": 30}), {"age": 20}) == {"age": 30}


def test_strings_are_overwritten(run):
    # "Merging string types should be done by overwriting the data from events data/action
    # results into the merging element of the state data."
    assert run(result_of({"name": "Jane"}), {"name": "John"}) == {"name": "Jane"}


def test_number_result_into_number_element_overwrites(run):
    # toStateData selects a number element; number merging overwrites it.
    definition = result_of(5, toStateData="${ .count }")
    assert run(definition, {"count": 1, "x": "y"}) == {"count": 5, "x": "y"}


def test_string_result_into_string_element_overwrites(run):
    definition = result_of("new", toStateData="${ .label }")
    assert run(definition, {"label": "old"}) == {"label": "new"}


def test_nested_objects_merge_recursively(run):
    # The customer example merges the nested "customer" object key by key (address stays).
    payload = {"a": {"b": {"c": 2, "e": 5}}}
    assert run(result_of(payload), {"a": {"b": {"c": 1, "d": 4}, "f": 6}}) == {
        "a": {"b": {"c": 2, "d": 4, "e": 5}, "f": 6}
    }


def test_object_result_into_object_element_via_to_state_data(run):
    # "toStateData ... select a specific element of the state data with which merging should
    # be done against."
    definition = result_of({"zip": "54321"}, toStateData="${ .customer }")
    assert run(definition, CUSTOMER_STATE) == CUSTOMER_MERGED


def test_two_actions_merge_in_order_later_wins(run):
    # Sequential actions: each action's results are merged into the state data in turn.
    definition = wf(
        operation("A", call("one"), call("two"), actionMode="sequential"),
        functions=[expr_fn("one", '{"v": 1, "a": 1}'), expr_fn("two", '{"v": 2, "b": 2}')],
    )
    assert run(definition, {}) == {"v": 2, "a": 1, "b": 2}


# --- Inject state ----------------------------------------------------------------------------


def test_inject_hello_world_example(run):
    # examples/01-helloworld.json
    definition = {
        "id": "helloworld",
        "version": "1.0",
        "specVersion": "0.8",
        "name": "Hello World Workflow",
        "description": "Inject Hello World",
        "start": "Hello State",
        "states": [
            {
                "name": "Hello State",
                "type": "inject",
                "data": {"result": "Hello World!"},
                "end": True,
            }
        ],
    }
    assert run(definition) == {"result": "Hello World!"}


def test_inject_simple_person_example(run):
    # "The data output of the 'SimpleInjectState' which then is passed as input to the
    # transition state would be: {person: {...}}"
    person = {"fname": "John", "lname": "Doe", "address": "1234 SomeStreet", "age": 40}
    definition = wf(
        inject("SimpleInjectState", {"person": person}, transition="GreetPersonState"),
        inject("GreetPersonState", {}),
    )
    assert run(definition) == {"person": person}


PEOPLE = [
    {"fname": "John", "lname": "Doe", "address": "1234 SomeStreet", "age": 40},
    {"fname": "Marry", "lname": "Allice", "address": "1234 SomeStreet", "age": 25},
    {"fname": "Kelly", "lname": "Mill", "address": "1234 SomeStreet", "age": 30},
]


def test_inject_output_filter_people_under_40_example(run):
    # "In which case the states data output would include only people whose age is less
    # than 40"
    state = inject(
        "SimpleInjectState",
        {"people": PEOPLE},
        end=True,
        stateDataFilter={"output": "${ {people: [.people[] | select(.age < 40)]} }"},
    )
    assert run(wf(state)) == {"people": PEOPLE[1:]}


def test_inject_output_filter_people_40_or_more_variant(run):
    # "You can change your output path easily during testing, for example change the
    # expression to: ${ {people: [.people[] | select(.age >= 40)]} }"
    state = inject(
        "SimpleInjectState",
        {"people": PEOPLE},
        end=True,
        stateDataFilter={"output": "${ {people: [.people[] | select(.age >= 40)]} }"},
    )
    assert run(wf(state)) == {"people": PEOPLE[:1]}


def test_inject_merges_with_its_data_input(run):
    # "If the inject state already receives a data input from the previous transition state,
    # the inject data should be merged with its data input."
    definition = wf(inject("A", {"person": {"age": 41}, "extra": [2]}))
    data = {"person": {"name": "John", "age": 40}, "extra": [1]}
    assert run(definition, data) == {"person": {"name": "John", "age": 41}, "extra": [1, 2]}


def test_inject_data_is_static_not_evaluated(run):
    # "The inject state `data` property allows you to statically define a JSON object which
    # gets added to the states data input." (static: an expression-looking string stays)
    definition = wf(inject("A", {"text": "plain", "n": 1}))
    assert run(definition, {"x": 1}) == {"x": 1, "text": "plain", "n": 1}
