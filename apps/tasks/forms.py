"""Forms of the inbox pages: list filters, the task's data fields, comments, hand-overs.

They validate and convert; the services (apps/tasks/services) decide and change.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from apps.tasks.lifecycle import TaskStatus
from apps.tasks.selectors import TaskFilters

# The inbox's tabs (the selectors' views, in the order people use them).
VIEWS = {
    "mine": "My tasks",
    "queue": "Queue",
    "delegated": "Delegated",
    "completed": "Completed",
    "all": "All",
}
ORDERINGS = {
    "-priority": "Priority (highest first)",
    "due": "Due date (soonest first)",
    "-created": "Newest first",
    "created": "Oldest first",
    "-completed": "Recently completed",
}
# A status filter only means something where a list holds several statuses.
STATUS_VIEWS = {"mine", "all"}


class DateInput(forms.DateInput):
    input_type = "date"


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class TaskFilterForm(forms.Form):
    """The list's query string: which tab, the filters, the ordering and the page cursor."""

    view = forms.ChoiceField(choices=list(VIEWS.items()), required=False)
    title = forms.CharField(label="Title contains", max_length=200, required=False)
    definition = forms.CharField(
        label="Process", max_length=200, required=False, help_text="The process's key."
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *TaskStatus.choices], required=False)
    priority_min = forms.IntegerField(
        label="Priority from", min_value=0, max_value=100, required=False
    )
    priority_max = forms.IntegerField(label="to", min_value=0, max_value=100, required=False)
    due_after = forms.DateField(label="Due from", required=False, widget=DateInput)
    due_before = forms.DateField(label="Due until", required=False, widget=DateInput)
    overdue = forms.BooleanField(label="Overdue only", required=False)
    ordering = forms.ChoiceField(
        label="Sort by", choices=[("", "Default"), *ORDERINGS.items()], required=False
    )
    cursor = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        view = (data or {}).get("view") or "mine"
        if view not in STATUS_VIEWS:
            del self.fields["status"]
        if view != "completed":
            self.fields["ordering"].choices = [
                c for c in self.fields["ordering"].choices if c[0] != "-completed"
            ]

    def clean_view(self) -> str:
        return self.cleaned_data.get("view") or "mine"

    def clean(self):
        data = super().clean()
        low, high = data.get("priority_min"), data.get("priority_max")
        if low is not None and high is not None and low > high:
            self.add_error("priority_max", "Must not be below the lower bound.")
        after, before = data.get("due_after"), data.get("due_before")
        if after and before and after > before:
            self.add_error("due_before", "Must not be before the start date.")
        return data

    @property
    def active(self) -> bool:
        """Whether any filter narrows the list (the page says so, and offers to clear)."""
        if not self.is_valid():
            return False
        names = ("title", "definition", "status", "priority_min", "priority_max")
        return any(self.cleaned_data.get(n) not in (None, "") for n in names) or any(
            self.cleaned_data.get(n) for n in ("due_after", "due_before", "overdue")
        )

    def filters(self) -> TaskFilters:
        """The valid filters as the selectors take them (due dates: whole days, inclusive)."""
        d = self.cleaned_data
        before = d.get("due_before")
        return TaskFilters(
            definition=d.get("definition") or None,
            status=[d["status"]] if d.get("status") else None,
            priority_min=d.get("priority_min"),
            priority_max=d.get("priority_max"),
            due_after=_day_start(d["due_after"]) if d.get("due_after") else None,
            due_before=_day_start(before + timedelta(days=1)) if before else None,
            overdue=bool(d.get("overdue")),
            title=d.get("title") or None,
        )


# --- the task's data ------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_]{1,80}$")
_LONG_TEXT = 300  # a string field allowing this much or more is a text area


def _label(key: str, prop: dict) -> str:
    title = prop.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").replace("-", " ")
    return words.strip().capitalize() or key


def _choices(values: list) -> list[tuple[str, str]]:
    return [(str(v), str(v)) for v in values]


def _field(prop: dict, required: bool) -> forms.Field | None:
    """A form field for one JSON-schema property, or None when the inbox cannot render it."""
    kind = prop.get("type")
    enum = prop.get("enum")
    common: dict[str, Any] = {"required": required}
    if isinstance(prop.get("description"), str):
        common["help_text"] = prop["description"]
    if isinstance(enum, list) and enum and all(isinstance(v, str | int | float) for v in enum):
        by_text = {str(v): v for v in enum}
        empty = [] if required else [("", "—")]
        return forms.TypedChoiceField(
            choices=empty + _choices(enum), coerce=by_text.get, empty_value=None, **common
        )
    if kind == "boolean":
        return forms.BooleanField(required=False, help_text=common.get("help_text", ""))
    if kind in ("integer", "number"):
        bounds = {
            "min_value": prop.get("minimum"),
            "max_value": prop.get("maximum"),
        }
        bounds = {k: v for k, v in bounds.items() if isinstance(v, int | float)}
        cls = forms.IntegerField if kind == "integer" else forms.FloatField
        return cls(**common, **bounds)
    if kind == "string":
        fmt = prop.get("format")
        if fmt == "date":
            return forms.DateField(widget=DateInput, **common)
        if fmt == "email":
            return forms.EmailField(**common)
        length = prop.get("maxLength") if isinstance(prop.get("maxLength"), int) else None
        widget = forms.Textarea(attrs={"rows": 4}) if (length or 0) >= _LONG_TEXT else None
        min_length = prop.get("minLength") if isinstance(prop.get("minLength"), int) else None
        return forms.CharField(
            max_length=length, min_length=min_length, widget=widget, strip=False, **common
        )
    return None


class TaskDataForm(forms.Form):
    """The fields of a task's form, derived from a flat JSON schema (the forms app's renderer
    will replace this). Properties of other kinds (objects, arrays, ...) are not rendered:
    `unsupported` names them, and the service's schema check still applies to the whole."""

    prefix = "data"

    def __init__(self, *args, schema: dict | None = None, partial: bool = False, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.keys: dict[str, str] = {}  # field name -> the data's key
        self.unsupported: list[str] = []
        schema = schema if isinstance(schema, dict) else {}
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = set(schema.get("required") or []) if not partial else set()
        for i, (key, prop) in enumerate(props.items()):
            prop = prop if isinstance(prop, dict) else {}
            field = _field(prop, key in required)
            if field is None:
                self.unsupported.append(_label(key, prop))
                continue
            field.label = _label(key, prop)
            name = key if _SAFE_NAME.match(key) else f"field{i}"
            self.fields[name] = field
            self.keys[name] = key

    def value(self) -> dict[str, Any] | None:
        """The cleaned fields as the task's data (None when the form has no field)."""
        if not self.fields:
            return None
        out: dict[str, Any] = {}
        for name, key in self.keys.items():
            value = self.cleaned_data.get(name)
            if value is None or value == "":
                continue
            out[key] = value.isoformat() if isinstance(value, date) else value
        return out

    @classmethod
    def initial_from(cls, data: Any, schema: dict | None) -> dict[str, Any]:
        """Field values from saved data (a draft)."""
        if not isinstance(data, dict):
            return {}
        probe = cls(schema=schema)
        return {name: data[key] for name, key in probe.keys.items() if key in data}


class CommentForm(forms.Form):
    text = forms.CharField(
        label="Comment", max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )


class UserNameForm(forms.Form):
    """Whom to hand a task to (delegate, assign); blank means nobody where that is allowed."""

    username = forms.CharField(label="Username", max_length=150, required=False)


class DeleteForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=1000, required=False)
