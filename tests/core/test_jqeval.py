"""The jq evaluator under limits (apps.core.jqeval): each limit, crashes, refusals, concurrency."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from apps.core import jqeval
from apps.core.jqeval import JqError, JqLimitExceeded, Limits, Pool

SMALL = Limits(cpu_seconds=0.3, wall_seconds=1.5, memory_mb=64, output_kb=64, pool_size=2)


@pytest.fixture
def pool():
    pool = Pool(SMALL)
    yield pool
    pool.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_programs_run_and_answer_every_output(pool):
    assert pool.run(".a + 1, .b", '{"a": 1, "b": "x"}') == [2, "x"]
    assert pool.run("empty", "null") == []


def test_jq_errors_and_compile_errors_are_jq_errors(pool):
    with pytest.raises(JqError, match="boom"):
        pool.run('error("boom")', "null")
    with pytest.raises(JqError, match="syntax error"):
        pool.run(".a |", "null")
    assert pool.run("1", "null") == [1]  # the same child goes on


def test_compile_problem_reports_lines_as_written_and_declares_variables(pool):
    problem = pool.compile_problem(".a |\n  .b |", ("CONST",))
    assert "line 2" in problem
    assert pool.compile_problem("$CONST.x", ("CONST",)) is None
    assert "$CONST is not defined" in pool.compile_problem("$CONST.x")


@pytest.mark.parametrize(
    "program",
    ["until(false; .)", "def f: f; f", "[range(1e9)]", "[.[] as $x | .[] as $y | [$x, $y]]"],
)
def test_cpu_time_is_limited(pool, program):
    with pytest.raises(JqLimitExceeded) as info:
        pool.run(program, json.dumps(list(range(5000))))
    assert info.value.limit == "cpu"
    assert "0.3 s of CPU time" in str(info.value)
    assert "XFLOW_EXPRESSION_CPU_SECONDS" in str(info.value)


@pytest.mark.parametrize("program", ['"x" * .n', ".n as $n | [] | .[$n] = 1", "def f: [f]; f"])
def test_memory_is_limited(pool, program):
    with pytest.raises(JqLimitExceeded) as info:
        pool.run(program, '{"n": 500000000}')
    assert info.value.limit in ("memory", "cpu")  # a deep recursion may run out of either
    if program != "def f: [f]; f":
        assert info.value.limit == "memory"
        assert "XFLOW_EXPRESSION_MEMORY_MB" in str(info.value)


def test_output_size_is_limited(pool):
    with pytest.raises(JqLimitExceeded) as info:
        pool.run('"x" * 100000', "null")
    assert info.value.limit == "output"
    assert "64 KB of output" in str(info.value)
    with pytest.raises(JqLimitExceeded):
        pool.run("range(100000)", "null")  # many small outputs count together


def test_wall_clock_guards_a_child_that_makes_no_progress():
    # CPU generous, wall clock short: the wall clock fires and the child is killed.
    pool = Pool(Limits(cpu_seconds=30, wall_seconds=0.5, pool_size=1))
    try:
        pool.run("1", "null")
        [pid] = pool.children()
        with pytest.raises(JqLimitExceeded) as info:
            pool.run("until(false; .)", "null")
        assert info.value.limit == "wall"
        assert "XFLOW_EXPRESSION_WALL_SECONDS" in str(info.value)
        assert not _alive(pid)
        assert pool.run("2", "null") == [2]
    finally:
        pool.close()


def test_compiling_is_limited_too(pool):
    # jq folds constants while compiling: this allocates its whole result before running.
    with pytest.raises(JqLimitExceeded) as info:
        pool.compile_problem('"x" * 1e9')
    assert info.value.limit == "memory"


def test_a_crashed_child_is_a_clear_error_and_is_replaced():
    pool = Pool(Limits(cpu_seconds=30, wall_seconds=30, pool_size=1))
    try:
        pool.run("1", "null")
        [pid] = pool.children()
        outcome = {}

        def busy():
            try:
                pool.run("until(false; .)", "null")
            except JqLimitExceeded as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=busy)
        thread.start()
        while pool.children():  # until the evaluation has taken the child
            time.sleep(0.01)
        os.kill(pid, signal.SIGSEGV)
        thread.join(10)
        assert outcome["error"].limit == "crash"
        assert "SIGSEGV" in str(outcome["error"])
        assert pool.run("2", "null") == [2]
        assert pool.started == 2
    finally:
        pool.close()


def test_a_limited_evaluation_does_not_hold_up_another_thread(pool):
    done = threading.Event()
    hostile_finished = []

    def hostile():
        with pytest.raises(JqLimitExceeded):
            pool.run("until(false; .)", "null")
        hostile_finished.append(done.is_set())

    thread = threading.Thread(target=hostile)
    thread.start()
    time.sleep(0.05)
    results = [pool.run(".n * 2", json.dumps({"n": n})) for n in range(50)]
    done.set()
    thread.join(10)
    assert results == [[n * 2] for n in range(50)]
    assert hostile_finished == [True]  # the 50 finished while the hostile one still ran


def test_env_is_empty_in_the_child(pool):
    assert pool.run("$ENV", "null") == [{}]


@pytest.mark.parametrize(
    "program",
    [
        "env",
        "env.HOME",
        "$ENV.HOME",
        "now",
        "input",
        "[inputs]",
        "input_filename",
        "debug",
        'debug("x")',
        "stderr",
        "halt",
        "halt_error",
        "get_search_list",
        "0 | localtime",
        '0 | strflocaltime("%H")',
        '"\\(now)"',
        "$__loc__",
    ],
)
def test_refused_builtins_do_not_run(program):
    with pytest.raises(JqError, match="is not available in expressions"):
        jqeval.run(program, "null")


@pytest.mark.parametrize("program", ["env", "now", "input", "debug", "halt_error(1)"])
def test_refused_builtins_fail_in_the_child_even_past_the_text_check(pool, program):
    with pytest.raises(JqError, match="is not available in expressions"):
        pool.run(program, "null")


def test_names_that_only_look_like_refused_builtins_are_fine():
    data = '{"env": 1, "now": 2}'
    assert jqeval.run('.env, .now, {env: 3}, "now", .["input"]', data) == [
        1,
        2,
        {"env": 3},
        "now",
        None,
    ]
    assert jqeval.refused_uses("{input: .a, debug: 1} # env\n") == ()
    assert [u.name for u in jqeval.refused_uses('{a: now, b: "\\(env)"}')] == ["now", "env"]
    assert [u.name for u in jqeval.refused_uses('import "x" as y; .')] == ["import"]


def test_closing_the_pool_stops_its_children():
    pool = Pool(SMALL)
    pool.run("1", "null")
    pids = pool.children()
    pool.close()
    assert pids and not any(_alive(p) for p in pids)
    with pytest.raises(jqeval.JqStopped, match="shut down"):
        pool.run("1", "null")
