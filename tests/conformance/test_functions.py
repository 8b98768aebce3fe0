"""Function types: GraphQL and custom (spec 0.8 "Workflow Functions")."""

from __future__ import annotations

from .conftest import call, wf

PET = {"id": 42, "name": "Snuffles", "favoriteTreat": {"id": 9001}}
SADAHARU = {"id": 43, "name": "Sadaharu", "favoriteTreat": {"id": 9001}}


def graphql_fn(rest, name: str, kind: str, field: str, reply: dict) -> tuple[dict, str]:
    path = rest.route({"data": {field: reply}})
    function = {"name": name, "operation": f"{rest.base}{path}#{kind}#{field}", "type": "graphql"}
    return function, path


def test_graphql_query_result(run, rest):
    # "Invoking a GraphQL Query": functionRef {"refName": "getOnePet", "arguments": {"id": 42},
    # "selectionSet": "{ id, name, favoriteTreat { id } }"} -- "Which would return the
    # following result: {"pet": {"id": 42, "name": "Snuffles", "favoriteTreat": {"id": 9001}}}"
    function, path = graphql_fn(rest, "getOnePet", "query", "pet", PET)
    action = {
        "functionRef": {
            "refName": "getOnePet",
            "arguments": {"id": 42},
            "selectionSet": "{ id, name, favoriteTreat { id } }",
        }
    }
    definition = wf(
        {"name": "A", "type": "operation", "actions": [action], "end": True},
        functions=[function],
    )
    output = run(definition, {})
    query = rest.calls(path)[0].body["query"]
    assert "pet" in query and "42" in query and "favoriteTreat" in query
    assert output == {"pet": PET}


def test_graphql_mutation_result(run, rest):
    # "Invoking a GraphQL Mutation": createPet with "arguments": {"pet": {...}} -- "creating
    # the object and returning the following data: {"pet": {"id": 43, "name": "Sadaharu",
    # "favoriteTreat": {"id": 9001}}}". As in the query example the result is the response's
    # `data` object, keyed by the field; the spec prints "pet" where the field is createPet
    # (read as a typo: the key is the mutation field).
    function, path = graphql_fn(rest, "createPet", "mutation", "createPet", SADAHARU)
    action = {
        "functionRef": {
            "refName": "createPet",
            "arguments": {"pet": {"id": 43, "name": "Sadaharu", "favoriteTreatId": 9001}},
            "selectionSet": "{ id, name, favoriteTreat { id } }",
        },
    }
    definition = wf(
        {"name": "A", "type": "operation", "actions": [action], "end": True},
        functions=[function],
    )
    output = run(definition, {})
    query = rest.calls(path)[0].body["query"]
    assert query.lstrip().startswith("mutation") and "Sadaharu" in query
    assert output == {"createPet": SADAHARU}


def test_graphql_expressions_in_arguments_and_selection_set(run, rest):
    # "Note you can include expressions in both `arguments` and `selectionSet` ... Expressions
    # must be evaluated before executing the operation."
    function, path = graphql_fn(rest, "getOnePet", "query", "pet", {"id": 7})
    action = {
        "functionRef": {
            "refName": "getOnePet",
            "arguments": {"id": "${ .petId }"},
            "selectionSet": (
                "{ id, name, age(useDogYears: ${ .isPetADog }) { dateOfBirth, years } }"
            ),
        },
        "actionDataFilter": {"useResults": False},
    }
    definition = wf(
        {"name": "A", "type": "operation", "actions": [action], "end": True},
        functions=[function],
    )
    run(definition, {"petId": 7, "isPetADog": True})
    query = rest.calls(path)[0].body["query"]
    assert "7" in query and "useDogYears: true" in query and "${" not in query


def test_rest_function_type_defaults_to_rest(run, rest):
    # Function Definition: "type ... Default is `rest`"
    path = rest.route({"ok": 1})
    function = rest.function("f", path)
    function.pop("type")
    definition = wf(
        {"name": "A", "type": "operation", "actions": [call("f")], "end": True},
        functions=[function],
    )
    assert run(definition, {}) == {"ok": 1}


def openapi_document(rest, target: str, method: str, operation: dict) -> str:
    """Serve an OpenAPI 3 document with one operation on `target`; its URL."""
    document = {
        "openapi": "3.0.0",
        "info": {"title": "conformance", "version": "1.0"},
        "servers": [{"url": rest.base}],
        "paths": {target: {method: operation}},
    }
    return rest.base + rest.route(document)


def test_rest_openapi_operation_with_a_json_body(run, rest):
    # Function Definition: "If `type` is `rest`, a combination of the function/service OpenAPI
    # definition document URI and the particular service operation that needs to be invoked,
    # separated by a '#'." -- the arguments become the request.
    target = rest.route({"greeting": "Hola John"})
    document = openapi_document(
        rest,
        target,
        "post",
        {
            "operationId": "greeting",
            "requestBody": {
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {"200": {"description": "ok"}},
        },
    )
    definition = wf(
        {
            "name": "Greet",
            "type": "operation",
            "actions": [call("greetingFunction", {"name": "${ .person.name }"})],
            "end": True,
        },
        functions=[{"name": "greetingFunction", "operation": f"{document}#greeting"}],
    )
    assert run(definition, {"person": {"name": "John"}}) == {
        "person": {"name": "John"},
        "greeting": "Hola John",
    }
    assert rest.calls(target)[0].body == {"name": "John"}


def test_rest_openapi_operation_with_query_parameters(run, rest):
    # "https://petstore.swagger.io/v2/swagger.json#getPetById"-style operations: arguments named
    # like the operation's parameters fill them.
    target = rest.route({"pet": {"name": "Rex"}})
    document = openapi_document(
        rest,
        target,
        "get",
        {
            "operationId": "getPetById",
            "parameters": [{"name": "petId", "in": "query", "required": True}],
            "responses": {"200": {"description": "ok"}},
        },
    )
    definition = wf(
        {
            "name": "Get",
            "type": "operation",
            "actions": [call("getPet", {"petId": "${ .id }"})],
            "end": True,
        },
        functions=[{"name": "getPet", "operation": f"{document}#getPetById", "type": "rest"}],
    )
    assert run(definition, {"id": 7}) == {"id": 7, "pet": {"name": "Rex"}}
    (only,) = rest.calls(target)
    assert only.method == "GET" and "petId=7" in only.path


def test_auth_ref_is_used_to_access_the_operation_resource(run, rest):
    # Auth Definition: "Auth definitions can be used to define authentication information that
    # should be applied to resources defined in the operation property of function
    # definitions. It is not used as authentication information for the function invocation,
    # but just to access the resource containing the function invocation information." --
    # the OpenAPI document is fetched with the basic credentials.
    target = rest.route({"ok": True})
    document = openapi_document(
        rest,
        target,
        "get",
        {"operationId": "hello", "responses": {"200": {"description": "ok"}}},
    )
    definition = wf(
        {"name": "A", "type": "operation", "actions": [call("hello")], "end": True},
        functions=[{"name": "hello", "operation": f"{document}#hello", "authRef": "My Basic Auth"}],
        auth=[
            {
                "name": "My Basic Auth",
                "scheme": "basic",
                "properties": {"username": "user", "password": "pass"},
            }
        ],
    )
    assert run(definition, {}) == {"ok": True}
    doc_path = document[len(rest.base) :]
    (fetch,) = rest.calls(doc_path)
    assert fetch.headers.get("authorization") == "Basic dXNlcjpwYXNz"
