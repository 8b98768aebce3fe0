"""A conservative proof that a jq program is cheap enough to run in-process, without a child.

Most workflow expressions are paths, comparisons, small objects and string templates. For
those a round trip to a child process costs more than the evaluation. `is_cheap` accepts a
program only if it is built from a small grammar in which, provably:

- no construct iterates or recurses (no `.[]`, `..`, `,` outside `[...]`, `reduce`, `def`,
  `range`, `limit`, `map`, regexes, ...), so every sub-expression yields at most one output
  and runs once: time is linear in the text times the input (sorting: n log n);
- the output is at most `MAX_FACTOR` times max(input size, program length): the parser
  bounds each sub-expression's output as a multiple of that unit (paths and variables: 1,
  `a + b`: sum, `a | b`: product, `x * k` with a literal k <= 16: k times, ...);
- jq's compile-time constant folding only sees literals from the text (`"x" * 16` at most).

Anything the grammar does not know goes to a child. Unsound acceptance would reopen issue 8,
so when in doubt, the grammar says no.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

MAX_FACTOR = 16
MAX_TEXT = 2000
_MAX_MULTIPLIER = 16

# Builtins applied to `.`: name -> output bound as a multiple of their input.
_FILTERS = {
    # scalars out
    "length": 1,
    "utf8bytelength": 1,
    "type": 1,
    "not": 1,
    "floor": 1,
    "ceil": 1,
    "round": 1,
    "fabs": 1,
    "sqrt": 1,
    "tonumber": 1,
    "isnan": 1,
    "isinfinite": 1,
    "isnormal": 1,
    "empty": 1,
    # a part, a permutation or a case change of the input
    "keys": 4,  # an array's indexes: "99999," for an element "0,"
    "keys_unsorted": 4,
    "reverse": 1,
    "sort": 1,
    "unique": 1,
    "min": 1,
    "max": 1,
    "first": 1,
    "last": 1,
    "ascii_downcase": 1,
    "ascii_upcase": 1,
    "trim": 1,
    "ltrim": 1,
    "rtrim": 1,
    "tostring": 6,  # JSON text: a control character becomes \\u00XX
    "tojson": 6,
}
# Builtins taking one literal argument (a string or a number): same bound as above.
_LITERAL_ARG = {"has": 1, "startswith": 1, "endswith": 1, "ltrimstr": 1, "rtrimstr": 1}
_KEYWORDS = {"if", "then", "elif", "else", "end", "and", "or"}
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _No(Exception):
    """Not provably cheap."""


def _bound(factor: float) -> float:
    # Checked at every node, not only at the top: a comparison or a condition discards its
    # operands' bounds, yet `big == big` still walks both (jq shares values, so a value
    # built by doubling is small in memory but exponential to compare or print).
    if factor > MAX_FACTOR:
        raise _No
    return factor


@lru_cache(maxsize=4096)
def is_cheap(program: str, variables: frozenset[str] = frozenset()) -> bool:
    """True only if program provably runs in linear time with a bounded output."""
    if len(program) > MAX_TEXT or "#" in program or "@" in program:
        return False
    try:
        parser = _Parser(program, variables)
        factor = parser.pipe()
        parser.skip()
        return parser.i == len(program) and factor <= MAX_FACTOR
    except (_No, RecursionError):
        return False


class _Parser:
    """Recursive descent over jq's precedence: | < , < // < or < and < compare < + - < * / %."""

    def __init__(self, text: str, variables: frozenset[str]) -> None:
        self.s = text
        self.i = 0
        self.variables = variables
        self.depth = 0

    # --- scanning

    def skip(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def peek(self, token: str) -> bool:
        self.skip()
        if not self.s.startswith(token, self.i):
            return False
        if token[-1].isalnum():  # a keyword must not run into an identifier
            end = self.i + len(token)
            return end == len(self.s) or not (self.s[end].isalnum() or self.s[end] == "_")
        return True

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.i += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.take(token):
            raise _No

    def ident(self) -> str | None:
        self.skip()
        m = _IDENT.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        return m.group()

    def number(self) -> float | None:
        self.skip()
        m = _NUMBER.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        return float(m.group())

    # --- grammar; each returns the output bound as a multiple of the unit

    def pipe(self, commas: bool = False) -> float:
        factor = self.comma_list() if commas else self.alternative()
        while self.peek("|") and not self.peek("|="):
            self.i += 1
            factor = _bound(self.alternative() * max(factor, 1))
        return factor

    def comma_list(self) -> float:
        total = max(self.alternative(), 1)
        while self.take(","):
            total = _bound(total + max(self.alternative(), 1))
        return total

    def alternative(self) -> float:
        factor = self.disjunction()
        while self.peek("//") and not self.peek("//="):
            self.i += 2
            factor = max(factor, self.disjunction())
        return factor

    def disjunction(self) -> float:
        factor = self.conjunction()
        while self.take("or"):
            self.conjunction()
            factor = 1
        return factor

    def conjunction(self) -> float:
        factor = self.comparison()
        while self.take("and"):
            self.comparison()
            factor = 1
        return factor

    def comparison(self) -> float:
        factor = self.additive()
        for op in ("==", "!=", "<=", ">=", "<", ">"):
            if self.peek(op):
                self.i += len(op)
                self.additive()
                return 1
        if self.peek("=") or self.peek("|="):
            raise _No  # assignments
        return factor

    def additive(self) -> float:
        factor, literal = self.multiplicative()
        while True:
            if self.peek("+=") or self.peek("-="):
                raise _No
            if self.take("+"):
                right, _ = self.multiplicative()
                factor, literal = _bound(factor + right), None
            elif self.take("-"):
                # `a - b` on two arrays is quadratic: only with a number literal on one side.
                _, right_literal = self.multiplicative()
                if literal is None and right_literal is None:
                    raise _No
                factor, literal = 1, None
            else:
                return factor

    def multiplicative(self) -> tuple[float, float | None]:
        """(bound, value when the operand is a bare number literal)."""
        factor, literal = self.unary()
        while True:
            if self.peek("*=") or self.peek("/=") or self.peek("%="):
                raise _No
            op = next((o for o in ("*", "/", "%") if self.peek(o)), None)
            if op is None or self.peek("//"):
                return factor, literal
            self.i += 1
            right, right_literal = self.unary()
            if op == "*":
                # String repetition ("x" * .n) is the classic bomb: one side must be a small
                # number literal, and the other side's bound grows by it.
                if right_literal is not None:
                    k, base = right_literal, factor
                elif literal is not None:
                    k, base = literal, right
                else:
                    raise _No
                if not math.isfinite(k) or abs(k) > _MAX_MULTIPLIER:
                    raise _No
                factor = _bound(max(base, 1) * max(math.ceil(abs(k)), 1))
            else:
                # `/` splits strings by a computed separator; with a number it is arithmetic.
                if literal is None and right_literal is None:
                    raise _No
                factor = 1
            literal = None

    def unary(self) -> tuple[float, float | None]:
        negative = self.take("-")
        self.skip()
        number = _NUMBER.match(self.s, self.i)
        if number and not self._postfix_after(number.end()):
            self.i = number.end()
            value = float(number.group())
            return 1, -value if negative else value
        factor = self.postfix()
        return (1, None) if negative else (factor, None)

    def _postfix_after(self, end: int) -> bool:
        rest = self.s[end:].lstrip()
        return rest[:1] in (".", "[", "?") and not rest.startswith("..")

    def postfix(self) -> float:
        factor = self.term()
        while True:
            self.skip()
            if self.take("?"):
                continue
            if self.s.startswith(".", self.i) and not self.s.startswith("..", self.i):
                self.i += 1
                self._field()
                continue
            if self.take("["):
                self._index()
                continue
            return factor

    def _field(self) -> None:
        if self.s.startswith('"', self.i):
            self._plain_string()
        elif not _IDENT.match(self.s, self.i):
            raise _No
        else:
            self.ident()

    def _index(self) -> None:
        # Only a literal key or index: `.[expr]` with an array indexes subarrays (quadratic).
        self.skip()
        if self.s.startswith('"', self.i):
            self._plain_string()
        else:
            self.take("-")
            if self.number() is None:
                raise _No
        self.expect("]")

    def term(self) -> float:
        self.depth += 1
        if self.depth > 200:
            raise _No
        try:
            return self._term()
        finally:
            self.depth -= 1

    def _term(self) -> float:
        self.skip()
        if self.i >= len(self.s):
            raise _No
        c = self.s[self.i]
        if c == ".":
            if self.s.startswith("..", self.i):
                raise _No
            self.i += 1
            if self.s.startswith('"', self.i) or _IDENT.match(self.s, self.i):
                self._field()
            elif self.s.startswith("[", self.i):
                self.i += 1
                self._index()
            return 1
        if c == "$":
            self.i += 1
            name = self.ident()
            if name is None or name not in self.variables:
                raise _No
            return 1
        if c == '"':
            return self._string()
        if c == "(":
            self.i += 1
            factor = self.pipe()
            self.expect(")")
            return factor
        if c == "[":
            self.i += 1
            if self.take("]"):
                return 1
            factor = self.pipe(commas=True)
            self.expect("]")
            return factor
        if c == "{":
            return self._object()
        if self.number() is not None:
            return 1
        return self._named()

    def _named(self) -> float:
        name = self.ident()
        if name in ("true", "false", "null"):
            return 1
        if name == "if":
            return self._if()
        if name == "path":
            return self._path_of()
        if name == "select":
            self.expect("(")
            self.pipe()
            self.expect(")")
            return 1
        if name in _LITERAL_ARG:
            self.expect("(")
            if self._literal() is None:
                raise _No
            self.expect(")")
            return _LITERAL_ARG[name]
        if name in _FILTERS and not self.peek("("):
            return _FILTERS[name]
        raise _No

    def _literal(self) -> float | None:
        self.skip()
        if self.s.startswith('"', self.i):
            self._plain_string()
            return 1
        return self.number()

    def _if(self) -> float:
        self.pipe()
        self.expect("then")
        factor = self.pipe()
        while self.take("elif"):
            self.pipe()
            self.expect("then")
            factor = max(factor, self.pipe())
        # Without else, jq passes the input through.
        factor = max(factor, self.pipe()) if self.take("else") else max(factor, 1)
        self.expect("end")
        return factor

    def _path_of(self) -> float:
        # path(.a.b[0]): the keys of a literal path, nothing computed.
        self.expect("(")
        self.skip()
        if not self.s.startswith(".", self.i) or self.s.startswith("..", self.i):
            raise _No
        self.i += 1
        if self.s.startswith('"', self.i) or _IDENT.match(self.s, self.i):
            self._field()
        elif self.s.startswith("[", self.i):
            self.i += 1
            self._index()
        while True:
            self.skip()
            if self.s.startswith(".", self.i) and not self.s.startswith("..", self.i):
                self.i += 1
                self._field()
            elif self.take("["):
                self._index()
            elif not self.take("?"):
                break
        self.expect(")")
        return 1

    def _object(self) -> float:
        self.i += 1  # {
        total = 1  # the keys, from the text
        if self.take("}"):
            return total
        while True:
            self.skip()
            if self.s.startswith('"', self.i):
                key_factor = self._string()
                total += key_factor
                shorthand_value = 1
            elif self.s.startswith("$", self.i):
                self.i += 1
                name = self.ident()
                if name is None or name not in self.variables:
                    raise _No
                shorthand_value = 1
            elif self.take("("):
                total += self.pipe()
                self.expect(")")
                shorthand_value = None
            else:
                name = self.ident()
                if name is None:
                    raise _No
                shorthand_value = 1
            if self.take(":"):
                total += self._object_value()
            elif shorthand_value is None:
                raise _No
            else:
                total += shorthand_value
            total = _bound(total)
            if self.take("}"):
                return total
            self.expect(",")

    def _object_value(self) -> float:
        # jq: a value is a term, `-` value, or values joined by `|` (no commas at this level).
        factor = self.alternative()
        while self.peek("|") and not self.peek("|="):
            self.i += 1
            factor = _bound(self.alternative() * max(factor, 1))
        return factor

    def _plain_string(self) -> None:
        """A string literal without interpolation."""
        if self._string_parts()[1]:
            raise _No

    def _string(self) -> float:
        return self._string_parts()[0]

    def _string_parts(self) -> tuple[float, bool]:
        """(bound, interpolated?) of the string literal starting at the quote."""
        self.i += 1
        factor = 1.0
        interpolated = False
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                if self.s.startswith("\\(", self.i):
                    self.i += 2
                    factor = _bound(factor + 6 * max(self.pipe(), 1))  # tostring of it
                    self.expect(")")
                    interpolated = True
                else:
                    self.i += 2
                continue
            self.i += 1
            if c == '"':
                return factor, interpolated
        raise _No
