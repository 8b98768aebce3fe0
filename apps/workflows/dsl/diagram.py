"""Draw a definition as an SVG state diagram (Graphviz `dot`), with run state highlighted.

Used for invalid documents too (the admin shows the diagram beside the validation report), so
everything is read defensively and states or targets that do not exist are drawn as such.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable
from typing import Any

import graphviz

from .validation.flow import (
    CONDITION,
    DEFAULT,
    ERROR,
    OUTCOME,
    TASK_DELETED,
    TASK_TIMEOUT,
    as_dict,
    as_list,
    start_state,
    state_edges,
)

# type -> (shape, extra style, fill colour); the type name is also written in the label.
_LOOK = {
    "operation": ("box", "rounded", "#dbeafe"),
    "switch": ("diamond", "", "#fef9c3"),
    "event": ("invhouse", "", "#fde68a"),
    "sleep": ("ellipse", "", "#e5e7eb"),
    "parallel": ("box", "", "#dcfce7"),
    "inject": ("note", "", "#f3e8ff"),
    "foreach": ("box3d", "", "#cffafe"),
    "callback": ("cds", "", "#ffe4e6"),
    "usertask": ("tab", "", "#fce7f3"),
}
_UNKNOWN_LOOK = ("box", "dashed", "#ffffff")
_EDGE_STYLE = {
    CONDITION: {"color": "#92400e", "fontcolor": "#92400e"},
    DEFAULT: {"color": "#6b7280", "fontcolor": "#6b7280", "style": "bold"},
    ERROR: {"color": "#dc2626", "fontcolor": "#dc2626", "style": "dashed"},
    OUTCOME: {"color": "#7e22ce", "fontcolor": "#7e22ce"},
    TASK_TIMEOUT: {"color": "#ea580c", "fontcolor": "#ea580c", "style": "dashed"},
    TASK_DELETED: {"color": "#ea580c", "fontcolor": "#ea580c", "style": "dashed"},
}
# Highlight styles; the SVG group also carries the class so pages can style it further.
_HIGHLIGHT = {
    "visited": {"fillcolor": "#bbf7d0", "color": "#15803d", "penwidth": "2"},
    "current": {"fillcolor": "#93c5fd", "color": "#1d4ed8", "penwidth": "4"},
    "failed": {"fillcolor": "#fecaca", "color": "#b91c1c", "penwidth": "4"},
}
MAX_LABEL = 32
FAST_LAYOUT_EDGES = 120
MAX_EDGES = 800
DOT_TIMEOUT_SECONDS = 8


def _text(value: Any, limit: int = MAX_LABEL) -> str:
    """User text made safe for a dot label: shortened, backslashes neutralised."""
    text = (value if isinstance(value, str) else str(value))[: limit * 4]
    # Control characters (NUL above all) break dot's parser; they carry nothing visible.
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _label(*lines: str) -> str:
    # Lines are already escaped; "\n" is dot's centred line break. nohtml keeps a label that
    # happens to look like "<...>" from being read as an HTML label.
    return graphviz.nohtml("\\n".join(line for line in lines if line))


def _summary(state: dict) -> str:
    kind = state.get("type")
    if kind == "parallel":
        branches = as_list(state.get("branches"))
        text = f"{len(branches)} branches"
        if state.get("completionType") == "atLeast":
            text += f", at least {_text(state.get('numCompleted', '?'), 8)}"
        return text
    if kind == "foreach":
        mode = state.get("mode", "parallel")
        actions = len(as_list(state.get("actions")))
        return (
            f"for each {_text(state.get('inputCollection', '?'), 24)} ({_text(mode, 12)})"
            f"\\n{actions} action{'s' if actions != 1 else ''}"
        )
    if kind == "operation":
        actions = as_list(state.get("actions"))
        return f"{len(actions)} action{'s' if len(actions) != 1 else ''}"
    if kind == "event":
        refs = [
            r for e in as_list(state.get("onEvents")) for r in as_list(as_dict(e).get("eventRefs"))
        ]
        return "on " + _text(", ".join(str(r) for r in refs), 28) if refs else ""
    if kind == "sleep":
        return "sleep " + _text(state.get("duration", "?"), 16)
    if kind == "callback":
        return "waits for " + _text(state.get("eventRef", "?"), 22)
    if kind == "usertask":
        task = "task " + _text(state.get("taskKey", "?"), 22)
        return task + ("\\n" + "form " + _text(state["formKey"], 22) if "formKey" in state else "")
    return ""


def _node_attrs(state: dict) -> dict[str, str]:
    kind = state.get("type")
    shape, style, fill = _LOOK.get(kind if isinstance(kind, str) else "", _UNKNOWN_LOOK)
    name = state.get("name", "(no name)")
    type_line = f"«{_text(kind, 16)}»" if kind is not None else "«no type»"
    attrs = {
        "label": _label(_text(name), type_line, _summary(state)),
        "shape": shape,
        "style": ",".join(s for s in ("filled", style) if s),
        "fillcolor": fill,
    }
    if state.get("usedForCompensation") is True:
        attrs["style"] += ",dashed"
    return attrs


def render_svg(
    doc: dict,
    *,
    visited: Iterable[str] = frozenset(),
    current: Iterable[str] = frozenset(),
    failed: Iterable[str] = frozenset(),
) -> str:
    """The definition's state diagram as SVG text; never raises on a bad definition."""
    doc = doc if isinstance(doc, dict) else {}
    graph = _build(doc, set(visited), set(current), set(failed))
    edges = sum(1 for line in graph.body if "->" in line)
    if edges > MAX_EDGES:
        states = len(as_list(doc.get("states")))
        return _fallback_svg(f"{states} states and {edges} transitions: too many to draw")
    if edges > FAST_LAYOUT_EDGES:
        # dot's crossing minimisation and spline routing grow steeply with edges (a dense
        # 100-state graph took minutes): bound them and draw straight edges instead.
        graph.graph_attr.update(mclimit="0.1", nslimit="1", nslimit1="1", splines="line")
    return _run_dot(graph.source)


