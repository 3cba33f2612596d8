"""``filter[name]=value`` on top of django-filter.

A resource declares a ``FilterSet`` (subclass of ``JsonApiFilterSet``) whose filter names are
exactly the API's: ``status``, ``status__in``, ``created_at__gte`` ... An unknown name, an empty
value, a too long ``__in`` list or a value the filter cannot parse is a 400 naming the
parameter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTransform
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
            # Every RFC 3339 date-time is a valid filter value (the OpenAPI document says
            # `format: date-time`): compared in UTC, which PostgreSQL takes whatever the
            # offset (it refuses offsets of 16 h and more), and an instant beyond the
            # representable range (year 1 at +01:00) compares as the range's end.
            try:
                return parsed.astimezone(UTC)
            except OverflowError:
                edge = datetime.min if parsed.year == 1 else datetime.max
                return edge.replace(tzinfo=UTC)
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = LenientIsoDateTimeField


_INTEGER = re.compile(r"^[+-]?[0-9]{1,30}$")
# The range of each integer column (the smallest any database gives it): a filter value
# outside it is a 400, as the OpenAPI document's minimum/maximum say.
_BIG = 2**63 - 1
# (Positive fields: the column's type range too; their check constraint is about stored
# values, and `filter[retry_count__lte]=-1` is a fine question with no match.)
_RANGES: dict[type, tuple[int, int]] = {
    models.PositiveSmallIntegerField: (-32768, 32767),
    models.PositiveBigIntegerField: (-_BIG - 1, _BIG),
    models.PositiveIntegerField: (-(2**31), 2**31 - 1),
    models.SmallIntegerField: (-32768, 32767),
    models.BigIntegerField: (-_BIG - 1, _BIG),
    models.IntegerField: (-(2**31), 2**31 - 1),
}


def integer_range(model_field: models.Field) -> tuple[int, int]:
    for field_class, bounds in _RANGES.items():
        if isinstance(model_field, field_class):
            return bounds
    return _RANGES[models.BigIntegerField]


class StrictIntegerField(forms.IntegerField):
    """An integer as the OpenAPI document says (`type: integer`): not ``0.5``, not ``5.0``,
    not Unicode digits (django-filter's NumberFilter would take decimals)."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not _INTEGER.match(value.strip()):
            raise ValidationError("Enter a whole number.", code="invalid")
        return super().to_python(value)


class IntegerFilter(django_filters.NumberFilter):
    field_class = StrictIntegerField


def _integer_filter(model_field: models.Field) -> dict:
    low, high = integer_range(model_field)
    return {"min_value": low, "max_value": high}


_INTEGER_FILTER = {"filter_class": IntegerFilter, "extra": _integer_filter}


class StrictBooleanField(forms.Field):
    """``true`` or ``false``, as the OpenAPI document says (`type: boolean`); anything else is
    a 400 (django-filter's BooleanFilter would ignore it and match everything)."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip()
        if text not in ("true", "false"):
            raise ValidationError("Enter true or false.", code="invalid")
        return text == "true"


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class JsonApiFilterSet(FilterSet):
    FILTER_DEFAULTS = {
        **FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": IsoDateTimeFilter},
        **{field_class: _INTEGER_FILTER for field_class in _RANGES},
    }
    # JSON object attributes filterable by key: ``filter[<name>][<key>]=<value>`` keeps the
    # rows whose object has ``key`` equal to ``value`` (a string; also the JSON number, true,
    # false or null the text spells). Declare ``<name>__has_key`` beside it for presence.
    json_key_filters: tuple[str, ...] = ()


class HasKeyFilter(django_filters.CharFilter):
    """``filter[<name>__has_key]=<key>``: the JSON object has this key (any value)."""

    def __init__(self, field_name: str, **kwargs):
        kwargs.setdefault("help_text", "The JSON object has this key.")
        super().__init__(field_name=field_name, lookup_expr="has_key", **kwargs)


def json_key_filter(queryset, attribute: str, key: str, value: str, parameter: str,
                    index: int = 0):
    """Rows whose JSON ``attribute`` has ``key`` equal to ``value`` (works the same on SQLite
    and PostgreSQL: a key transform, not PostgreSQL's ``@>``)."""
    if "\x00" in value or "\x00" in key:
        raise ParameterError(parameter, f"`{parameter}` cannot contain a NUL character.")
    candidates: list = [value]
    try:
        scalar = json.loads(value)
    except ValueError:
        scalar = value
    # (Integers only in the 64-bit range SQLite binds; larger ones match as text.)
    if scalar is None or isinstance(scalar, bool) or (
            isinstance(scalar, int) and -_BIG - 1 <= scalar <= _BIG) or (
            isinstance(scalar, float) and math.isfinite(scalar)):
        candidates.append(scalar)
    alias = f"_json_key_{index}"
    queryset = queryset.alias(**{alias: KeyTransform(key, attribute)})
    condition = Q()
    for candidate in candidates:
        # (None: a JSON null stored under the key, not a missing key.)
        condition |= Q(**{alias: candidate})
    return queryset.filter(condition)


def choices_of(filterset_class, filter_field) -> list[str] | None:
    """The values a filter's model field takes (its choices), or None when it has none."""
    field_name = getattr(filter_field, "field_name", None)
    if not field_name or filterset_class is None:
        return None
    model = filterset_class._meta.model
    try:
        for part in field_name.split("__")[:-1]:
            model = model._meta.get_field(part).related_model
        model_field = model._meta.get_field(field_name.split("__")[-1])
    except Exception:  # noqa: BLE001 - an annotation or a method filter: no choices
        return None
    choices = getattr(model_field, "choices", None)
    return [str(value) for value, _ in choices] if choices else None


# How parse_query hands over filter[<attribute>][<key>]: "<attribute>[<key>]".
_JSON_KEY = re.compile(r"^(?P<attribute>[A-Za-z0-9_]+)\[(?P<key>.*)\]$", re.S)


def _error_text(errors) -> str:
    return " ".join(str(e) for e in errors)


def apply_filters(queryset, filterset_class, raw_filters: Mapping[str, str], request,
                  parameters: Mapping[str, str] | None = None):
    """Filter ``queryset`` by the request's ``filter[...]`` values (already parsed into
    ``raw_filters``: name → value). ``parameters`` names the query parameter a filter came
    from where it is not ``filter[name]``, so errors name what the client sent."""
    if not raw_filters:
        return queryset
    parameters = parameters or {}
    known = filterset_class.base_filters if filterset_class is not None else {}
    json_keys: list[tuple[str, str, str, str]] = []  # (attribute, key, value, parameter)
    for name, value in list(raw_filters.items()):
        match = _JSON_KEY.match(name)
        if match is None:
            continue
        attribute, key = match["attribute"], match["key"]
        parameter = parameters.get(name, f"filter[{attribute}][{key}]")
        if attribute not in getattr(filterset_class, "json_key_filters", ()):
            allowed = ", ".join(getattr(filterset_class, "json_key_filters", ())) or "none"
            raise ParameterError(parameter, f"Unknown filter {name!r}: filter by key only on "
                                            f"JSON attributes ({allowed}).")
        json_keys.append((attribute, key, value, parameter))
    raw_filters = {name: value for name, value in raw_filters.items()
                   if not _JSON_KEY.match(name)}
    for index, (attribute, key, value, parameter) in enumerate(json_keys):
        queryset = json_key_filter(queryset, attribute, key, value, parameter, index)
    if not raw_filters:
        return queryset
    for name, value in raw_filters.items():
        parameter = parameters.get(name, f"filter[{name}]")
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise ParameterError(parameter, f"Unknown filter {name!r}; filters: {allowed}.")
        # ASCII whitespace only: Python's strip() also takes control characters (\x1c-\x1f),
        # which the published schema allows in a value.
        if value.strip(" \t\n\r\f\v") == "":
            raise ParameterError(parameter, f"`{parameter}` needs a value.")
        if name.endswith("__in"):
            items = value.split(",")
            if len(items) > MAX_IN_VALUES:
                raise ParameterError(parameter, f"`{parameter}` takes at most {MAX_IN_VALUES} "
                                                f"values, not {len(items)}.")
            if any(not item.strip() for item in items):
                raise ParameterError(parameter, f"`{parameter}` has an empty item.")
            choices = set(choices_of(filterset_class, known[name]) or ())
            unknown = [item for item in items if choices and item not in choices]
            if unknown:
                # The OpenAPI document lists the values (an enum): others are refused, not
                # silently matched against nothing.
                raise ParameterError(parameter, f"Unknown value {unknown[0][:100]!r} in "
                                                f"`{parameter}`; values: "
                                                f"{', '.join(sorted(choices))}.")
    data = QueryDict(mutable=True)
    for name, value in raw_filters.items():
        data[name] = value
    filterset = filterset_class(data=data, queryset=queryset, request=request)
    if not filterset.is_valid():
        name, errors = next(iter(filterset.errors.items()))
        parameter = parameters.get(name, f"filter[{name}]")
        raise ParameterError(parameter, f"Invalid value for `{parameter}`: {_error_text(errors)}")
    return filterset.qs
