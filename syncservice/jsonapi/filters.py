"""``filter[name]=value`` on top of django-filter.

A resource declares a ``FilterSet`` (subclass of ``JsonApiFilterSet``) whose filter names are
exactly the API's: ``status``, ``status__in``, ``created_at__gte`` ... An unknown name, an empty
value, a too long ``__in`` list or a value the filter cannot parse is a 400 naming the
parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.db import models
from django.http import QueryDict
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import FilterSet

from syncservice.jsonapi.errors import ParameterError

MAX_IN_VALUES = 1000

# A "+" in an unencoded query string arrives as a space: "2026-01-01T00:00:00 02:00".
_SPACE_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")


class LenientIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        if isinstance(value, str):
            value = _SPACE_OFFSET.sub(r"+\1", value.strip())
        parsed = super().to_python(value)
        if parsed is not None and parsed.tzinfo is not None:
            # Out-of-range instants (year 1 at +01:00; offsets PostgreSQL refuses) are the
            # client's mistake, not the database's.
            try:
                if abs(parsed.utcoffset().total_seconds()) >= 16 * 3600:
                    raise ValueError("offset out of range")
                parsed.astimezone(UTC)
            except (OverflowError, ValueError):
                raise ValidationError("Enter a date/time within range.",
                                      code="invalid") from None
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = LenientIsoDateTimeField


class JsonApiFilterSet(FilterSet):
    FILTER_DEFAULTS = {
        **FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": IsoDateTimeFilter},
    }


def _error_text(errors) -> str:
    return " ".join(str(e) for e in errors)


def apply_filters(queryset, filterset_class, raw_filters: Mapping[str, str], request):
    """Filter ``queryset`` by the request's ``filter[...]`` values (already parsed into
    ``raw_filters``: name → value)."""
    if not raw_filters:
        return queryset
    known = filterset_class.base_filters if filterset_class is not None else {}
    for name, value in raw_filters.items():
        parameter = f"filter[{name}]"
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise ParameterError(parameter, f"Unknown filter {name!r}; filters: {allowed}.")
        if value.strip() == "":
            raise ParameterError(parameter, f"`{parameter}` needs a value.")
        if name.endswith("__in"):
            items = value.split(",")
            if len(items) > MAX_IN_VALUES:
                raise ParameterError(parameter, f"`{parameter}` takes at most {MAX_IN_VALUES} "
                                                f"values, not {len(items)}.")
            if any(not item.strip() for item in items):
                raise ParameterError(parameter, f"`{parameter}` has an empty item.")
    data = QueryDict(mutable=True)
    for name, value in raw_filters.items():
        data[name] = value
    filterset = filterset_class(data=data, queryset=queryset, request=request)
    if not filterset.is_valid():
        name, errors = next(iter(filterset.errors.items()))
        raise ParameterError(f"filter[{name}]",
                             f"Invalid value for filter[{name}]: {_error_text(errors)}")
    return filterset.qs
