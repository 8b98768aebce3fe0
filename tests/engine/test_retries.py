"""Action retries: retryRef strategies, retryableErrors, autoRetries with nonRetryableErrors."""

from random import Random

from apps.workflows.dsl.model import RetryDef
from apps.workflows.engine.errors import max_attempts, next_delay

from .builders import definition, operation


def _flaky(engine, op, failures, status=503):
    """An operation failing `failures` times with `status`, then answering {attempts: n}."""
    seen = {"n": 0}

    def handler(args, req):
        seen["n"] += 1
        if seen["n"] <= failures:
            return status, {"error": "busy"}
        return 200, {"attempts": seen["n"]}

    engine.services.add(op, handler)
    return seen


def _doc(op, action_extra, **extra):
    action = {"functionRef": op}
    action.update(action_extra)
    return definition(
        operation("Call", action),
        functions=[{"name": op, "operation": f"http://x/api.json#{op}"}],
        errors=[{"name": "Unavailable", "code": "503"}, {"name": "BadRequest", "code": "400"}],
        retries=[
            {"name": "three", "delay": "PT0.1S", "maxAttempts": 3},
            {"name": "once", "maxAttempts": 1},
        ],
        **extra,
    )


def test_retry_ref_retries_until_success(engine):
    # given a function failing twice, and a strategy allowing 3 attempts in all
    seen = _flaky(engine, "flaky1", failures=2)
    # when
    out = engine.execute(_doc("flaky1", {"retryRef": "three"}), {})
    # then the third attempt succeeded
    assert out == {"attempts": 3}
    assert seen["n"] == 3


def test_max_attempts_counts_the_first_attempt(engine):
    # given a function failing three times and maxAttempts 3 (spec: "DoNotRetryStrategy"
    # has maxAttempts 1 and "will not be retried"; the schema's minimum is 1)
    seen = _flaky(engine, "flaky2", failures=3)
    # when
    error = engine.failure(_doc("flaky2", {"retryRef": "three"}), {})
    # then the error surfaces after 3 attempts
    assert error.type == "503"
    assert seen["n"] == 3


def test_retryable_errors_limit_what_is_retried(engine):
    # given a 400 error not in retryableErrors
    seen = _flaky(engine, "flaky3", failures=1, status=400)
    doc = _doc("flaky3", {"retryRef": "three", "retryableErrors": ["Unavailable"]})
    # when
    error = engine.failure(doc, {})
    # then it was not retried
    assert error.type == "400" and seen["n"] == 1


def test_without_retry_ref_nothing_is_retried(engine):
    seen = _flaky(engine, "flaky4", failures=1)
    assert engine.failure(_doc("flaky4", {}), {}).type == "503"
    assert seen["n"] == 1


def test_auto_retries_retry_unknown_errors_with_the_default_strategy(engine):
    # given autoRetries and an unknown error (500) failing once (default delay: 1 s)
    seen = _flaky(engine, "flaky5", failures=1, status=500)
    # when
    out = engine.execute(_doc("flaky5", {}, autoRetries=True), {})
    # then
    assert out == {"attempts": 2} and seen["n"] == 2


def test_auto_retries_skip_non_retryable_errors(engine):
    seen = _flaky(engine, "flaky6", failures=1, status=400)
    doc = _doc("flaky6", {"nonRetryableErrors": ["BadRequest"]}, autoRetries=True)
    assert engine.failure(doc, {}).type == "400"
    assert seen["n"] == 1


def test_auto_retries_honour_a_do_not_retry_strategy(engine):
    # the spec's DoNotRetryStrategy: maxAttempts 1 "will not be retried"
    seen = _flaky(engine, "flaky7", failures=1)
    assert engine.failure(_doc("flaky7", {"retryRef": "once"}, autoRetries=True), {}).type == "503"
    assert seen["n"] == 1


def test_retry_exhausted_error_goes_to_on_errors(engine):
    # given retries that run out, and a handler for the error (spec: handled after retries)
    _flaky(engine, "flaky8", failures=5)
    doc = _doc("flaky8", {"retryRef": "three"})
    doc["states"][0]["onErrors"] = [{"errorRef": "Unavailable", "end": True}]
    # then
    assert engine.execute(doc, {"x": 1}) == {"x": 1}


def test_delays_follow_increment():
    # spec: delay 10s, increment 2s -> 10, 12, 14, 16
    strategy = RetryDef(name="r", delay="PT10S", increment="PT2S", max_attempts=4)
    delays, previous = [], None
    for _ in range(4):
        previous = next_delay(strategy, previous, Random(1))
        delays.append(previous)
    assert delays == [10, 12, 14, 16]


def test_delays_follow_multiplier_and_max_delay():
    # spec: delay 10s, multiplier 4, maxDelay 100s -> 10, 40, 100, 100
    strategy = RetryDef(name="r", delay="PT10S", multiplier=4, max_delay="PT100S")
    delays, previous = [], None
    for _ in range(4):
        previous = next_delay(strategy, previous, Random(1))
        delays.append(previous)
    assert delays == [10, 40, 100, 100]


def test_jitter_stays_within_bounds():
    absolute = RetryDef(name="r", delay="PT10S", jitter="PT1S")
    relative = RetryDef(name="r", delay="PT10S", jitter=0.3)
    rng = Random(7)
    assert all(9 <= next_delay(absolute, None, rng) <= 11 for _ in range(50))
    assert all(7 <= next_delay(relative, None, rng) <= 13 for _ in range(50))


def test_max_attempts_zero_and_unlimited():
    assert max_attempts(RetryDef(name="r", max_attempts=0)) == 1
    assert max_attempts(RetryDef(name="r", max_attempts=4)) == 4
    assert max_attempts(RetryDef(name="r")) is None


def test_unknown_errors_are_not_retried_without_auto_retries(engine):
    # spec: with autoRetries off, "when unknown (unchecked) errors happen ... workflow
    # execution should fail" -- a 500 matches no errors[] entry
    seen = _flaky(engine, "flaky9", failures=1, status=500)
    assert engine.failure(_doc("flaky9", {"retryRef": "three"}), {}).type == "500"
    assert seen["n"] == 1
