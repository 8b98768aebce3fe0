"""Workflow expressions, constants, secrets and expression functions (spec 0.8)."""

from __future__ import annotations

from .conftest import call, expr_fn, inject, operation, wf


def test_const_in_arguments(run, rest):
    # "Constants can only be accessed inside Workflow expressions via the $CONST namespace.
    # Runtimes must make constants available to expressions under that namespace."
    path = rest.route({"translated": True})
    definition = wf(
        operation("A", call("t", {"word": "${ $CONST.Translations.Dog.Spanish }"})),
        constants={"Translations": {"Dog": {"Serbian": "pas", "Spanish": "perro"}}},
        functions=[rest.function("t", path)],
    )
    assert run(definition, {}) == {"translated": True}
    assert rest.calls(path)[0].body == {"word": "perro"}


def test_const_in_expression_functions(run):
    # "Note that constants can also be used in expression functions" (isAdult with
    # $CONST.AGE.MIN_ADULT)
    definition = wf(
        operation("A", call("isAdult", actionDataFilter={"toStateData": "${ .adult }"})),
        constants={"AGE": {"MIN_ADULT": 18}},
        functions=[expr_fn("isAdult", ".applicant | .age >= $CONST.AGE.MIN_ADULT")],
    )
    assert run(definition, {"applicant": {"age": 20}}) == {"applicant": {"age": 20}, "adult": True}


def test_const_in_state_data_filter(run):
    # $CONST is available to every workflow expression, state data filters included.
    definition = wf(
        inject("A", {}, end=True, stateDataFilter={"output": "${ {limit: $CONST.LIMIT} }"}),
        constants={"LIMIT": 5},
    )
    assert run(definition, {"x": 1}) == {"limit": 5}


def test_secrets_in_arguments(run, rest):
    # Workflow Secrets example: "account": "${ $SECRETS.AZURE_STORAGE_ACCOUNT }" -- "If secrets
    # are defined in a Workflow definition, runtimes must assure to provide their values
    # during Workflow execution."
    path = rest.route({"uploaded": True})
    definition = wf(
        operation(
            "A",
            call(
                "uploadToAzure",
                {
                    "account": "${ $SECRETS.AZURE_STORAGE_ACCOUNT }",
                    "account-key": "${ $SECRETS.AZURE_STORAGE_KEY }",
                },
            ),
        ),
        secrets=["AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY"],
        functions=[rest.function("uploadToAzure", path)],
    )
    secrets = {"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_KEY": "k3y"}
    assert run(definition, {}, secrets=secrets) == {"uploaded": True}
    assert rest.calls(path)[0].body == {"account": "acct", "account-key": "k3y"}


def test_secrets_in_expression_functions(run):
    # "Note that secrets can also be used in expression functions."
    definition = wf(
        operation("A", call("pw")),
        secrets=["MY_PASSWORD"],
        functions=[expr_fn("pw", "{length: ($SECRETS.MY_PASSWORD | length)}")],
    )
    assert run(definition, {}, secrets={"MY_PASSWORD": "hunter2"}) == {"length": 7}


def test_fn_reference_in_a_state_data_filter(run):
    # "`expression` can be either an in-line expression, or a reference to a defined
    # expression function definition" -- "${ fn:myExprFuncName }"
    definition = wf(
        inject("A", {}, end=True, stateDataFilter={"output": "${ fn:summary }"}),
        functions=[expr_fn("summary", "{total: (.items | add)}")],
    )
    assert run(definition, {"items": [1, 2, 3]}) == {"total": 6}


def test_fn_reference_in_arguments(run, rest):
    # Expression functions can be referenced wherever an expression is evaluated.
    path = rest.route({"ok": True})
    definition = wf(
        operation("A", call("f", {"adult": "${ fn:IsAdultApplicant }"})),
        functions=[
            expr_fn("IsAdultApplicant", ".applicant | .age > 18"),
            rest.function("f", path),
        ],
    )
    run(definition, {"applicant": {"age": 26}})
    assert rest.calls(path)[0].body == {"adult": True}


