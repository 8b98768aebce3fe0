"""jq workflow expressions (`${ ... }`), evaluated under limits by the platform's evaluator.

Pure module: imported by the validator and inside the Temporal workflow sandbox (passed
through), so no Django here. Evaluation runs in `apps.core.jqeval`'s child processes (which
cache compiled programs by text); a program over a limit raises ExpressionLimit.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from apps.core import jqeval

_WRAPPED = re.compile(r"^\s*\$\{(.*)\}\s*$", re.DOTALL)
# `fn:name` inside an expression references an `expression`-type function (spec 0.8).
FN_REFERENCE = re.compile(r"\bfn:([A-Za-z_][\w\-]*)")


class ExpressionError(ValueError):
    """An expression that does not compile or fails while evaluating."""


class ExpressionLimit(ExpressionError):
    """An evaluation stopped by a limit (CPU, wall clock, memory, output size)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and _WRAPPED.match(value) is not None


def strip_wrapper(text: str) -> str:
    """`${ .a }` -> `.a`; a bare jq text is returned as it is."""
    m = _WRAPPED.match(text)
    return m.group(1).strip() if m else text.strip()


# Variables every expression may read. The jq binding fixes `args` at compile time, so to
# cache one program per text we bind them from the input instead:
# input = [data, $CONST, $SECRETS, $ENVS].
VARIABLES = ("CONST", "SECRETS", "ENVS")
_PRELUDE = ". as [$__data, " + ", ".join("$" + v for v in VARIABLES) + "] | $__data | "
_BOUND = ("__data", *VARIABLES)


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> str:
    """The jq program the evaluator runs for text (wrapper allowed), after _PRELUDE."""
    body = strip_wrapper(text)
    if not body:
        raise ExpressionError("the expression is empty")
    return "(" + body + ")"


FunctionTable = tuple[tuple[str, str], ...]
_MAX_FN_DEPTH = 8


@lru_cache(maxsize=4096)
def expand_functions(text: str, functions: FunctionTable = ()) -> str:
    """Replace `fn:name` by the body of the `expression` function it names (spec 0.8)."""
    body = strip_wrapper(text)
    if "fn:" not in body:
        return body
    table = dict(functions)
    for _ in range(_MAX_FN_DEPTH):

        def _replace(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in table:
                raise ExpressionError(f"fn:{name} names no expression function")
            return "(" + strip_wrapper(table[name]) + ")"

        body = FN_REFERENCE.sub(_replace, body)
        if "fn:" not in body or not FN_REFERENCE.search(body):
            return body
    raise ExpressionError("expression functions reference each other too deeply")


def _program(text: str, functions: FunctionTable) -> str:
    if functions and "fn:" in text:
        return compile_expression(expand_functions(text, functions))
    return compile_expression(text)


def _run(program: str, data: Any, variables: dict[str, Any] | None) -> list[Any]:
    variables = variables or {}
    try:
        payload = json.dumps([data, *(variables.get(v) for v in VARIABLES)])
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"the data is not JSON: {exc}") from None
    try:
        return jqeval.run(program, payload, prefix=_PRELUDE, variables=_BOUND)
    except jqeval.JqLimitExceeded as exc:
        raise ExpressionLimit(exc.limit, str(exc)) from None
    except jqeval.JqError as exc:
        raise ExpressionError(str(exc).strip()) from None


def evaluate(
    text: str,
    data: Any,
    variables: dict[str, Any] | None = None,
    functions: FunctionTable = (),
) -> Any:
    """Evaluate to the first output (None when the program yields nothing)."""
    outputs = _run(_program(text, functions), data, variables)
    return outputs[0] if outputs else None


def evaluate_all(
    text: str, data: Any, variables: dict[str, Any] | None = None, functions: FunctionTable = ()
) -> list[Any]:
    """Every output of the program."""
    return _run(_program(text, functions), data, variables)


def evaluate_path(
    text: str, data: Any, variables: dict[str, Any] | None = None, functions: FunctionTable = ()
) -> list[Any]:
    """The path (list of keys/indexes) an expression such as `${ .a.b }` selects in data."""
    body = expand_functions(text, functions) if functions else strip_wrapper(text)
    outputs = _run(compile_expression("path(" + body + ")"), data, variables)
    if not outputs:
        raise ExpressionError(f"'{body}' selects no element of the state data")
    return outputs[0]


def is_true(value: Any) -> bool:
    """jq truthiness: everything but false and null is true."""
    return value is not None and value is not False


def resolve(
    value: Any,
    data: Any,
    variables: dict[str, Any] | None = None,
    functions: FunctionTable = (),
) -> Any:
    """Evaluate `${ }` strings anywhere inside objects/arrays; other values stay literal."""
    if isinstance(value, str):
        return evaluate(value, data, variables, functions) if is_expression(value) else value
    if isinstance(value, dict):
        return {k: resolve(v, data, variables, functions) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, data, variables, functions) for v in value]
    return value


def interpolate(
    text: str, data: Any, variables: dict[str, Any] | None = None, functions: FunctionTable = ()
) -> str:
    """Replace each embedded `${ ... }` of a larger text (e.g. a GraphQL selection set)."""
    out: list[str] = []
    i = 0
    while True:
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            return "".join(out)
        depth, j = 0, start + 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if depth:
            raise ExpressionError(f"unclosed expression in '{text}'")
        value = evaluate(text[start : j + 1], data, variables, functions)
        out.append(text[i:start])
        out.append(value if isinstance(value, str) else _json_text(value))
        i = j + 1


def _json_text(value: Any) -> str:
    return json.dumps(value)
