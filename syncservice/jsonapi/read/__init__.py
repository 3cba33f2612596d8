"""The JSON:API read path: list and show documents built from ``.values()`` rows by
per-resource specs derived from the serializers (``spec``, ``rows``, ``links``,
``document``)."""

from syncservice.jsonapi.read.document import (
    ReadDocument,
    Reader,
    ReadSerializer,
    compose,
    enabled,
    reader_for,
)
from syncservice.jsonapi.read.spec import ResourceSpec, spec_for

__all__ = ["ReadDocument", "ReadSerializer", "Reader", "ResourceSpec", "compose", "enabled",
           "reader_for", "spec_for"]
