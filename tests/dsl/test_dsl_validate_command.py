"""`manage.py validate_workflow`: what an operator sees when checking files before publishing."""

from __future__ import annotations

import json
import shutil
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.shared import EXAMPLES, needs_examples


def _run(*args: str) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("validate_workflow", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


@needs_examples
def test_valid_files_pass_with_a_summary(tmp_path):
    # given a valid JSON file and the same definition as YAML
    good = tmp_path / "hello.json"
    shutil.copy(EXAMPLES / "01-helloworld.json", good)
    as_yaml = tmp_path / "hello.yaml"
    doc = json.loads(good.read_text())
    as_yaml.write_text(
        "id: {id}\nversion: '1.0'\nspecVersion: '0.8'\nstates:\n"
        "  - name: Hello\n    type: inject\n    data: {{result: Hello}}\n    end: true\n".format(
            id=doc["id"]
        )
    )
    # when they are checked
    output, error = _run(str(good), str(as_yaml))
    # then each is OK, the summary counts nothing wrong and the exit code is 0
    assert error is None
    assert f"{good}: OK" in output
    assert f"{as_yaml}: OK" in output
    assert "2 files checked: 0 errors, 0 warnings" in output


@needs_examples
def test_invalid_file_prints_path_and_message_and_fails():
    # given the spec example with a misplaced eventTimeout
    path = EXAMPLES / "08-eventbasedswitchstate.json"
    # when it is checked
    output, error = _run(str(path))
    # then the issue is printed as FILE: path: message and the command exits non-zero
    assert f"{path}: states[0].eventTimeout: 'eventTimeout' is not allowed here" in output
    assert "[unknown_property]" in output
    assert error is not None and error.returncode == 1
    assert "1 file checked: 1 error, 0 warnings" in str(error)


def test_syntax_errors_and_missing_files_are_reported_per_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nstates:\n  - name: a\n   type: b\n")
    missing = tmp_path / "missing.json"
    output, error = _run(str(broken), str(missing))
    assert f"{broken}: (top level): line 4, column 4: invalid YAML" in output
    assert f"{missing}: (top level): cannot read the file" in output
    assert error is not None and "2 errors" in str(error)


def test_warnings_fail_only_in_strict_mode(tmp_path):
    # given a definition whose only issue is an unreachable state (a warning)
    path = tmp_path / "orphan.json"
    path.write_text(
        json.dumps(
            {
                "id": "orphan",
                "specVersion": "0.8",
                "states": [
                    {"name": "A", "type": "inject", "data": {}, "end": True},
                    {"name": "B", "type": "inject", "data": {}, "end": True},
                ],
            }
        )
    )
    output, error = _run(str(path))
    assert error is None
    assert f"{path}: states[1]: warning: the state 'B' is never reached" in output
    _, strict_error = _run(str(path), "--strict")
    assert strict_error is not None


@pytest.mark.parametrize("flag", ["--help"])
def test_command_is_registered(flag, capsys):
    with pytest.raises(SystemExit):
        call_command("validate_workflow", flag)
    assert "FILE" in capsys.readouterr().out
