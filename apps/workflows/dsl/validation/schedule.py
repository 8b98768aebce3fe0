"""Checks of the start schedule: recurring intervals, cron expressions, time zones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..durations import DurationError, parse_duration
from .flow import Path, as_dict
from .issues import IssueCode, ValidationIssue, issue
from .messages import show

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-#]+$")


def check_schedule(doc: dict) -> Iterator[ValidationIssue]:
    """The start schedule's interval, cron and timezone can be understood."""
    start = doc.get("start")
    if not isinstance(start, dict):
        return
    schedule = start.get("schedule")
    path: Path = ("start", "schedule")
    if isinstance(schedule, str):
        yield from _interval(schedule, path)
        return
    schedule = as_dict(schedule)
    if isinstance(schedule.get("interval"), str):
        yield from _interval(schedule["interval"], path + ("interval",))
    cron = schedule.get("cron")
    if isinstance(cron, str):
        yield from _cron(cron, path + ("cron",))
    elif isinstance(cron, dict):
        if isinstance(cron.get("expression"), str):
            yield from _cron(cron["expression"], path + ("cron", "expression"))
        until = cron.get("validUntil")
        if isinstance(until, str) and not _is_datetime(until):
            message = f"validUntil {show(until)} is not an ISO 8601 date-time"
            yield issue(path + ("cron", "validUntil"), IssueCode.SCHEDULE, message)
    zone = schedule.get("timezone")
    if isinstance(zone, str) and not _is_timezone(zone):
        message = f"{show(zone)} is not a time zone name (for example 'Europe/Paris' or 'UTC')"
        yield issue(path + ("timezone",), IssueCode.SCHEDULE, message)


def _interval(text: str, path: Path) -> Iterator[ValidationIssue]:
    # 0.8's derivative of ISO 8601 recurring intervals: R/<duration>, R/<start>/<duration>
    # or R/<duration>/<end>; a plain <start>/<end> also appears in the spec's examples.
    parts = text.strip().split("/")
    if parts and re.fullmatch(r"R\d*", parts[0]):
        parts = parts[1:]
    kinds = [_kind(part) for part in parts]
    if kinds not in (["duration"], ["datetime", "duration"], ["duration", "datetime"]) and (
        kinds != ["datetime", "datetime"]
    ):
        message = (
            f"{show(text)} is not a recurring interval such as 'R/PT2H',"
            " 'R/2020-03-20T13:00:00Z/PT2H' or 'R/PT2H/2020-05-11T15:30:00Z'"
        )
        yield issue(path, IssueCode.SCHEDULE, message)


def _kind(part: str) -> str:
    try:
        parse_duration(part)
        return "duration"
    except DurationError:
        return "datetime" if _is_datetime(part) else "invalid"


def _cron(text: str, path: Path) -> Iterator[ValidationIssue]:
    fields = text.split()
    if not 5 <= len(fields) <= 7 or not all(_CRON_FIELD.match(f) for f in fields):
        message = f"{show(text)} is not a cron expression (5 to 7 fields such as '0 0/15 * * * ?')"
        yield issue(path, IssueCode.SCHEDULE, message)


def _is_datetime(text: Any) -> bool:
    try:
        datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
