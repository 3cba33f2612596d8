"""The engine's errors: their messages are safe to show (no secrets)."""

from __future__ import annotations


class SourceError(Exception):
    """A request to the source failed; the message is safe to show (no secrets)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthFailed(SourceError):
    """The source (or its token endpoint) rejected the credentials."""


class UnsupportedEntity(SourceError):
    """The connector knows the entity from the catalog but cannot read it."""
