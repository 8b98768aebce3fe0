"""Query filters every list shares, validated so a bad value is a 400 naming the parameter."""

from __future__ import annotations

from datetime import UTC, timedelta

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

# The widest offsets real time zones use (UTC-12:00 to UTC+14:00).
MAX_OFFSET = timedelta(hours=14)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time with a real-world offset, turned into UTC for the database.

    Python reads offsets up to ±23:59 and PostgreSQL refuses those beyond ±15:59 (a 500 it
    was): no time zone is further than 14 hours from UTC, so more is refused here. A date
    near year 1 or 9999 may leave the calendar once moved to UTC: that is refused too.
    """

    default_error_messages = {
        "invalid": "Enter an ISO 8601 date-time, e.g. 2026-01-31T09:30:00Z.",
        "out_of_range": "This date-time is out of range (years 1 to 9999 in UTC, offsets "
        "within ±14:00).",
    }

    def to_python(self, value):
        try:
            result = super().to_python(value)
        except OverflowError:
            raise ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from None
        if result is None:
            return None
        offset = result.utcoffset()
        if offset is not None and abs(offset) > MAX_OFFSET:
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        try:
            return result.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """`?created_after=2026-01-31T09:30:00Z`: ISO 8601, validated, compared in UTC."""

    field_class = UtcIsoDateTimeField
