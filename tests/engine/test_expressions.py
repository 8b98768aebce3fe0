"""jq expressions: `${ }` wrappers, $CONST/$SECRETS/$ENVS, fn: references, argument objects."""

import pytest

from apps.workflows.dsl.expressions import (
    ExpressionError,
    evaluate,
    evaluate_path,
    expand_functions,
    interpolate,
    is_true,
    resolve,
)

FUNCTIONS = (("isAdult", ".age >= 18"), ("adultName", "if fn:isAdult then .name else null end"))


def test_wrapped_and_bare_expressions_evaluate_alike():
    assert evaluate("${ .a.b }", {"a": {"b": 1}}) == 1
    assert evaluate(".a.b", {"a": {"b": 1}}) == 1


def test_variables_are_bound_from_the_instance():
    variables = {"CONST": {"k": 1}, "SECRETS": {"s": "x"}, "ENVS": {"E": "y"}}
    assert evaluate("${ [$CONST.k, $SECRETS.s, $ENVS.E] }", {}, variables) == [1, "x", "y"]


def test_fn_references_expand_recursively():
    assert expand_functions("${ fn:adultName }", FUNCTIONS) == (
        "(if (.age >= 18) then .name else null end)"
    )
    assert evaluate("${ fn:adultName }", {"age": 20, "name": "Ann"}, None, FUNCTIONS) == "Ann"


def test_unknown_fn_reference_is_an_error():
    with pytest.raises(ExpressionError, match="fn:nope"):
        evaluate("${ fn:nope }", {}, None, FUNCTIONS)


def test_resolve_evaluates_nested_expressions_and_keeps_literals():
    value = {"id": "${ .id }", "tags": ["${ .tag }", "fixed"], "n": 3, "text": "not ${ .id }"}
    assert resolve(value, {"id": 7, "tag": "t"}) == {
        "id": 7,
        "tags": ["t", "fixed"],
        "n": 3,
        "text": "not ${ .id }",
    }


def test_interpolate_replaces_embedded_expressions():
    assert interpolate("Hi ${ .name }, ${ .n } new", {"name": "Ann", "n": 2}) == "Hi Ann, 2 new"


def test_paths_for_to_state_data():
    assert evaluate_path("${ .a.b[0] }", {}) == ["a", "b", 0]


def test_jq_truthiness():
    assert is_true(0) and is_true("") and is_true([])
    assert not is_true(None) and not is_true(False)


def test_syntax_errors_are_reported():
    with pytest.raises(ExpressionError):
        evaluate("${ .a | }", {})
