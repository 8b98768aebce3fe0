"""The in-process fast path: only provably cheap programs skip the child process."""

from __future__ import annotations

import json

import pytest

from apps.core import jqeval
from apps.core.jqeval import Limits, Pool
from apps.core.jqeval.cheap import MAX_FACTOR, is_cheap

BOUND = frozenset({"__data", "CONST", "SECRETS", "ENVS"})
PREFIX = ". as [$__data, $CONST, $SECRETS, $ENVS] | $__data | "

CHEAP = [
    ".a",
    ".a.b[0]",
    '.a["b c"]?',
    ".order.qty > 2",
    '"Hello " + .name',
    "{name: .name, id: .id}",
    '{"a b": .x, (.k): 1, $CONST}',
    '.a // "x"',
    "if .x then .y elif .z then 1 else null end",
    "[$CONST.k, $SECRETS.s, $ENVS.E]",
    "path(.a.b[0])",
    ".items | length",
    '"Hi \\(.name), \\(.n) new"',
    ".price * 2",
    "10 * .x",
    ".qty * 1.5",
    ".total - 1",
    ".total / 100",
    ".a and .b or (.c | not)",
    ".a | select(. > 1)",
    ".s | ascii_downcase",
    '.a | has("x")',
    "{decision: .}",
    "[.a, .b] | sort",
]
COSTLY = [
    "until(false; .)",
    "def f: f; f",
    "[range(1e9)]",
    "[range(.n)]",
    '"x" * .n',
    '"x" * 1e9',
    ".s * 17",
    ".a * .b",
    ".a - .b",  # array difference is quadratic
    ".a / .b",  # string split by a computed separator
    ".a[.i]",  # an array index is a subarray search
    ".[]",
    "..",
    ".a, .b",
    "{a:.,b:.} | {a:.,b:.} | {a:.,b:.} | {a:.,b:.} | {a:.,b:.}",
    # doubling hidden in a comparison: small in jq's memory, exponential to compare
    "(.a | [.,.] | [.,.] | [.,.] | [.,.] | [.,.] | [.,.]) == (.a | [.,.] | [.,.] | [.,.])",
    "if (.a | [.,.] | [.,.] | [.,.] | [.,.] | [.,.]) == 1 then 1 else 2 end",
    "select((.a | [.,.] | [.,.] | [.,.] | [.,.] | [.,.]) == 1)",
    ".a + 1 - .b",  # the left of `-` is the sum, not the literal
    '"\\(.a)\\(.a)\\(.a)"',
    ".a | tojson | tojson",
    "[.a,.a,.a,.a,.a,.a,.a,.a,.a,.a,.a,.a,.a,.a,.a,.a,.a]",
    "map(.x)",
    'test("(a+)+$")',
    "reduce .[] as $x (0; . + $x)",
    ".a as $x | $x",
    ".a = 1",
    ".a |= 1",
    ".a += 1",
    "# a comment\n.a",
    "@base64",
    'split(",")',
    "limit(1; .[])",
    'getpath(["a"])',
    "$__loc__",
    "$OTHER",
    ".[1:]",
]


@pytest.mark.parametrize("program", CHEAP)
def test_cheap_programs_are_recognised(program):
    assert is_cheap(f"({program})", BOUND)


@pytest.mark.parametrize("program", COSTLY)
def test_anything_that_can_iterate_recurse_or_grow_goes_to_a_child(program):
    assert not is_cheap(f"({program})", BOUND)


DATA = [
    {"a": {"b": [1]}, "order": {"qty": 3}, "name": "Ada", "price": 2.5, "x": 4, "items": [1, 2]},
    {"a": "text", "s": "MiXed", "total": 10, "k": "key", "y": None, "z": True, "c": False},
    {"a": [1, 2, 3], "b": [3], "x": "str", "qty": "q", "total": "t", "n": 2},
]


@pytest.mark.parametrize("program", CHEAP)
def test_in_process_and_child_answer_alike(program):
    pool = Pool(Limits(pool_size=1))
    try:
        for data in DATA:
            payload = json.dumps([data, {"k": 1}, {"s": "x"}, {"E": "e"}])
            try:
                fast = jqeval.run(f"({program})", payload, prefix=PREFIX, variables=tuple(BOUND))
            except jqeval.JqError as exc:
                fast = ("error", str(exc))
            try:
                slow = pool.run(PREFIX + f"({program})", payload)
            except jqeval.JqError as exc:
                slow = ("error", str(exc))
            assert fast == slow
    finally:
        pool.close()


def test_a_cheap_program_on_a_large_input_goes_to_a_child():
    # The in-process bound is a multiple of the input: big inputs take the limited path.
    pool = jqeval.pool()
    limit = pool.limits.output_kb * 1024 // MAX_FACTOR
    calls = pool.calls
    assert jqeval.run(".[0] | length", '["abc"]') == [3]
    assert pool.calls == calls
    assert jqeval.run(".[0] | length", json.dumps(["x" * limit])) == [limit]
    assert pool.calls == calls + 1
