"""`manage.py run_workflow` runs a definition file once and prints its output."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.shared import EXAMPLES, needs_examples


@needs_examples
@pytest.mark.django_db
def test_the_spec_hello_world_prints_its_output(settings):
    out = StringIO()
    call_command("run_workflow", str(EXAMPLES / "01-helloworld.json"), stdout=out)
    assert json.loads(out.getvalue()) == {"result": "Hello World!"}


@pytest.mark.django_db
def test_input_is_passed_and_an_invalid_file_is_refused(settings, tmp_path):
    good = tmp_path / "echo.yaml"
    good.write_text(
        "id: echo\nversion: '1'\nspecVersion: '0.8'\nstart: Echo\nstates:\n"
        "  - name: Echo\n    type: inject\n    data: {seen: true}\n    end: true\n"
    )
    out = StringIO()
    call_command("run_workflow", str(good), "--input", '{"a": 1}', stdout=out)
    assert json.loads(out.getvalue()) == {"a": 1, "seen": True}

    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nspecVersion: '0.8'\nstart: Nope\nstates: []\n")
    with pytest.raises(CommandError, match="error"):
        call_command("run_workflow", str(bad), stderr=StringIO())
