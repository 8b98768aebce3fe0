"""Template helpers of the inbox: task data as labelled rows (no JSON), querystrings."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

MAX_DEPTH = 8
MAX_NODES = 400  # a page shows this many values of a task's data at most


def label(key: Any) -> str:
    """A data key as a person reads it: `employeeName`, `employee_name` -> "Employee name"."""
    text = str(key)
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text).replace("_", " ").replace("-", " ")
    words = " ".join(words.split())
    return (words[:1].upper() + words[1:].lower()) if words else text


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_NODES

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _scalar(value: Any) -> str:
    if value is None:
        return '<span class="muted">not set</span>'
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    text = escape(str(value))
    if isinstance(value, str) and "\n" in value:
        return f'<span class="multiline">{text}</span>'
    if isinstance(value, str) and not value:
        return '<span class="muted">(empty)</span>'
    return text


def _render(value: Any, depth: int, budget: _Budget) -> str:
    if not budget.take():
        return '<span class="muted">…</span>'
    if depth > MAX_DEPTH and isinstance(value, dict | list):
        return '<span class="muted">(nested too deep to show)</span>'
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">(empty)</span>'
        rows = []
        for key, item in value.items():
            if budget.left <= 0:
                rows.append(f'<div><dt class="muted">…</dt><dd>{len(value)} entries</dd></div>')
                break
            rows.append(
                f"<div><dt>{escape(label(key))}</dt><dd>{_render(item, depth + 1, budget)}</dd>"
                "</div>"
            )
        return f'<dl class="data">{"".join(rows)}</dl>'
    if isinstance(value, list):
        if not value:
            return '<span class="muted">(none)</span>'
        tag = "ol" if any(isinstance(v, dict | list) for v in value) else "ul"
        items = []
        for item in value:
            if budget.left <= 0:
                items.append(f'<li class="muted">… {len(value) - len(items)} more</li>')
                break
            items.append(f"<li>{_render(item, depth + 1, budget)}</li>")
        return f'<{tag} class="values">{"".join(items)}</{tag}>'
    return _scalar(value)


@register.filter
def readable(value: Any) -> SafeString:
    """Task data as nested labelled rows and lists; every text escaped."""
    return mark_safe(_render(value, 0, _Budget()))  # noqa: S308 - built from escaped parts


@register.simple_tag(takes_context=True)
def query(context, **changes: Any) -> str:
    """The current querystring with some parameters changed (None or "" drops one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    text = params.urlencode()
    return f"?{text}" if text else "?"