def _run_dot(source: str) -> str:
    # Run dot ourselves rather than Digraph.pipe(): pipe() has no timeout, and a diagram
    # request must not hold a web worker for minutes.
    dot = shutil.which("dot")
    if dot is None:
        return _fallback_svg("diagram unavailable: graphviz 'dot' is not installed")
    try:
        result = subprocess.run(
            [dot, "-Tsvg"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _fallback_svg("diagram unavailable: the layout took too long")
    except OSError as exc:
        return _fallback_svg(f"diagram unavailable: {exc.strerror or type(exc).__name__}")
    if result.returncode != 0 or not result.stdout:
        return _fallback_svg("diagram unavailable: graphviz could not lay it out")
    return result.stdout.decode("utf-8", "replace")


def _build(doc: dict, visited: set[str], current: set[str], failed: set[str]) -> graphviz.Digraph:
    graph = graphviz.Digraph("workflow", graph_attr={"rankdir": "TB", "fontname": "Helvetica"})
    graph.attr("node", fontname="Helvetica", fontsize="11")
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    node_of: dict[str, str] = {}
    states = [(i, s) for i, s in enumerate(as_list(doc.get("states"))) if isinstance(s, dict)]
    for index, state in states:
        node_id = f"s{index}"
        name = state.get("name")
        if isinstance(name, str) and name not in node_of:
            node_of[name] = node_id
        attrs = _node_attrs(state)
        classes = ["state"]
        for flag, names in (("visited", visited), ("current", current), ("failed", failed)):
            if isinstance(name, str) and name in names:
                attrs.update(_HIGHLIGHT[flag])
                classes.append(flag)
        graph.node(
            node_id,
            **attrs,
            **{"class": " ".join(classes), "tooltip": graphviz.nohtml(_text(name, 80))},
        )
    missing: dict[str, str] = {}

    def target_node(target: str) -> str:
        if target in node_of:
            return node_of[target]
        if target not in missing:
            missing[target] = f"missing{len(missing)}"
            graph.node(
                missing[target],
                label=_label(_text(target), "(no such state)"),
                shape="box",
                style="dashed",
                color="#dc2626",
                fontcolor="#dc2626",
            )
        return missing[target]

    start = start_state(doc)
    if start is not None:
        graph.node(
            "__start__",
            label="start",
            shape="circle",
            style="filled",
            fillcolor="#111827",
            fontcolor="#ffffff",
            width="0.5",
            fixedsize="true",
        )
        graph.edge("__start__", target_node(start))
    ends: set[str] = set()
    for index, state in states:
        source = f"s{index}"
        for edge in state_edges(state, ()):
            attrs = dict(_EDGE_STYLE.get(edge.kind, {}))
            label = _text(edge.label) if edge.label else ""
            if edge.compensate:
                label = (label + "\\n" if label else "") + "compensate"
            if label:
                attrs["label"] = graphviz.nohtml(label)
            if edge.end:
                end_id = "__terminate__" if edge.terminate else "__end__"
                if end_id not in ends:
                    ends.add(end_id)
                    _end_node(graph, end_id)
                graph.edge(source, end_id, **attrs)
            elif edge.target is not None:
                graph.edge(source, target_node(edge.target), **attrs)
        compensator = state.get("compensatedBy")
        if isinstance(compensator, str):
            graph.edge(
                source,
                target_node(compensator),
                label="compensated by",
                style="dotted",
                color="#2563eb",
                fontcolor="#2563eb",
                constraint="false",
            )
    return graph


def _end_node(graph: graphviz.Digraph, end_id: str) -> None:
    if end_id == "__terminate__":
        graph.node(
            end_id,
            label="terminate",
            shape="doubleoctagon",
            style="filled",
            fillcolor="#7f1d1d",
            fontcolor="#ffffff",
        )
    else:
        graph.node(
            end_id,
            label="end",
            shape="doublecircle",
            style="filled",
            fillcolor="#111827",
            fontcolor="#ffffff",
            width="0.5",
            fixedsize="true",
        )


def _fallback_svg(message: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="420" height="40">'
        f'<text x="10" y="25" font-family="Helvetica" font-size="13">{html.escape(message)}</text>'
        "</svg>"
    )
