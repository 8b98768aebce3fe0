"""Advisory locks that keep routing and wait registration from missing each other."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection

from apps.workflows.models import EventWait


def correlation_key(correlation: list[dict[str, Any]]) -> tuple[str, str]:
    """(names, key) of a wait's rules; the key is empty unless every value is bound."""
    rules = sorted((str(r.get("name") or ""), r.get("value")) for r in correlation or [])
    names = ",".join(name for name, _ in rules)
    if not rules or any(value is None for _, value in rules) or len(names) > 300:
        return ("" if len(names) > 300 else names), ""
    key = "&".join(f"{name}={value}" for name, value in rules)
    return names, (key if len(key) <= 1000 else "")


# Routing and wait registration must not miss each other: an event and a wait for it
# committing at the same time would each find nothing (the event no wait, the wait no kept
# event). Advisory locks make them take turns, without making events take turns with each
# other: an event holds its type and each of its attribute pairs (`orderid=o-1`) shared; a
# wait holds its type shared and the pairs its bound correlation names exclusively (an event
# it could match carries those pairs), or its type exclusively when a rule is not bound.
# Types first, then pairs, each in sorted order: every transaction locks in one order.
NOT_CORRELATED = {"id", "specversion", "time", "datacontenttype", "dataschema", "data"}
# Sorted by code point ("C"), as Python sorts: statements and the order between them agree.
_LOCK_SQL = (
    "SELECT {fn}(hashtextextended(k, 7)) "
    'FROM (SELECT k FROM unnest(%s::text[]) AS u(k) ORDER BY k COLLATE "C") s'
)


def _advisory(keys: Iterable[str], *, exclusive: bool) -> None:
    keys = sorted(set(keys))
    if not keys:
        return
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cur:
        cur.execute(_LOCK_SQL.format(fn=fn), [keys])


def _type_lock(event_type: str) -> str:
    return f"xflow-event-type:{event_type}"


def _pair_lock(event_type: str, name: str, value: Any) -> str:
    return f"xflow-event-pair:{event_type}:{name}={value}"


def _event_pairs(event: dict[str, Any]) -> list[str]:
    return [
        _pair_lock(event["type"], name, value)
        for name, value in event.items()
        if name not in NOT_CORRELATED and name != "data_base64"
    ]


def event_lock_keys(event: dict[str, Any]) -> list[str]:
    """The advisory locks routing the event holds (shared)."""
    return [_type_lock(event["type"]), *_event_pairs(event)]


def lock_for_events(events: list[dict[str, Any]]) -> None:
    """The shared locks of a batch of events: all types, then all pairs, each sorted."""
    _advisory([_type_lock(event["type"]) for event in events], exclusive=False)
    _advisory([pair for event in events for pair in _event_pairs(event)], exclusive=False)


def lock_for_waits(rows: list[EventWait]) -> None:
    unbound = {r.event_type for r in rows if not r.correlation_key}
    # Types in one sorted pass whatever their mode, so that a wait and a batch of events
    # always lock in the same order (a statement per change of mode).
    run: list[str] = []
    exclusive = False
    for event_type in sorted({r.event_type for r in rows}):
        wanted = event_type in unbound
        if run and wanted != exclusive:
            _advisory(run, exclusive=exclusive)
            run = []
        run.append(_type_lock(event_type))
        exclusive = wanted
    _advisory(run, exclusive=exclusive)
    pairs = [
        _pair_lock(r.event_type, rule.get("name"), rule.get("value"))
        for r in rows
        if r.event_type not in unbound
        for rule in r.correlation or []
    ]
    _advisory(pairs, exclusive=True)
