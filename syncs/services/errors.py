"""How the sync services refuse a request: ``SyncStateError`` for a state rule (409), an
``InvalidAttribute`` at the attribute's pointer for a bad value (422)."""

from __future__ import annotations

from syncservice.jsonapi.errors import InvalidAttribute


class SyncStateError(Exception):
    """A state rule refuses the request (the API answers 409)."""


def attribute_error(name: str, detail: str, pointer: str | None = None) -> InvalidAttribute:
    return InvalidAttribute(name, detail, pointer=pointer)


def check_schema(errors: list[tuple[str, str]], base_pointer: str, name: str) -> None:
    """Raise the first of a JSON Schema check's ``errors`` at ``base_pointer`` + its pointer."""
    if errors:
        pointer, message = errors[0]
        raise attribute_error(name, message, f"{base_pointer}{pointer}")
