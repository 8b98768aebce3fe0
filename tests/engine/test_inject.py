"""Inject state: static data merged into the state's data input, then filtered."""

from .builders import definition


def test_inject_into_empty_input(engine):
    doc = definition({"name": "Hello", "type": "inject", "data": {"result": "Hello"}, "end": True})
    assert engine.execute(doc) == {"result": "Hello"}


def test_inject_data_is_static(engine):
    # spec: "statically define a JSON object": expression strings stay as written
    doc = definition({"name": "I", "type": "inject", "data": {"text": "${ .a }"}, "end": True})
    assert engine.execute(doc, {"a": 1}) == {"a": 1, "text": "${ .a }"}


def test_inject_merges_into_the_state_input(engine):
    # spec (Inject State): injected data is merged with the data input
    doc = definition(
        {"name": "I", "type": "inject", "data": {"person": {"age": 40}, "tags": ["b"]}, "end": True}
    )
    assert engine.execute(doc, {"person": {"fname": "John"}, "tags": ["a"]}) == {
        "person": {"fname": "John", "age": 40},
        "tags": ["a", "b"],
    }


def test_inject_with_output_filter_spec_example(engine):
    people = [
        {"fname": "John", "age": 40},
        {"fname": "Marry", "age": 25},
        {"fname": "Kelly", "age": 30},
    ]
    doc = definition(
        {
            "name": "SimpleInjectState",
            "type": "inject",
            "data": {"people": people},
            "stateDataFilter": {"output": "${ {people: [.people[] | select(.age < 40)]} }"},
            "end": True,
        }
    )
    assert engine.execute(doc) == {"people": people[1:]}
