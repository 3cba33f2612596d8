"""The JSON Schemas of an export's structured attributes (``filters``, ``fields``,
``includes``, ``metadata``): enforced by ``ExportCreateSerializer`` and published in the
OpenAPI document. Which names exist depends on the resource type; ``services.validate_request``
checks that part (422 pointing at the member)."""

from __future__ import annotations

from syncservice.jsonapi.filters import MAX_IN_VALUES

NAME_MAX = 255
VALUE_MAX = 10_000

_SCALAR = {"type": ["string", "number", "boolean"], "maxLength": VALUE_MAX}

FILTERS: dict = {
    "type": ["object", "null"],
    "description": "Filters as the list endpoint's `filter[name]=value`: a filter name "
                   "(with its lookup, e.g. `status__in`, `created_at__gte`) and a value; a "
                   "list is the comma list of an `__in` filter.",
    "maxProperties": 50,
    "additionalProperties": {
        "anyOf": [_SCALAR,
                  {"type": "array", "items": {"type": ["string", "number"],
                                              "maxLength": VALUE_MAX},
                   "maxItems": MAX_IN_VALUES}],
    },
    "examples": [{"status__in": "failed,succeeded"}],
}


def _names(what: str, example: list[str]) -> dict:
    return {
        "type": ["array", "string", "null"],
        "items": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
        "maxItems": 1000,
        "maxLength": 100_000,
        "description": f"{what}: a list of names, or the same names as a comma list; null or "
                       "omitted: none.",
        "examples": [example],
    }


FIELDS: dict = _names("The attributes to export, by their API names; omitted: all",
                      ["job_class", "status"])
INCLUDES: dict = _names("Related resources to add to each row, as `included` paths",
                        ["project"])

METADATA: dict = {
    "type": ["object", "null"],
    "description": "Free-form metadata stored with the export and returned as given.",
    "maxProperties": 100,
}
