"""The syncs admin's form pieces: JSON objects edited as indented JSON, a write-only textarea
for secrets, and the API's validation errors put on the form's fields."""

from __future__ import annotations

import json

from django import forms

from syncservice.jsonapi.errors import InvalidAttribute

JSON_TEXTAREA = {"rows": 14, "cols": 90, "style": "font-family:monospace;font-size:12px"}


def field_of_error(exc: InvalidAttribute, fields: dict[str, str]) -> tuple[str | None, str]:
    """The form field an API validation error is about, and its message: the pointer
    ``/data/attributes/config/base_url`` is about ``config`` and names ``base_url``."""
    parts = (getattr(exc, "pointer", "") or "").split("/")
    attribute = parts[3] if len(parts) > 3 else ""
    where = "/".join(parts[4:])
    message = str(exc.detail)
    if where:
        message = f"{where}: {message}"
    return fields.get(attribute), message


class PrettyJSONField(forms.JSONField):
    """A JSON object edited as indented JSON (Django's own is one long line)."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, cls=self.encoder)

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object, e.g. {\"key\": \"value\"}.")
        return value


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: secrets typed in are not sent back."""

    def format_value(self, value):
        return None
