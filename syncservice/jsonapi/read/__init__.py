"""The JSON:API read path: list and show documents built by per-resource specs derived from
the serializers, from ``.values()`` rows or from the view's instances (``spec``, ``rows``,
``text``: columns read as SQL text, ``links``, ``document``, ``compiled``: one builder per
resource type; ``path`` plugs it into DRF's list and retrieve). Apps declare row hooks
for their method fields with ``row_field`` and ``row_relationship`` (``hooks``)."""

from syncservice.jsonapi.read.hooks import Row, row_field, row_relationship
from syncservice.jsonapi.read.links import Links
from syncservice.jsonapi.read.path import (
    ReadDocument,
    ReadSerializer,
    compose,
    enabled,
    reader_for,
)
from syncservice.jsonapi.read.rows import read_rows
from syncservice.jsonapi.read.spec import ResourceSpec, spec_for

__all__ = ["Links", "ReadDocument", "ReadSerializer", "ResourceSpec", "Row", "compose", "enabled",
           "read_rows", "reader_for", "row_field", "row_relationship", "spec_for"]
