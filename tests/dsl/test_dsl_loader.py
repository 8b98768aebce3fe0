"""Loading definitions from JSON/YAML text: exact positions, and no way to make it hang."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.workflows.dsl.loader import (
    MAX_DEFINITION_BYTES,
    MAX_DEPTH,
    DefinitionSyntaxError,
    load_definition,
)

YAML_DEFINITION = """\
id: leave
version: "1.0"
specVersion: "0.8"
states:
  - name: Ask
    type: usertask
    taskKey: ask
    listeners:
      - on: [created]
        produceEventRef: Notify
    dueDate: 2026-01-31T17:00:00Z
    end: true
"""


def _fails(text: str | bytes) -> DefinitionSyntaxError:
    """Load text that must fail; the error's code says which bound refused hostile input."""
    with pytest.raises(DefinitionSyntaxError) as caught:
        load_definition(text)
    return caught.value


def test_json_definition_loads_as_dict():
    # given a JSON definition
    text = '{"id": "hello", "specVersion": "0.8", "states": []}'
    # when it is loaded
    doc = load_definition(text)
    # then it is the same mapping
    assert doc == {"id": "hello", "specVersion": "0.8", "states": []}


def test_yaml_definition_keeps_json_data_model():
    # given YAML with `on:` (a YAML 1.1 boolean) and an unquoted date-time
    # when it is loaded
    doc = load_definition(YAML_DEFINITION)
    # then keys stay strings and the date-time stays text, as in JSON
    state = doc["states"][0]
    assert state["listeners"][0] == {"on": ["created"], "produceEventRef": "Notify"}
    assert state["dueDate"] == "2026-01-31T17:00:00Z"
    assert doc["version"] == "1.0"


def test_yaml_bytes_with_bom_load():
    doc = load_definition(b"\xef\xbb\xbfid: x\nstates: []\n")
    assert doc == {"id": "x", "states": []}


def test_flow_style_yaml_starting_with_brace_loads():
    # given YAML in flow style, which starts like JSON but is not JSON
    doc = load_definition("{id: x, states: [{name: a, type: inject}]}")
    assert doc["states"][0]["name"] == "a"


def test_broken_json_reports_line_and_column():
    # given JSON with a missing comma on line 3
    text = '{\n  "id": "x",\n  "version": "1.0"\n  "states": []\n}'
    # when loading it
    error = _fails(text)
    # then the message points at the spot, in plain words
    assert (error.line, error.column) == (4, 3)
    assert error.code == "syntax"
    assert "expected a ','" in error.message


def test_json_with_trailing_comma_is_still_read_as_yaml():
    # given JSON-like text that only YAML accepts (YAML is a superset of JSON)
    doc = load_definition('{\n  "id": "x",\n}')
    # then it is read rather than refused
    assert doc == {"id": "x"}


def test_unclosed_json_string_is_explained():
    error = _fails('{\n  "id": "x\n}')
    assert (error.line, error.column) == (2, 11)
    assert "not closed" in error.message


def test_broken_yaml_reports_line_and_column():
    # given YAML with a mis-indented key on line 4
    text = "id: x\nstates:\n  - name: a\n   type: b\n"
    error = _fails(text)
    assert error.line == 4
    assert error.column == 4
    assert error.message.startswith("invalid YAML")


def test_oversized_definition_is_refused_before_parsing():
    # given a document one byte over the limit
    text = "a: " + "x" * (MAX_DEFINITION_BYTES - 2)
    error = _fails(text)
    assert error.code == "too_large"
    assert "limit is 1 MiB" in error.message


def test_yaml_billion_laughs_is_refused_quickly():
    # given a YAML bomb: nine levels of aliases each repeating the previous one nine times
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    error = _fails("\n".join(lines))
    assert error.code == "yaml_alias"


def test_recursive_yaml_alias_is_refused():
    error = _fails("a: &a\n  b: *a\n")
    assert error.code == "yaml_alias"
    assert "recursive" in error.message


def test_modest_yaml_anchors_and_merge_keys_are_allowed():
    doc = load_definition("defaults: &d {retries: 3}\nstep:\n  <<: *d\n  name: a\n")
    assert doc["step"] == {"retries": 3, "name": "a"}


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),
        '{"a": ' + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "}",
        '{"a": ' + "[" * 200_000 + "]" * 200_000 + "}",
        "a: " + "[" * 200_000,
    ],
    ids=["yaml", "json", "json-huge", "yaml-huge"],
)
def test_deep_nesting_is_refused(text):
    error = _fails(text)
    assert error.code == "too_deep"


