"""jq builtins expressions may not use: they read the environment, the clock, files or stdin,
or write to the worker's stderr (jq 1.8.2, as bundled by the `jq` package we pin).

Two guards use this table: `refused_uses` finds them in a program's text (the validator reports
each one, the evaluator refuses the program before running it), and `PRELUDE` redefines them to
fail in the child process, so a program that slipped past the text check still cannot use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# name -> why; names are jq function names (any arity) or `$variables`.
REFUSED: dict[str, str] = {
    "env": "it reads the worker's environment variables (use $ENVS)",
    "$ENV": "it reads the worker's environment variables (use $ENVS)",
    "now": "it reads the clock, which would make a replayed workflow take another path",
    "localtime": "it depends on the worker's time zone (use gmtime)",
    "strflocaltime": "it depends on the worker's time zone (use strftime)",
    "input": "it reads further inputs, which expressions do not have",
    "inputs": "it reads further inputs, which expressions do not have",
    "input_filename": "it reads the name of an input file, which expressions do not have",
    "input_line_number": "it reads the position in an input file, which expressions do not have",
    "$__loc__": "it exposes the program's source location",
    "$__prog_args": "it reads the jq command line, which expressions do not have",
    "debug": "it writes to the worker's error output",
    "stderr": "it writes to the worker's error output",
    "halt": "it stops the evaluator",
    "halt_error": "it stops the evaluator and writes to the worker's error output",
    "get_search_list": "it reads jq's module search path on the worker",
    "get_jq_origin": "it reads where jq is installed on the worker",
    "get_prog_origin": "it reads where the program's file is on the worker",
    "modulemeta": "it reads jq modules from the worker's disk",
    "import": "it reads jq modules or data files from the worker's disk",
    "include": "it reads jq modules from the worker's disk",
}

# Redefinitions for the child: each refused function fails with its reason, $ENV is empty.
_ARITIES = {"debug": (0, 1), "halt_error": (0, 1), "strflocaltime": (1,)}


def _definition(name: str, arity: int) -> str:
    params = "(" + "; ".join(f"a{i}" for i in range(arity)) + ")" if arity else ""
    message = f"{name} is not available in expressions: {REFUSED[name]}"
    return f"def {name}{params}: error({_jq_string(message)});"


def _jq_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_FUNCTIONS = [n for n in REFUSED if not n.startswith("$") and n not in ("import", "include")]
# One line: the program follows on the next, so jq's messages only shift by one line.
PRELUDE = (
    " ".join(_definition(n, a) for n in _FUNCTIONS for a in _ARITIES.get(n, (0,)))
    + " {} as $ENV | "
)


@dataclass(frozen=True)
class RefusedUse:
    name: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.name} is not available in expressions: {self.reason}"


_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>")
  | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
  | (?P<variable>\$[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<format>@[A-Za-z0-9_]+)
  | (?P<open>[\[{(])
  | (?P<close>[\]})])
  | (?P<other>\S)
    """,
    re.VERBOSE,
)


@lru_cache(maxsize=4096)
def refused_uses(program: str) -> tuple[RefusedUse, ...]:
    """The refused builtins a jq program uses, in order of first appearance."""
    found: dict[str, RefusedUse] = {}
    for name, is_key in _names(program):
        if not is_key and name in REFUSED and name not in found:
            found[name] = RefusedUse(name, REFUSED[name])
    return tuple(found.values())


def _names(program: str):
    """(name, is_object_key) for each identifier and variable outside strings and comments.

    Conservative by design: whatever the scanner cannot place is treated as code, so a
    refused name is only missed if jq itself would read it as a string, field or key.
    """
    # Stack of open brackets; "s" marks string interpolation `\(` (its `)` resumes the string).
    stack: list[str] = []
    previous = ""
    i = 0
    n = len(program)
    while i < n:
        if stack and stack[-1] == "str":
            i = _skip_string(program, i, stack)
            previous = "string"
            continue
        m = _TOKEN.search(program, i)
        if m is None:
            return
        i = m.end()
        kind = m.lastgroup
        text = m.group()
        if kind == "comment":
            continue
        if kind == "string":
            stack.append("str")
            continue
        if kind == "open":
            stack.append(text)
        elif kind == "close":
            if stack and stack[-1] in ("(", "[", "{", "interp"):
                was = stack.pop()
                if was == "interp":
                    stack.append("str")
                    continue
        elif kind in ("name", "variable"):
            yield text, kind == "name" and _is_key(program, i, stack, previous)
        previous = text if kind in ("open", "other", "close") else kind


def _skip_string(program: str, i: int, stack: list[str]) -> int:
    """Advance over string text from i; stops after the closing quote or at `\\(`."""
    n = len(program)
    while i < n:
        c = program[i]
        if c == "\\" and i + 1 < n:
            if program[i + 1] == "(":
                stack[-1] = "interp"
                return i + 2
            i += 2
            continue
        if c == '"':
            stack.pop()
            return i + 1
        i += 1
    stack.pop()
    return n


def _is_key(program: str, end: int, stack: list[str], previous: str) -> bool:
    """An identifier right after `{` or `,` inside an object, followed by `:`, is a key."""
    if not stack or stack[-1] != "{" or previous not in ("{", ","):
        return False
    rest = program[end:].lstrip()
    return rest.startswith(":") and not rest.startswith("::")
