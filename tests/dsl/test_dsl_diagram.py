"""The state diagram operators see in the admin and the inbox."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.workflows.dsl.diagram import render_svg
from tests.shared import EXAMPLES, needs_examples


def _example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def _node_group(svg: str, label: str) -> str:
    """The SVG group of the state node whose label starts with `label`."""
    for group in re.findall(r'<g id="node\d+" class="[^"]*">.*?</g>', svg, re.DOTALL):
        if f">{label}</text>" in group:
            return group
    raise AssertionError(f"no node labelled {label!r}")


APPROVAL = {
    "id": "approval",
    "specVersion": "0.8",
    "start": "Review",
    "states": [
        {
            "name": "Review",
            "type": "usertask",
            "taskKey": "review",
            "outcomes": [
                {"name": "approved", "label": "Approve", "transition": "Route"},
                {"name": "rejected", "label": "Reject", "end": {"terminate": True}},
            ],
            "onErrors": [{"errorRef": "Boom", "transition": "Undo"}],
            "compensatedBy": "Undo",
        },
        {
            "name": "Route",
            "type": "switch",
            "dataConditions": [
                {
                    "condition": '${ .amount > 1000 and .customer.tier != "gold" }',
                    "transition": "Split",
                },
                {"name": "small", "condition": "${ .amount <= 10 }", "end": True},
            ],
            "defaultCondition": {"transition": "Split"},
        },
        {
            "name": "Split",
            "type": "parallel",
            "branches": [
                {"name": "a", "actions": []},
                {"name": "b", "actions": []},
                {"name": "c", "actions": []},
            ],
            "completionType": "atLeast",
            "numCompleted": 2,
            "end": True,
        },
        {"name": "Undo", "type": "operation", "usedForCompensation": True, "actions": []},
    ],
}


@needs_examples
@pytest.mark.parametrize(
    "name",
    [
        "02-greeting.json",
        "13-patientvitalsworkflow.json",
        "25-booklending.json",
        "10-provisionorders.json",
    ],
)
def test_svg_names_every_state(name):
    # given a spec example
    doc = _example(name)
    # when it is drawn
    svg = render_svg(doc)
    # then it is an SVG that shows every state by name
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for state in doc["states"]:
        assert f">{state['name']}</text>" in svg.replace("&#39;", "'")


def test_state_types_are_named_and_drawn_differently():
    svg = render_svg(APPROVAL)
    assert "«usertask»" in svg and "«switch»" in svg and "«parallel»" in svg
    review, route = _node_group(svg, "Review"), _node_group(svg, "Route")
    assert "<polygon" in route and route.count(",") != review.count(",")  # diamond vs tab
    assert 'fill="#fce7f3"' in review and 'fill="#fef9c3"' in route


def test_edges_carry_outcomes_conditions_errors_and_compensation():
    svg = render_svg(APPROVAL)
    # outcomes and condition names label their edges; long conditions are shortened
    assert ">Approve</text>" in svg and ">Reject</text>" in svg
    assert ">small</text>" in svg and ">default</text>" in svg
    assert "…</text>" in svg
    # the error edge is dashed red with the error name, compensation is dotted
    assert re.search(r'stroke="#dc2626" stroke-dasharray="5,2"', svg)
    assert ">Boom</text>" in svg
    assert ">compensated by</text>" in svg and 'stroke-dasharray="1,5"' in svg
    # start, end and terminate are marked; parallel completion is summarised
    assert ">start</text>" in svg and ">end</text>" in svg and ">terminate</text>" in svg
    assert ">3 branches, at least 2</text>" in svg


def test_visited_current_and_failed_states_are_highlighted():
    # when a running instance's progress is drawn
    svg = render_svg(APPROVAL, visited={"Review"}, current={"Route"}, failed={"Split"})
    # then each highlighted state carries its own class and colours; others carry none
    assert 'class="node state visited"' in _node_group(svg, "Review")
    assert 'class="node state current"' in _node_group(svg, "Route")
    assert 'class="node state failed"' in _node_group(svg, "Split")
    assert 'class="node state"' in _node_group(svg, "Undo")
    assert 'fill="#bbf7d0"' in _node_group(svg, "Review")
    assert 'fill="#fecaca"' in _node_group(svg, "Split")


def test_invalid_definition_is_drawn_as_far_as_possible():
    # given a definition with a bad state, a missing target and junk entries
    doc = {
        "states": [
            {"name": "A", "type": "operaton", "transition": "Nowhere"},
            None,
            {"type": "switch", "dataConditions": "oops"},
        ]
    }
    svg = render_svg(doc)
    assert ">A</text>" in svg
    assert ">Nowhere</text>" in svg and ">(no such state)</text>" in svg
    assert render_svg({}).lstrip().startswith("<?xml")


def test_user_text_is_escaped():
    # given names that try to inject markup or dot escapes
    doc = {
        "start": "<script>alert(1)</script>",
        "states": [
            {
                "name": "<script>alert(1)</script>",
                "type": "inject",
                "data": {},
                "transition": 'x" shape=box \\N',
            },
        ],
    }
    svg = render_svg(doc)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=4, unique=True),
    label=st.text(max_size=30),
)
def test_any_user_text_renders_without_breaking_dot(names, label):
    # given states whose names and conditions are arbitrary text
    states = [
        {
            "name": name,
            "type": "switch",
            "dataConditions": [{"name": label, "condition": label, "transition": names[0]}],
            "defaultCondition": {"transition": name + label},
        }
        for name in names
    ]
    # when the diagram is drawn
    svg = render_svg({"states": states}, current={names[0]})
    # then dot accepted every label (no fallback picture)
    assert "diagram unavailable" not in svg
    assert svg.count('class="node state') == len(names)


def _dense(count: int) -> dict:
    states = [
        {
            "name": f"S{i}",
            "type": "switch",
            "dataConditions": [
                {"condition": "${ .a }", "transition": f"S{(i * 7 + k) % count}"} for k in range(3)
            ],
            "defaultCondition": {"transition": f"S{(i + 1) % count}"},
        }
        for i in range(count)
    ]
    return {"states": states}


def test_huge_definition_gets_a_message_instead_of_a_slow_layout(monkeypatch):
    laid_out = []
    monkeypatch.setattr("apps.workflows.dsl.diagram._run_dot", laid_out.append)
    svg = render_svg(_dense(400))
    assert "400 states and 1601 transitions: too many to draw" in svg
    assert laid_out == [], "graphviz was asked to lay it out"


def test_layout_that_takes_too_long_is_abandoned(monkeypatch):
    monkeypatch.setattr("apps.workflows.dsl.diagram.DOT_TIMEOUT_SECONDS", 0.001)
    svg = render_svg(_dense(60))
    assert "the layout took too long" in svg
