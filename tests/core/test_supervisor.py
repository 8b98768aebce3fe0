"""`make run`'s supervisor (scripts/devstack.py): a component that exits is started again."""

import importlib.util
import signal
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def devstack(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "devstack", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RUN", tmp_path)
    monkeypatch.setattr(module, "BACKOFF_FIRST", 0.05)
    monkeypatch.setattr(module, "BACKOFF_MAX", 0.2)
    return module


def _supervise_until(stack, done, what: str) -> None:
    deadline = time.monotonic() + 30  # guards a hang only
    while not done():
        assert time.monotonic() < deadline, what
        stack.supervise()
        time.sleep(0.01)


def test_a_component_that_keeps_dying_is_restarted_with_growing_backoff(devstack, tmp_path):
    # Given a component that exits at once every time
    stack = devstack.Stack()
    stack.spawn("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"])
    [crasher] = stack.components
    try:
        # When the supervisor watches it
        _supervise_until(stack, lambda: crasher.restarts >= 4, "never restarted 4 times")
    finally:
        stack.stop()
    # Then each exit was said in its log, with a wait doubling up to the cap
    log = (tmp_path / "crasher.log").read_text()
    waits = [
        line.split("restarting in ")[1].split(" s")[0]
        for line in log.splitlines()
        if "restarting in" in line
    ]
    assert waits[:4] == ["0.05", "0.1", "0.2", "0.2"]
    assert "crasher exited with code 3" in log
    assert "crasher restarted (pid" in log


def test_the_backoff_starts_over_after_a_component_stayed_up(devstack, tmp_path, monkeypatch):
    monkeypatch.setattr(devstack, "STABLE_AFTER", 0)  # every run counts as having stayed up
    stack = devstack.Stack()
    stack.spawn("flaky", [sys.executable, "-c", "import sys; sys.exit(1)"])
    [flaky] = stack.components
    try:
        _supervise_until(stack, lambda: flaky.restarts >= 3, "never restarted 3 times")
    finally:
        stack.stop()
    log = (tmp_path / "flaky.log").read_text()
    assert log.count("restarting in 0.05 s") >= 3
    assert "restarting in 0.1 s" not in log


def test_stop_ends_the_restarted_process_and_nothing_else(devstack):
    # Given a long-running component that was killed and restarted
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    stack = devstack.Stack()
    stack.spawn("sleeper", sleeper)
    [component] = stack.components
    first = component.proc
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    _supervise_until(stack, lambda: component.proc is not first, "never restarted")
    second = component.proc
    assert second.poll() is None
    # When the stack stops
    stack.stop()
    # Then the restarted process is gone too, and the stack holds nothing any more
    assert second.poll() is not None
    assert stack.components == []