def test_expression_function_input_is_the_state_data(run):
    # "This triggers the evaluation of the defined expression. The input of this expression is
    # by default the current state data."
    definition = wf(
        operation("A", call("size", actionDataFilter={"toStateData": "${ .size }"})),
        functions=[expr_fn("size", ".items | length")],
    )
    assert run(definition, {"items": ["a", "b"]}) == {"items": ["a", "b"], "size": 2}


def test_expression_function_sees_from_state_data(run):
    # fromStateData: "Filter the state data to select only the data that can be used" by the
    # action; the expression function's input is the action data.
    definition = wf(
        operation(
            "A",
            call(
                "size",
                actionDataFilter={"fromStateData": "${ .inner }", "toStateData": "${ .size }"},
            ),
        ),
        functions=[expr_fn("size", ".items | length")],
    )
    assert run(definition, {"inner": {"items": [1, 2, 3]}, "items": []}) == {
        "inner": {"items": [1, 2, 3]},
        "items": [],
        "size": 3,
    }


def test_non_expression_argument_strings_are_literal(run, rest):
    # Arguments: "insufficientMessage": "The requested amount is not available." is passed as
    # written; numbers, booleans and nested literals likewise.
    path = rest.route({"ok": True})
    arguments = {"text": "plain .a text", "n": 3, "flag": False, "list": [1, "x"], "nul": None}
    definition = wf(operation("A", call("f", arguments)), functions=[rest.function("f", path)])
    run(definition, {"a": 1})
    assert rest.calls(path)[0].body == arguments


def test_expression_can_select_the_whole_state_data(run, rest):
    # "${ . }" is the whole state data.
    path = rest.route({"ok": True})
    definition = wf(
        operation("A", call("f", {"all": "${ . }"})), functions=[rest.function("f", path)]
    )
    run(definition, {"a": 1, "b": [2]})
    assert rest.calls(path)[0].body == {"all": {"a": 1, "b": [2]}}


def test_jq_builtins_in_expressions(run):
    # "all workflow expressions should be defined using the jq version 1.6 syntax"
    state = inject(
        "A",
        {},
        end=True,
        stateDataFilter={
            "output": "${ {n: (.xs | length), up: (.s | ascii_upcase), "
            'joined: (.xs | map(tostring) | join("-")), first: .xs[0], '
            'sorted: (.ys | sort), keys: (.o | keys), has: (.o | has("a")), '
            'text: "n=\\(.xs | length)"} }'
        },
    )
    data = {"xs": [1, 2, 3], "s": "abc", "ys": [3, 1, 2], "o": {"b": 1, "a": 2}}
    assert run(wf(state), data) == {
        "n": 3,
        "up": "ABC",
        "joined": "1-2-3",
        "first": 1,
        "sorted": [1, 2, 3],
        "keys": ["a", "b"],
        "has": True,
        "text": "n=3",
    }


def test_expression_lang_jq_explicit(run):
    # "The default value of this property is "jq"."
    definition = wf(
        inject("A", {}, end=True, stateDataFilter={"output": "${ {v: (.a + 1)} }"}),
        expressionLang="jq",
    )
    assert run(definition, {"a": 1}) == {"v": 2}


def test_multiple_expression_functions_reused_in_one_workflow(run):
    # "Defining expressions as part of function definitions has the benefit of being able to
    # reference them by their logical name through workflow states"
    definition = wf(
        operation(
            "A",
            call("isAdult", actionDataFilter={"toStateData": "${ .adult }"}),
            call("isMinor", actionDataFilter={"toStateData": "${ .minor }"}),
        ),
        functions=[
            expr_fn("isAdult", ".applicant | .age >= 18"),
            expr_fn("isMinor", ".applicant | .age < 18"),
        ],
    )
    assert run(definition, {"applicant": {"age": 10}}) == {
        "applicant": {"age": 10},
        "adult": False,
        "minor": True,
    }


def test_fn_reference_inside_a_larger_expression(run):
    # "${ fn:myExprFuncName }" -- and, being an expression, it composes with jq.
    definition = wf(
        inject("A", {}, end=True, stateDataFilter={"output": "${ {ok: (fn:isAdult and .vip)} }"}),
        functions=[expr_fn("isAdult", ".age >= 18")],
    )
    assert run(definition, {"age": 30, "vip": True}) == {"ok": True}
