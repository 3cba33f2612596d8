"""DRF serializer fields of structured attributes: ``SchemaField`` validates its value with a
JSON Schema and reports each problem at its exact member (``/data/attributes/<name>/<path>``);
the ``Strict*Field``s are the scalar fields of write documents without DRF's coercions
(``123`` is not the string ``"123"``, ``"true"`` is not a boolean).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

from syncservice.jsonschema.validation import MAX_ERRORS, Error, validate


def error_detail(errors: list[Error]) -> Any:
    """DRF's nested error detail for (pointer, message) pairs, so that the JSON:API error
    handler points each error at its member: ``{"a": {"0": ["msg"]}}`` → ``…/a/0``. A node's
    own messages go under ``non_field_errors`` (the handler keeps the node's pointer)."""
    by_pointer: dict[str, list[str]] = {}
    for pointer, message in errors:
        by_pointer.setdefault(pointer, []).append(message)
    root: dict[str, Any] = {}
    # One error per member, its rules joined (an empty queue name is both too short and
    # off-pattern).
    for pointer, messages in list(by_pointer.items())[:MAX_ERRORS]:
        message = "; ".join(messages)
        node = root
        for segment in pointer.split("/")[1:] if pointer else []:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = {} if child is None else {"non_field_errors": child}
                node[segment] = child
            node = child
        node.setdefault("non_field_errors", []).append(ErrorDetail(message, code="invalid"))
    return _collapse(root)


def _collapse(node: dict) -> Any:
    if set(node) == {"non_field_errors"}:
        return node["non_field_errors"]
    return {key: value if key == "non_field_errors" else _collapse(value)
            for key, value in node.items()}


# --- the serializer field -------------------------------------------------------------------

SchemaSource = dict | Callable[[], dict]


class SchemaField(serializers.Field):
    """A structured attribute validated by a JSON Schema (a dict, or a callable returning one
    when the schema is only known once the app registry is ready). ``component`` names the
    schema in the OpenAPI document's components."""

    default_error_messages = {"null": "must not be null"}

    def __init__(self, schema: SchemaSource, *, component: str | None = None,
                 openapi: Callable[[Any], dict] | None = None, **kwargs: Any) -> None:
        self._schema = schema
        self.component = component
        # A callable(auto_schema) -> OpenAPI schema, when the published form needs the
        # generator (e.g. references to per-provider components).
        self.openapi = openapi
        super().__init__(**kwargs)

    @property
    def schema(self) -> dict:
        return self._schema() if callable(self._schema) else self._schema

    def to_internal_value(self, data: Any) -> Any:
        errors = validate(self.schema, data)
        if errors:
            raise ValidationError(error_detail(errors))
        return data

    def to_representation(self, value: Any) -> Any:
        return value


# --- strict scalar fields -------------------------------------------------------------------

class StrictCharField(serializers.CharField):
    """A string, only, kept as given: DRF would store ``123`` as ``"123"`` and trim
    whitespace (so ``"  "`` would be blank although the published ``minLength`` allows it)."""

    default_error_messages = {"invalid": "must be a string"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false``, only (not ``"yes"``, ``1`` or ``"false"``)."""

    default_error_messages = {"invalid": "must be a boolean"}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, only (not ``"5"``, ``5.5`` or ``true``)."""

    default_error_messages = {"invalid": "must be an integer"}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, as a string (DRF would take ``1`` for ``"1"``)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=json.dumps(data)[:100])
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID string (DRF would also take an integer)."""

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str):
            self.fail("invalid", value=str(data)[:100])
        return super().to_internal_value(data)
