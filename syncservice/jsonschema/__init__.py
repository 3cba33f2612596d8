"""JSON Schemas of structured attributes: ONE schema object per attribute, enforced on write
and published in the OpenAPI document.

- ``validation``: ``validate(schema, instance)`` and its format checks (no DRF: workers and
  event recording use it without the API's serializers);
- ``fields``: the DRF serializer fields (``SchemaField``, ``Strict*Field``) — import them from
  ``syncservice.jsonschema.fields``, so that validating never loads DRF;
- ``openapi``: ``register_component`` and ``openapi30``, publishing the same schemas.
"""

from syncservice.jsonschema.openapi import openapi30, register_component
from syncservice.jsonschema.validation import (
    FORMAT_CHECKER,
    ISO_DURATION_RE,
    Error,
    cron_problem,
    is_time_zone,
    json_pointer,
    validate,
)

__all__ = ["FORMAT_CHECKER", "ISO_DURATION_RE", "Error", "cron_problem", "is_time_zone",
           "json_pointer", "openapi30", "register_component", "validate"]
