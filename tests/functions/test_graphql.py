"""GraphQL functions: `<url>#query|mutation#<field>` with a selectionSet, on a real endpoint."""

from __future__ import annotations

import pytest

from apps.workflows.engine.activities.errors import FunctionError
from apps.workflows.engine.activities.graphql import build_document


def graphql(base_url, kind, field):
    return {"name": field, "type": "graphql", "operation": f"{base_url}/graphql#{kind}#{field}"}


def test_query_returns_the_field_of_data(call, base_url, state):
    # Given the spec's `pet` query function
    function = graphql(base_url, "query", "pet")

    # When it is called with an id and a selection set
    result = call(function, {"id": 42}, selection_set="{ id, name }")

    # Then the document inlines the argument and the result is {"pet": ...} as in the spec
    assert state.graphql_queries == ["query { pet(id: 42) { id, name } }"]
    assert result == {"pet": {"id": 42, "name": "Snuffles"}}


def test_mutation_encodes_an_input_object_as_a_graphql_literal(call, base_url, state):
    # Given the spec's createPet mutation
    function = graphql(base_url, "mutation", "createPet")
    pet = {"id": 43, "name": 'Sada "haru"', "favoriteTreatId": 9001, "kind": {"$enum": "DOG"}}

    # When it is called with an input object
    result = call(function, {"pet": pet}, selection_set="id name")

    # Then keys are bare names, strings are escaped, enums are bare, and the result is returned
    assert state.graphql_queries == [
        'mutation { createPet(pet: {id: 43, name: "Sada \\"haru\\"", favoriteTreatId: 9001, '
        "kind: DOG}) { id name } }"
    ]
    assert result == {"createPet": {"id": 43, "name": 'Sada "haru"'}}


def test_query_without_arguments_or_selection(call, base_url, state):
    result = call(graphql(base_url, "query", "pets"), {})

    assert state.graphql_queries == ["query { pets }"]
    assert result == {"pets": [{"id": 1}, {"id": 2}]}


def test_graphql_errors_fail_with_graphql_error_and_the_messages(call_error, base_url):
    # Given a field the server does not know
    # When it is queried
    detail = call_error(graphql(base_url, "query", "owner"), {"id": 1}, selection_set="{ id }")

    # Then the call fails with GraphQLError carrying the server's messages
    assert detail["code"] == "GraphQLError"
    assert "Cannot query field owner" in detail["message"]
    assert detail["body"] == [{"message": "Cannot query field owner"}]


def test_malformed_graphql_operation_is_rejected(call_error, base_url):
    detail = call_error({"name": "g", "type": "graphql", "operation": f"{base_url}/graphql#pet"})

    assert detail["code"] == "InvalidFunction"


def test_argument_names_must_be_graphql_names():
    with pytest.raises(FunctionError) as info:
        build_document("query", "pet", {"bad name": 1}, None)

    assert info.value.code == "InvalidArguments"
