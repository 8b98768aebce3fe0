"""Keyset pagination of task lists: a cursor is the last row's sort key, at any depth.

DRF's CursorPagination keys on the first ordering field alone and steps over ties with an
OFFSET; task lists order by priority, where a million rows share a hundred values, so deep
pages would scan. Here the cursor carries the whole key (priority, created_at, id) and the
next page is a row comparison `(priority, created_at, id) < (...)` that the list indexes
answer as a range.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet, Subquery
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils.dateparse import parse_datetime

from apps.core.errors import ServiceError


@dataclass(frozen=True)
class Ordering:
    """One direction for every field, so the cursor condition is one row comparison."""

    fields: tuple[str, ...]  # the last is the id: every key is unique
    descending: bool
    nullable: bool = False  # the first field may be null (sorted last)

    def order_by(self) -> list:
        # NULLS LAST only where a null can be: a sort that differs from an index's in its
        # nulls placement cannot be read from that index in order, even on NOT NULL columns.
        out = []
        for i, name in enumerate(self.fields):
            nulls = {"nulls_last": True} if self.nullable and i == 0 else {}
            out.append(F(name).desc(**nulls) if self.descending else F(name).asc(**nulls))
        return out

    def after(self, last: list[Any]) -> Q | Any:
        """The rows after the row whose key is `last`."""
        first, pk = self.fields[0], last[-1]
        if self.nullable and last[0] is None:
            return Q(**{f"{first}__isnull": True, "id__lt" if self.descending else "id__gt": pk})
        lookup = TupleLessThan if self.descending else TupleGreaterThan
        after = lookup(Tuple(*(F(f) for f in self.fields)), tuple(last))
        return (Q(after) | Q(**{f"{first}__isnull": True})) if self.nullable else after

    def key(self, row: Any) -> list[Any]:
        return [getattr(row, f) for f in self.fields]


ORDERINGS: dict[str, Ordering] = {
    "-priority": Ordering(("priority", "created_at", "id"), True),  # then newest first
    "-created": Ordering(("created_at", "id"), True),
    "created": Ordering(("created_at", "id"), False),
    "due": Ordering(("due_at", "id"), False, nullable=True),  # no due date: last
    "-completed": Ordering(("completed_at", "id"), True, nullable=True),
}
DEFAULT_ORDERING = {"completed": "-completed"}
DATETIME_FIELDS = {"created_at", "due_at", "completed_at"}


def ordering(name: str | None, view: str) -> tuple[str, Ordering]:
    name = name or DEFAULT_ORDERING.get(view, "-priority")
    if name not in ORDERINGS:
        raise ServiceError(
            f"ordering must be one of {', '.join(ORDERINGS)}.",
            fields={"ordering": [f"unknown: {name}"]},
        )
    return name, ORDERINGS[name]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


def encode(values: list[Any]) -> str:
    text = json.dumps([_plain(v) for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, order: Ordering) -> list[Any]:
    """The key a cursor carries; a 400 naming `cursor` when it is not one of this list's."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(order.fields):
            raise ValueError("wrong length")
        out = []
        for name, value in zip(order.fields, values, strict=True):
            if value is None:
                out.append(None)
            elif name in DATETIME_FIELDS:
                moment = parse_datetime(value)
                if moment is None:
                    raise ValueError(name)
                out.append(moment)
            elif name == "id":
                out.append(uuid.UUID(value))
            else:
                out.append(int(value))
        return out
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ServiceError(
            "The cursor is not valid for this list; start again from the first page.",
            fields={"cursor": ["invalid"]},
        ) from None


def page(
    queryset: QuerySet, order: Ordering, after: list[Any] | None, size: int, rows: QuerySet
) -> list:
    """Up to `size` + 1 rows after `after` (the extra row says whether a next page exists).

    The page's ids are chosen from `queryset` alone (on the task table: an index range), and
    only those are loaded from `rows` (with what a list row joins): the planner never joins
    the whole matching set before cutting it to a page.
    """
    if after is not None:
        queryset = queryset.filter(order.after(after))
    ids = queryset.order_by(*order.order_by()).values("pk")[: size + 1]
    return list(rows.filter(pk__in=Subquery(ids)).order_by(*order.order_by()))
