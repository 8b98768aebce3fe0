"""onErrors: errorRef/errorRefs matched by name or code; unhandled errors fail the instance."""

from .builders import definition, operation

ERRORS = [
    {"name": "NotFound", "code": "404"},
    {"name": "Conflict", "code": "409"},
    {"name": "Missing order id"},
]


def _doc(on_errors):
    return definition(
        operation(
            "Provision",
            {"functionRef": {"refName": "provision", "arguments": {"order": "${ .order }"}}},
            onErrors=on_errors,
            stateDataFilter={"output": "${ .never }"},
            transition="Done",
        ),
        {"name": "Done", "type": "inject", "data": {"done": True}, "end": True},
        {"name": "HandleMissing", "type": "inject", "data": {"handled": "missing"}, "end": True},
        {"name": "HandleHttp", "type": "inject", "data": {"handled": "http"}, "end": True},
        errors=ERRORS,
        functions=[{"name": "provision", "operation": "http://x/api.json#provision"}],
    )


def _service(engine):
    def provision(args, req):
        order = args["order"]
        if not order.get("id"):
            return 400, {"code": "Missing order id"}
        return {"gone": 404, "dup": 409}.get(order["id"], 200), {"ok": order["id"]}

    engine.services.add("provision", provision)


def test_error_matched_by_http_code_takes_its_transition(engine):
    # given an error definition with code 404, handled by errorRefs
    _service(engine)
    doc = _doc([{"errorRefs": ["Conflict", "NotFound"], "transition": "HandleHttp"}])
    # when the function answers 404
    out = engine.execute(doc, {"order": {"id": "gone"}})
    # then the handler's state receives the state data (no output filter: the state failed)
    assert out == {"order": {"id": "gone"}, "handled": "http"}


def test_error_refs_order_first_matching_handler_wins(engine):
    _service(engine)
    doc = _doc(
        [
            {"errorRef": "NotFound", "transition": "HandleMissing"},
            {"errorRef": "NotFound", "transition": "HandleHttp"},
        ]
    )
    assert engine.execute(doc, {"order": {"id": "gone"}})["handled"] == "missing"


def test_error_handler_with_end(engine):
    _service(engine)
    doc = _doc([{"errorRef": "Conflict", "end": True}])
    assert engine.execute(doc, {"order": {"id": "dup"}}) == {"order": {"id": "dup"}}


def test_unhandled_error_fails_with_type_message_and_state(engine):
    # given no handler for 409
    _service(engine)
    doc = _doc([{"errorRef": "NotFound", "transition": "HandleHttp"}])
    # when
    started = engine.start(doc, {"order": {"id": "dup"}})
    error = engine.failure_of(started)
    # then the failure carries {type, message, state}
    assert error.type == "409"
    assert error.details[0] == {
        "type": "409",
        "message": "provision failed",
        "state": "Provision",
        "data": {"order": {"id": "dup"}},  # what the state was entered with: retry resumes there
    }
    final = engine.recorder.changes[started.instance_id][-1]
    assert final.status == "failed"
    assert final.error == error.details[0]


def test_expression_error_is_an_error_of_the_state(engine):
    # given an expression that fails at run time (adding a number to an object)
    doc = definition(
        {
            "name": "Bad",
            "type": "switch",
            "dataConditions": [{"condition": "${ .a + 1 }", "end": True}],
            "defaultCondition": {"end": True},
        }
    )
    # when
    error = engine.failure(doc, {"a": {"b": 1}})
    # then
    assert error.type == "ExpressionError"
    assert error.details[0]["state"] == "Bad"


def test_engine_errors_can_be_handled_by_code(engine):
    # given a foreach over something that is not an array, handled as DataError
    doc = definition(
        {
            "name": "Each",
            "type": "foreach",
            "inputCollection": "${ .nothing }",
            "actions": [],
            "onErrors": [{"errorRef": "bad input", "transition": "Fallback"}],
            "end": True,
        },
        {"name": "Fallback", "type": "inject", "data": {"fallback": True}, "end": True},
        errors=[{"name": "bad input", "code": "DataError"}],
    )
    assert engine.execute(doc, {}) == {"fallback": True}


def test_a_bad_duration_in_the_definition_fails_the_state(engine):
    doc = definition({"name": "Nap", "type": "sleep", "duration": "soon", "end": True})
    error = engine.failure(doc, {})
    assert error.type == "DataError" and error.details[0]["state"] == "Nap"


def test_an_unreadable_definition_fails_the_instance(engine):
    doc = definition({"name": "X", "type": "teleport", "end": True})
    assert engine.failure(doc, {}).type == "InvalidDefinition"


def test_input_violating_an_inline_data_input_schema_fails_before_any_state(engine):
    # given an inline dataInputSchema (a schema by URI is checked by the start service)
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    doc = definition(
        {"name": "A", "type": "inject", "data": {"ran": True}, "end": True},
        dataInputSchema={"schema": schema, "failOnValidationErrors": True},
    )
    # when / then
    error = engine.failure(doc, {"age": "old"})
    assert error.type == "InvalidInput" and "age" in error.message
    assert engine.execute(doc, {"age": 3}) == {"age": 3, "ran": True}


def test_fail_on_validation_errors_false_continues(engine):
    doc = definition(
        {"name": "A", "type": "inject", "data": {"ran": True}, "end": True},
        dataInputSchema={"schema": {"required": ["age"]}, "failOnValidationErrors": False},
    )
    assert engine.execute(doc, {}) == {"ran": True}
