"""Keyset pagination for task lists: a cursor is the last row's sort key, at any depth.

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
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils.dateparse import parse_datetime
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from apps.core.errors import ServiceError

# name -> (fields, descending, nullable first field). Each ordering runs in one direction,
# so its cursor condition is one row comparison; the id makes every key unique.
ORDERINGS: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    "-priority": (("priority", "created_at", "id"), True, False),
    "-created": (("created_at", "id"), True, False),
    "created": (("created_at", "id"), False, False),
    "due": (("due_at", "id"), False, True),  # no due date: last
    "-completed": (("completed_at", "id"), True, True),
}
DEFAULT_ORDERING = {"completed": "-completed"}
DATETIME_FIELDS = {"created_at", "due_at", "completed_at"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


def _encode(values: list[Any]) -> str:
    text = json.dumps([_plain(v) for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, fields: tuple[str, ...]) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError("wrong length")
        out = []
        for name, value in zip(fields, values, strict=True):
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


def _after(fields: tuple[str, ...], desc: bool, nullable: bool, last: list[Any]) -> Q | Any:
    """The rows after `last` in this ordering (nulls of the first field sort last)."""
    first, pk = fields[0], last[-1]
    if nullable and last[0] is None:
        return Q(**{f"{first}__isnull": True, "id__lt" if desc else "id__gt": pk})
    lookup = TupleLessThan if desc else TupleGreaterThan
    after = lookup(Tuple(*(F(f) for f in fields)), tuple(last))
    return (Q(after) | Q(**{f"{first}__isnull": True})) if nullable else after


class TaskKeysetPagination(BasePagination):
    page_size = 50
    max_page_size = 200

    def ordering(self, request, view_name: str) -> str:
        name = request.query_params.get("ordering") or DEFAULT_ORDERING.get(view_name, "-priority")
        if name not in ORDERINGS:
            raise ServiceError(
                f"ordering must be one of {', '.join(ORDERINGS)}.",
                fields={"ordering": [f"unknown: {name}"]},
            )
        return name

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list:
        self.request = request
        name = self.ordering(request, request.query_params.get("view", "mine"))
        fields, desc, nullable = ORDERINGS[name]
        self.fields = fields
        try:
            size = int(request.query_params.get("page_size") or self.page_size)
        except ValueError:
            size = self.page_size
        size = max(1, min(size, self.max_page_size))
        cursor = request.query_params.get("cursor")
        if cursor:
            queryset = queryset.filter(_after(fields, desc, nullable, _decode(cursor, fields)))
        order = [
            (F(f).desc(nulls_last=True) if desc else F(f).asc(nulls_last=True)) for f in fields
        ]
        rows = list(queryset.order_by(*order)[: size + 1])
        self.has_next = len(rows) > size
        self.page = rows[:size]
        return self.page

    def next_link(self) -> str | None:
        if not self.has_next:
            return None
        last = self.page[-1]
        cursor = _encode([getattr(last, f) for f in self.fields])
        return replace_query_param(self.request.build_absolute_uri(), "cursor", cursor)

    def get_paginated_response(self, data) -> Response:
        return Response({"next": self.next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The next page (same filters and ordering); null at the end.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "From the `next` link of the previous page.",
                "schema": {"type": "string"},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "description": f"Rows per page (default {self.page_size}, "
                f"at most {self.max_page_size}).",
                "schema": {"type": "integer"},
            },
            {
                "name": "ordering",
                "in": "query",
                "required": False,
                "description": "-priority (default; then newest), -created, created, due "
                "(no due date last), -completed (default of view=completed).",
                "schema": {"type": "string", "enum": list(ORDERINGS)},
            },
        ]
