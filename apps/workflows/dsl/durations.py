"""ISO 8601 durations (`PT1H30M`, `P2DT3H`, `PT0.5S`) as the 0.8 spec uses them."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)


# Days or weeks written after the T ("PT30D", "PT2W"): not ISO 8601, but the 0.8 spec's own
# examples use them and their meaning is unambiguous, so they are read (the validator warns).
_LENIENT = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"T(?:(?P<weeks2>\d+)W)?(?:(?P<days2>\d+)D)?(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?$"
)


class DurationError(ValueError):
    pass


def is_strict_duration(text: str) -> bool:
    """True for a duration written exactly as ISO 8601 says."""
    return isinstance(text, str) and _DURATION.match(text.strip().upper()) is not None


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration; years count 365 days and months 30 (no calendar here)."""
    if not isinstance(text, str):
        raise DurationError("a duration must be a string such as 'PT30S'")
    upper = text.strip().upper()
    m = _DURATION.match(upper)
    if not m:
        m = _LENIENT.match(upper) if upper not in {"PT"} else None
    if not m:
        raise DurationError(f"'{text}' is not an ISO 8601 duration (for example PT30S, PT2H, P1D)")
    parts = {k: float((v or "0").replace(",", ".")) for k, v in m.groupdict().items()}
    parts["weeks"] += parts.pop("weeks2", 0.0)
    parts["days"] += parts.pop("days2", 0.0)
    return timedelta(
        days=parts["years"] * 365 + parts["months"] * 30 + parts["weeks"] * 7 + parts["days"],
        hours=parts["hours"],
        minutes=parts["minutes"],
        seconds=parts["seconds"],
    )


def is_duration(text: object) -> bool:
    try:
        parse_duration(text)  # type: ignore[arg-type]
    except DurationError:
        return False
    return True
