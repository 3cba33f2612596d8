"""Publishing the attributes' schemas in the OpenAPI document: ``register_component`` adds one
to the document being generated, ``openapi30`` translates it to OpenAPI 3.0's dialect (a
mechanical, meaning-preserving rewrite, not a second copy).
"""

from __future__ import annotations

import copy
from typing import Any


def register_component(auto_schema, name: str, schema: dict) -> dict:
    """Publishes ``schema`` as the component ``name`` of the document being generated."""
    # Imported here: drf-spectacular is needed to generate the document, not to validate
    # (a worker never loads it).
    from drf_spectacular.plumbing import ResolvedComponent

    component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema,
                                  object=f"jsonschema:{name}")
    auto_schema.registry.register_on_missing(component)
    return component.ref


# --- OpenAPI 3.0 dialect --------------------------------------------------------------------

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("items", "not", "additionalProperties", "if", "then", "else")
_DROPPED = ("$schema", "$id", "$comment")


def openapi30(schema: Any) -> Any:
    """The same schema in OpenAPI 3.0's dialect of JSON Schema: type lists become ``nullable``
    or ``anyOf``, ``const`` a one-value ``enum``, ``examples`` an ``example``, numeric
    ``exclusiveMinimum``/``exclusiveMaximum`` the boolean form, ``if``/``then``/``else`` and
    ``dependentRequired`` the equivalent ``anyOf``/``not`` combinations, and ``propertyNames``
    (no 3.0 keyword) the extension ``x-propertyNames``."""
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    out: dict[str, Any] = {}
    extra: list[dict] = []
    for key, value in schema.items():
        if key in _DROPPED or key in ("if", "then", "else", "dependentRequired"):
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: openapi30(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [openapi30(sub) for sub in value]
        elif key in _SCHEMA_ONE:
            out[key] = openapi30(value) if isinstance(value, dict) else value
        elif key == "propertyNames":
            # No OpenAPI 3.0 keyword: published as an extension, still enforced.
            out["x-propertyNames"] = openapi30(value)
        elif key == "const":
            out["enum"] = [value]
        elif key == "examples":
            if isinstance(value, list) and value:
                out["example"] = copy.deepcopy(value[0])
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "type" and value == "null":
            out["nullable"], out["enum"] = True, [None]
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if len(types) < len(value):
                out["nullable"] = True
            if len(types) == 1:
                out["type"] = types[0]
            elif types:
                extra.append({"anyOf": [{"type": t} for t in types]})
        else:
            out[key] = copy.deepcopy(value)
    if "if" in schema:
        condition = openapi30(schema["if"])
        then = openapi30(schema.get("then", {}))
        otherwise = openapi30(schema.get("else", {}))
        extra.append({"anyOf": [{"allOf": [condition, then]},
                                {"allOf": [{"not": condition}, otherwise]}]})
    for present, needed in (schema.get("dependentRequired") or {}).items():
        extra.append({"anyOf": [{"not": {"required": [present]}},
                                {"required": [present, *needed]}]})
    if extra:
        out["allOf"] = [*out.get("allOf", []), *extra]
    if out.get("nullable") and "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out
