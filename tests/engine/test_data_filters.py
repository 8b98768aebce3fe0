"""State and action data filters, with the spec's own examples ("Workflow Data")."""

from .builders import definition, operation

FOOD = {
    "fruits": ["apple", "orange", "pear"],
    "vegetables": [
        {"veggieName": "potato", "veggieLike": True},
        {"veggieName": "broccoli", "veggieLike": False},
    ],
}


def _inject_with_filter(flt):
    return definition(
        {"name": "F", "type": "inject", "data": {}, "stateDataFilter": flt, "end": True}
    )


def test_state_input_filter_selects_fruits(engine):
    assert engine.execute(_inject_with_filter({"input": "${ {fruits: .fruits} }"}), FOOD) == {
        "fruits": ["apple", "orange", "pear"]
    }


def test_state_input_and_output_filters(engine):
    flt = {
        "input": "${ {vegetables: .vegetables} }",
        "output": "${ {vegetables: [.vegetables[] | select(.veggieLike == true)]} }",
    }
    assert engine.execute(_inject_with_filter(flt), FOOD) == {
        "vegetables": [{"veggieName": "potato", "veggieLike": True}]
    }


def test_filter_selecting_nothing_leaves_data_unfiltered(engine):
    # spec: "If input is not defined or does not select any parts ... not filtered"
    assert (
        engine.execute(
            _inject_with_filter({"input": "${ .missing }", "output": "${ .nothing }"}), FOOD
        )
        == FOOD
    )


def test_output_filter_output_becomes_next_state_input(engine):
    doc = definition(
        {
            "name": "A",
            "type": "inject",
            "data": {"x": 1},
            "stateDataFilter": {"output": "${ {x} }"},
            "transition": "B",
        },
        {"name": "B", "type": "inject", "data": {"y": 2}, "end": True},
    )
    assert engine.execute(doc, {"dropped": True}) == {"x": 1, "y": 2}


def _breads(action_filter, data):
    engine_doc = definition(
        operation(
            "Buy", {"functionRef": "breadAndPastaTypesFunction", "actionDataFilter": action_filter}
        ),
        functions=[
            {
                "name": "breadAndPastaTypesFunction",
                "type": "expression",
                "operation": '{breads: ["baguette", "brioche", "rye"], '
                'pasta: ["penne", "spaghetti", "ravioli"]}',
            }
        ],
    )
    return engine_doc, data


def test_action_results_filter(engine):
    doc, data = _breads({"results": "${ {breads: .breads} }"}, {})
    assert engine.execute(doc, data) == {"breads": ["baguette", "brioche", "rye"]}


def test_action_results_to_state_data_array(engine):
    # spec example: results into .itemsToBuyAtStore
    doc, data = _breads(
        {"results": "${ [ .breads[0], .pasta[1] ] }", "toStateData": "${ .itemsToBuyAtStore }"},
        {"itemsToBuyAtStore": []},
    )
    assert engine.execute(doc, data) == {"itemsToBuyAtStore": ["baguette", "spaghetti"]}


def test_to_state_data_creates_missing_elements(engine):
    doc, data = _breads(
        {"results": "${ .breads[1] }", "toStateData": "${ .shopping.bread }"}, {"a": 1}
    )
    assert engine.execute(doc, data) == {"a": 1, "shopping": {"bread": "brioche"}}


def test_use_results_false_ignores_results(engine):
    doc, data = _breads(
        {"useResults": False, "results": "${ .breads }", "toStateData": "${ .x }"}, {"a": 1}
    )
    assert engine.execute(doc, data) == {"a": 1}


def test_from_state_data_limits_what_arguments_see(engine):
    doc = definition(
        operation(
            "Greet",
            {
                "functionRef": {"refName": "greet", "arguments": {"name": "${ .name }"}},
                "actionDataFilter": {
                    "fromStateData": "${ .person }",
                    "toStateData": "${ .greeting }",
                },
            },
        ),
        functions=[{"name": "greet", "type": "expression", "operation": '"Hello " + .name'}],
    )
    assert engine.execute(doc, {"person": {"name": "Ann"}, "name": "Not me"}) == {
        "person": {"name": "Ann"},
        "name": "Not me",
        "greeting": "Hello Ann",
    }


def test_scalar_result_without_to_state_data_replaces_the_state_data(engine):
    # spec (Data Merging): strings overwrite the merging element — here the whole state data
    doc = definition(
        operation(
            "Greet", {"functionRef": "greet", "actionDataFilter": {"results": "${ .greeting }"}}
        ),
        functions=[
            {
                "name": "greet",
                "type": "expression",
                "operation": '{greeting: "Welcome, " + .person.name + "!"}',
            }
        ],
    )
    assert engine.execute(doc, {"person": {"name": "John"}}) == "Welcome, John!"
