"""Query filters every list shares, validated so a bad value is a 400 naming the parameter."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, turned into UTC before it reaches the database.

    PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows: in UTC the offset is
    gone. A date near year 1 or 9999 may leave the calendar once moved: that is refused.
    """

    default_error_messages = {
        "invalid": "Enter an ISO 8601 date-time, e.g. 2026-01-31T09:30:00Z.",
        "out_of_range": "This date-time is out of range (years 1 to 9999 in UTC).",
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
        try:
            return result.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """`?created_after=2026-01-31T09:30:00Z`: ISO 8601, validated, compared in UTC."""

    field_class = UtcIsoDateTimeField
