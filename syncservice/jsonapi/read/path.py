"""The read path in DRF's list and retrieve: whether a request takes it (``reader_for``), the
serializer stand-in whose ``.data`` is the built document (``ReadSerializer``), and the
document the renderer writes (``compose``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework_json_api.settings import json_api_settings
from rest_framework_json_api.utils import get_included_resources

from syncservice.jsonapi.read.document import Reader
from syncservice.jsonapi.read.spec import MethodRelationshipSpec, ResourceSpec, spec_for


def enabled() -> bool:
    """``settings.JSONAPI_FAST_PATH = False`` serves every read through DRF-JSONAPI."""
    return getattr(settings, "JSONAPI_FAST_PATH", True)


class ReadDocument:
    """What the read path's serializer stand-in returns as ``.data``: the ``data`` and
    ``included`` members; the renderer writes them with the pagination links and meta."""

    __slots__ = ("members", "from_rows")

    def __init__(self, members: dict, from_rows: bool) -> None:
        self.members = members
        self.from_rows = from_rows  # built from rows (else from the view's instances)


class ReadSerializer:
    """Stands in for ``get_serializer(page, many=True)`` / ``get_serializer(instance)`` in
    DRF's list and retrieve: ``.data`` builds the document inside the view, as DRF's
    ``serializer.data`` would, so errors go through the view's exception handling."""

    def __init__(self, reader: Reader, source: Any, many: bool = False) -> None:
        self.reader = reader
        self.source = source
        self.many = many
        self._data: ReadDocument | None = None

    @property
    def data(self) -> ReadDocument:
        if self._data is None:
            members = self.reader.build(self.source, self.many)
            self._data = ReadDocument(members, not self.reader.instances)
        return self._data


def _types_reached(spec: ResourceSpec, type_name: str, includes: Iterable[str]
                   ) -> tuple[list[tuple[ResourceSpec, str]], bool] | None:
    """Every (spec, type) the document renders and whether an include path walks a method
    relationship; None when a path walks a relationship no spec reads."""
    reached = [(spec, type_name)]
    through_method = False
    for path in includes:
        current = spec
        for segment in path.split("."):
            target = current.included.get(segment)
            relationship = current.relationship(segment)
            if target is None or relationship is None:
                return None
            through_method = through_method or (
                isinstance(relationship, MethodRelationshipSpec) and relationship.rows is None)
            current = spec_for(target)
            if current is None:
                return None
            reached.append((current, current.type))
    return reached, through_method


def reader_for(view, serializer_class: type) -> Reader | None:
    """A reader for this list/show request, or None when something it renders is read by
    no spec (the request then takes DRF-JSONAPI's stock path)."""
    if not enabled() or json_api_settings.FORMAT_FIELD_NAMES:
        return None
    spec = spec_for(serializer_class)
    if spec is None:
        return None
    resource_name = getattr(view, "resource_name", None)
    if resource_name is None:
        resource_name = spec.type
    elif resource_name is False or resource_name != spec.type:
        return None
    request = view.request
    if api_settings.URL_FORMAT_OVERRIDE and api_settings.URL_FORMAT_OVERRIDE in request.GET:
        return None  # DRF would carry it into every link
    if view.get_serializer_context().get("format"):
        return None
    found = _types_reached(spec, resource_name, get_included_resources(request))
    if found is None:
        return None
    reached, instances = found
    params = request.query_params
    for reached_spec, type_name in reached:
        raw = params.get(f"fields[{type_name}]")
        fields = None if raw is None else set(raw.split(","))
        rendered = [field for field in reached_spec.field_names
                    if fields is None or field in fields]
        if any(name in reached_spec.unsupported for name in rendered):
            return None
        instances = instances or any(reached_spec.needs_instances(name) for name in rendered)
    return Reader(view, spec, resource_name, instances)


def compose(data: Any) -> dict | None:
    """The JSON:API document (without ``jsonapi``) for response data holding a
    ``ReadDocument``, ordered as DRF-JSONAPI's renderer orders it; None for other data."""
    if isinstance(data, ReadDocument):
        return data.members
    if isinstance(data, dict) and isinstance(data.get("results"), ReadDocument):
        document = {}
        if data.get("links"):
            document["links"] = data["links"]
        document.update(data["results"].members)
        if data.get("meta"):
            document["meta"] = data["meta"]
        return document
    return None
