"""jq builtins that read the environment, the clock, files or stdin are refused.

Issue 8: `${ env.SECRET_KEY }` validated and ran, handing the worker's environment to any
definition author; `now` broke replay. The validator reports each such builtin with its path,
and the evaluator refuses it at run time even when a definition skipped validation.
"""

from __future__ import annotations

import pytest

from apps.core import jqeval
from apps.workflows.dsl.validation import validate


def _definition(condition: str, operation: str = ".") -> dict:
    return {
        "id": "refused",
        "version": "1",
        "specVersion": "0.8",
        "start": "Check",
        "functions": [{"name": "f", "type": "expression", "operation": operation}],
        "states": [
            {
                "name": "Check",
                "type": "switch",
                "dataConditions": [{"condition": condition, "transition": "Done"}],
                "defaultCondition": {"transition": "Done"},
            },
            {"name": "Done", "type": "inject", "data": {}, "end": True},
        ],
    }


REFUSED = [
    ("${ env.SECRET_KEY }", "env", "environment variables"),
    ("${ $ENV.SECRET_KEY }", "$ENV", "environment variables"),
    ("${ now > 0 }", "now", "reads the clock"),
    ("${ (0 | localtime | .[0]) > 0 }", "localtime", "time zone"),
    ('${ 0 | strflocaltime("%H") }', "strflocaltime", "time zone"),
    ("${ input }", "input", "further inputs"),
    ("${ [inputs] }", "inputs", "further inputs"),
    ("${ input_filename }", "input_filename", "input file"),
    ("${ input_line_number }", "input_line_number", "input file"),
    ("${ $__loc__ }", "$__loc__", "source location"),
    ("${ $__prog_args }", "$__prog_args", "command line"),
    ("${ debug }", "debug", "error output"),
    ('${ debug("x") }', "debug", "error output"),
    ("${ stderr }", "stderr", "error output"),
    ("${ halt }", "halt", "stops the evaluator"),
    ('${ "x" | halt_error }', "halt_error", "error output"),
    ("${ get_search_list }", "get_search_list", "module search path"),
    ("${ get_jq_origin }", "get_jq_origin", "where jq is installed"),
    ("${ get_prog_origin }", "get_prog_origin", "program's file"),
    ('${ "m" | modulemeta }', "modulemeta", "modules"),
    ('${ import "secrets" as $s; $s }', "import", "disk"),
    ('${ include "lib"; . }', "include", "disk"),
    ('${ "at \\(now)" }', "now", "reads the clock"),
]


@pytest.mark.parametrize(("expression", "name", "why"), REFUSED)
def test_the_validator_refuses_the_builtin_with_its_path(expression, name, why):
    issues = [i for i in validate(_definition(expression)) if i.code == "expression_refused"]
    assert [i.path for i in issues] == ["states[0].dataConditions[0].condition"]
    assert issues[0].is_error
    assert f"uses {name}, which is not available in expressions" in issues[0].message
    assert why in issues[0].message


def test_refused_builtins_are_found_in_expression_functions_and_embedded_text():
    doc = _definition("${ .ok }", operation="now")
    doc["states"][1] = {
        "name": "Done",
        "type": "operation",
        "actions": [
            {
                "functionRef": {
                    "refName": "f",
                    "arguments": {"note": "started at ${ now } by ${ env.USER }"},
                }
            }
        ],
        "end": True,
    }
    issues = [i for i in validate(doc) if i.code == "expression_refused"]
    assert [(i.path, i.message.split(" uses ")[1].split(",")[0]) for i in issues] == [
        ("states[1].actions[0].functionRef.arguments.note", "now"),
        ("states[1].actions[0].functionRef.arguments.note", "env"),
        ("functions[0].operation", "now"),
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "${ .env }",
        '${ .["now"] }',
        "${ {input: .a, debug: .b} }",
        '${ "env and now" }',
        "${ .a # now\n }",
        "${ $ENVS.REGION }",
    ],
)
def test_look_alikes_are_not_refused(expression):
    doc = _definition(expression)
    doc["envs"] = ["REGION"]
    assert [i for i in validate(doc) if i.is_error] == []


def test_a_constant_folding_bomb_is_refused_at_validation_without_harm():
    # jq computes "x" * 1e9 while compiling; the validator compiles in a limited child.
    issues = [i for i in validate(_definition('${ ("x" * 1e9) | length > 0 }')) if i.is_error]
    assert [i.code for i in issues] == ["expression"]
    assert "XFLOW_EXPRESSION_MEMORY_MB" in issues[0].message
    assert validate(_definition("${ .ok }")) == []


@pytest.mark.parametrize("name", sorted(jqeval.REFUSED))
def test_every_refused_name_is_refused_at_run_time_too(name):
    program = {
        "import": 'import "m" as $m; .',
        "include": 'include "m"; .',
        "strflocaltime": 'strflocaltime("%H")',
    }.get(name, name)
    with pytest.raises(jqeval.JqError, match=f"{name.lstrip('$')}.* is not available"):
        jqeval.run(program, "0")
