"""JSON Schema validation of structured attributes: ``validate(schema, instance)`` lists the
problems of an instance as (JSON pointer, message) pairs (Draft 2020-12, with the format checks
below: ``date-time``, ``date``, ``uri``, ``hostname``, ``duration``, ``cron``, ``time-zone``).
No DRF here: a worker validates event data without loading the API's serializers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ISO_DURATION_RE = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
# Five fields (minute hour day month weekday) or a macro; croniter's seconds and year fields
# are refused: the scheduler looks every few seconds, and a year field stops firing.
CRON_RE = re.compile(r"^\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|"
                     r"\S+(\s+\S+){4})\s*$")
# A cron expression must fire within this many years (``0 0 30 2 *`` never does).
CRON_HORIZON_YEARS = 5
# How many problems one attribute reports at most (a huge bad document stays a small answer).
MAX_ERRORS = 20

Error = tuple[str, str]

FORMAT_CHECKER = FormatChecker()


# RFC 3986 (ASCII only, valid percent escapes), as the usual validators read ``uri``: what
# the published document says is what is enforced.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
URI_RE = re.compile(
    rf"^[A-Za-z][A-Za-z0-9+\-.]*:"
    rf"(?://(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"
    rf"(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)(?::[0-9]*)?"
    rf"(?:/{_PCHAR}*)*"
    rf"|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"
    rf"|{_PCHAR}+(?:/{_PCHAR}*)*"
    rf"|)"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?$")
# RFC 3339 date-time (a leap second is refused: Python cannot represent it).
DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@FORMAT_CHECKER.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(URI_RE.match(value))


@FORMAT_CHECKER.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = DATE_TIME_RE.match(value)
    if not match:
        return False
    fraction = match.group(1) or ""
    normal = value[:19].replace("t", "T") + fraction[:7] + \
        (match.group(2).upper().replace("Z", "+00:00"))
    try:
        datetime.fromisoformat(normal)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("date")
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return bool(re.match(r"^\d{4}-\d{2}-\d{2}$", value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


@FORMAT_CHECKER.checks("hostname")
def _is_hostname(value: object) -> bool:
    if not isinstance(value, str):
        return True
    label = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
    return len(value) <= 253 and bool(re.match(rf"^{label}(\.{label})*$", value))


@FORMAT_CHECKER.checks("duration")
def _is_duration(value: object) -> bool:
    return not isinstance(value, str) or bool(ISO_DURATION_RE.match(value))


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a usable schedule (None: it is)."""
    if not CRON_RE.match(expression) or not croniter.is_valid(expression):
        return "must be a cron expression of 5 fields (minute hour day month weekday)"
    try:
        croniter(expression, datetime.now(UTC),
                 max_years_between_matches=CRON_HORIZON_YEARS).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError, CroniterError, ValueError,
            OverflowError):
        return f"must be a cron expression that fires within {CRON_HORIZON_YEARS} years"
    return None


@FORMAT_CHECKER.checks("cron")
def _is_cron(value: object) -> bool:
    return not isinstance(value, str) or cron_problem(value) is None


_TIME_ZONES: set[str] | None = None


def is_time_zone(value: str) -> bool:
    """An IANA time zone name (``Europe/Paris``, ``UTC``)."""
    global _TIME_ZONES
    if _TIME_ZONES is None:
        _TIME_ZONES = available_timezones() | {"UTC"}
    if value not in _TIME_ZONES:
        return False
    try:
        ZoneInfo(value)
    except (ValueError, OSError, KeyError):
        return False
    return True


@FORMAT_CHECKER.checks("time-zone")
def _is_time_zone(value: object) -> bool:
    return not isinstance(value, str) or is_time_zone(value)


FORMAT_MESSAGES = {
    "cron": "is not a cron expression of 5 fields (minute hour day month weekday) that "
            f"fires within {CRON_HORIZON_YEARS} years",
    "time-zone": "Unknown time zone: an IANA name is expected, e.g. UTC or Europe/Paris",
}


# --- validation -----------------------------------------------------------------------------

_VALIDATORS: dict[int, Draft202012Validator] = {}


def _validator(schema: dict) -> Draft202012Validator:
    # Schemas are module-level constants: one compiled validator each.
    key = id(schema)
    validator = _VALIDATORS.get(key)
    if validator is None or validator.schema is not schema:
        if len(_VALIDATORS) > 1024:  # schemas built on the fly: keep the cache bounded
            _VALIDATORS.clear()
        validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
        _VALIDATORS[key] = validator
    return validator


def validate(schema: dict, instance: Any) -> list[Error]:
    """Problems of ``instance``, as (JSON pointer relative to it, message); [] when valid.
    Sorted by pointer; messages describe the rule, never the submitted value."""
    errors: list[Error] = []
    for error in _validator(schema).iter_errors(instance):
        errors.extend(_describe(error))
    return sorted(dict.fromkeys(errors))


def json_pointer(path: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _describe(error: SchemaError) -> list[Error]:
    """(pointer, message) pairs for one error. Pointers name the offending property (a
    missing required one included)."""
    path = list(error.absolute_path)
    instance, value = error.instance, error.validator_value
    keyword = error.validator
    if keyword == "required" and isinstance(instance, dict):
        return [(json_pointer(path + [p]), "is a required property")
                for p in value if p not in instance]
    if keyword == "dependentRequired" and isinstance(instance, dict):
        return [(json_pointer(path + [needed]), f"is required when {present!r} is set")
                for present, needs in value.items() if present in instance
                for needed in needs if needed not in instance]
    if keyword == "additionalProperties" and value is False and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        extra = [k for k in instance
                 if k not in known and not any(re.search(p, k) for p in patterns)]
        return [(json_pointer(path + [k]), "is not an allowed property") for k in extra]
    if keyword in ("anyOf", "oneOf") and error.context:
        best = best_match(error.context)
        if best is not None:
            return _describe(best)
    if keyword in ("enum", "pattern", "format") and isinstance(error.schema, dict) \
            and error.schema.get("x-error"):
        # The schema's own words for a rule its values would not explain (600 zone names).
        return [(json_pointer(path), error.schema["x-error"])]
    return [(json_pointer(path), _message(keyword, value))]


def _message(keyword: str, value: Any) -> str:
    def show(v: Any) -> str:
        return json.dumps(v)

    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        return f"must be of type {' or '.join(types)}"
    if keyword == "enum":
        return f"must be one of {', '.join(show(v) for v in value)}"
    if keyword == "const":
        return f"must be {show(value)}"
    if keyword == "format":
        return FORMAT_MESSAGES.get(value, f"must be a valid {value}")
    if keyword == "pattern":
        return f"must match the pattern {value}"
    messages = {
        "minLength": f"must be at least {value} characters long",
        "maxLength": f"must be at most {value} characters long",
        "minimum": f"must be greater than or equal to {value}",
        "maximum": f"must be less than or equal to {value}",
        "exclusiveMinimum": f"must be greater than {value}",
        "exclusiveMaximum": f"must be less than {value}",
        "multipleOf": f"must be a multiple of {value}",
        "minItems": f"must have at least {value} items",
        "maxItems": f"must have at most {value} items",
        "uniqueItems": "must not contain duplicate items",
        "minProperties": f"must have at least {value} properties",
        "maxProperties": f"must have at most {value} properties",
        "additionalProperties": "has a property that is not allowed",
        "propertyNames": "has an invalid property name",
        "anyOf": "does not match any of the allowed forms",
        "oneOf": "must match exactly one of the allowed forms",
        "not": "is not allowed",
        "contains": "does not contain a required item",
    }
    return messages.get(keyword, f"is invalid ({keyword})")
