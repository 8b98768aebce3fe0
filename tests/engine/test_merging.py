"""The spec's merge rules ("Data Merging"), as pure functions and inside a run."""

from apps.workflows.engine.data import merge


def test_objects_merge_recursively_and_the_source_wins():
    state = {"customer": {"name": "John", "address": "1234 street", "zip": "12345"}}
    payload = {"customer": {"name": "John", "zip": "54321"}}
    assert merge(state, payload) == {
        "customer": {"name": "John", "address": "1234 street", "zip": "54321"}
    }


def test_arrays_concatenate_keeping_unique_elements():
    michael = {"name": "Michael", "address": "6789 street", "zip": "6789"}
    john = {"name": "John", "address": "1234 street", "zip": "12345"}
    jane = {"name": "Jane", "address": "4321 street", "zip": "54321"}
    assert merge({"customers": [michael]}, {"customers": [john, jane, michael]}) == {
        "customers": [michael, john, jane]
    }


def test_numbers_and_strings_are_overwritten():
    assert merge({"age": 20}, {"age": 30}) == {"age": 30}
    assert merge({"s": "a"}, {"s": "b"}) == {"s": "b"}


def test_different_types_are_replaced_by_the_source():
    assert merge({"a": [1]}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert merge({"a": 1}, "text") == "text"


def test_merge_does_not_mutate_its_arguments():
    state, payload = {"a": {"b": [1]}}, {"a": {"b": [2]}}
    merge(state, payload)
    assert state == {"a": {"b": [1]}} and payload == {"a": {"b": [2]}}