def test_duplicate_json_key_is_reported_where_it_repeats():
    error = _fails('{\n  "id": "a",\n  "states": [],\n  "id": "b"\n}')
    assert error.code == "duplicate_key"
    assert (error.line, error.column) == (4, 3)
    assert "'id' appears twice" in error.message


def test_duplicate_yaml_key_is_reported_with_both_lines():
    error = _fails("id: a\nstates: []\nid: b\n")
    assert error.code == "duplicate_key"
    assert error.line == 3
    assert "first at line 1" in error.message


@pytest.mark.parametrize(
    "text, code",
    [
        ('{"a": NaN}', "nan"),
        ('{"a": -Infinity}', "nan"),
        ("a: .inf", "nan"),
        ("a: .NaN", "nan"),
        ("1: a", "non_string_key"),
        ("? [a, b]\n: c", "non_string_key"),
        ("a: !!python/object:os.system x", "yaml_tag"),
        ("a: !!binary aGVsbG8=", "yaml_tag"),
        ("- a\n- b", "not_mapping"),
        ("just text", "not_mapping"),
        ("   \n", "empty"),
        ("a: 1\n---\nb: 2\n", "syntax"),
        ('{"a": ' + "9" * 5000 + "}", "syntax"),
    ],
)
def test_values_json_cannot_hold_are_refused(text, code):
    assert _fails(text).code == code


def test_nan_in_json_is_located():
    error = _fails('{\n  "a": 1,\n  "b": NaN\n}')
    assert (error.line, error.column) == (3, 8)


@pytest.mark.parametrize(
    "data",
    [b"\x00\x01\x02binary", "id: caf\xe9\n".encode("latin-1"), b"\xff\xfe\x00a"],
    ids=["nul", "latin-1", "utf-16"],
)
def test_binary_or_non_utf8_input_is_refused(data):
    error = _fails(data)
    assert error.code == "encoding"


def test_error_text_includes_position():
    error = _fails('{"id": "a" "b"}')
    assert str(error).startswith("line 1, column 12: invalid JSON")


def test_yaml_with_too_many_values_is_refused_quickly():
    # given a YAML list of 60,000 items, far beyond any workflow definition
    error = _fails("items:\n" + "- a\n" * 60_000)
    assert error.code == "too_large"
    assert "more than 50,000 values" in error.message


def test_yaml_scalars_follow_json_rules_not_yaml_1_1():
    # given plain YAML scalars that YAML 1.1 would turn into octal, base-60 or booleans
    doc = load_definition("a: 012\nb: 1:20\nc: yes\nd: off\ne: 0x1F\nf: 1e3\ng: ~\n")
    # then they read as a JSON author expects
    assert doc == {"a": 12, "b": "1:20", "c": "yes", "d": "off", "e": 31, "f": 1000.0, "g": None}


@pytest.mark.parametrize("text", ['{"a": 1e999}', "a: 1e999", "a: \x07", "a: \ud800"])
def test_unrepresentable_text_is_refused(text):
    assert _fails(text).code in ("nan", "syntax", "encoding")


yaml_like_text = st.text(
    alphabet=st.sampled_from(list("{}[]:,-?&*!|>'\"#%@`\\ \t\n.0123456789abeEnNoOtxyz~<=")),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(yaml_like_text, st.text(max_size=40), st.binary(max_size=40)))
def test_any_input_gives_a_dict_or_a_syntax_error(text):
    # whatever arrives, the loader answers with a mapping or a readable error, never a crash
    try:
        doc = load_definition(text)
    except DefinitionSyntaxError as exc:
        assert exc.message and exc.code
    else:
        assert isinstance(doc, dict)


def test_durations_with_days_after_the_t_are_read_as_meant():
    from datetime import timedelta

    from apps.workflows.dsl.durations import is_strict_duration, parse_duration

    assert parse_duration("PT30D") == timedelta(days=30)
    assert parse_duration("PT2W") == timedelta(weeks=2)
    assert parse_duration("P1DT2H") == timedelta(days=1, hours=2)
    assert not is_strict_duration("PT2W")
    assert is_strict_duration("P2W")


def test_an_action_may_sleep_both_before_and_after():
    from apps.workflows.dsl.validation import validate

    doc = {
        "id": "s",
        "version": "1",
        "specVersion": "0.8",
        "start": "A",
        "functions": [{"name": "f", "type": "expression", "operation": ".a"}],
        "states": [
            {
                "name": "A",
                "type": "operation",
                "end": True,
                "actions": [{"functionRef": "f", "sleep": {"before": "PT1S", "after": "PT1S"}}],
            }
        ],
    }
    assert [i for i in validate(doc) if i.severity == "error"] == []
