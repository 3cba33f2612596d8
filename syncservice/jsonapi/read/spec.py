"""Read specs: what a serializer class renders, derived once from its fields.

A spec lists, in the serializer's field order, its attributes (the ``.values()`` column each
reads and how DRF represents the value), its relationships (to-one: the FK column; to-many: the
related model and the FK column pointing back) and its ``self`` link route. Fields computed per
instance (a ``SerializerMethodField``, a dotted source, a custom ``get_attribute``, a
relationship computed by a method) are read from model instances, through DRF's own field
API, unless the serializer's app declared a row hook for it (``hooks``: then it is read from
rows too): a request that renders one gets its document built from the view's instances
rather than from rows (``syncservice.jsonapi.read.path.reader_for`` decides per request). A field
neither way can read is recorded under ``unsupported`` with the reason, and a request that
renders it takes DRF-JSONAPI's stock path, so a serializer can grow freely. Only public APIs
are read: the serializer's bound fields, ``Model._meta``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from rest_framework import fields as drf_fields
from rest_framework import relations as drf_relations
from rest_framework import serializers as drf_serializers
from rest_framework.settings import api_settings
from rest_framework_json_api import relations as dja_relations
from rest_framework_json_api import serializers as dja_serializers
from rest_framework_json_api.utils import (
    get_resource_type_from_model,
    get_resource_type_from_serializer,
    is_relationship_field,
)

from syncservice.jsonapi.read.hooks import (
    RowField,
    RowRelationship,
    field_hook,
    relationship_hook,
)
from syncservice.jsonapi.relations import ToOneField

# Serializer field classes whose ``to_representation`` returns the value of these model
# fields unchanged (or, for UUIDs, as the text orjson writes for the UUID itself).
_TEXT_COLUMNS = (models.CharField, models.TextField, models.GenericIPAddressField,
                 models.FilePathField)
_UNCHANGED: dict[type, tuple[type, ...]] = {
    drf_fields.CharField: _TEXT_COLUMNS,
    drf_fields.EmailField: _TEXT_COLUMNS,
    drf_fields.SlugField: _TEXT_COLUMNS,
    drf_fields.URLField: _TEXT_COLUMNS,
    drf_fields.IPAddressField: _TEXT_COLUMNS,
    drf_fields.IntegerField: (models.IntegerField,),
    drf_fields.BooleanField: (models.BooleanField,),
    drf_fields.FloatField: (models.FloatField,),
    drf_fields.ChoiceField: (models.Field,),      # stored choices map onto themselves
    drf_fields.ReadOnlyField: (models.Field,),    # returns the value as is
    drf_fields.JSONField: (models.JSONField,),
    drf_fields.UUIDField: (models.UUIDField,),
}

# How an attribute's value becomes its representation.
AS_IS = "as_is"          # the column's value
DATETIME = "datetime"    # as is when aware UTC and the current zone is UTC, else the field's
FIELD = "field"          # the column's value through the field's to_representation
INSTANCE = "instance"    # DRF's own reading of an instance (get_attribute, to_representation):
                         # a method field, a dotted source; only for documents of instances
HOOK = "hook"            # the app's row hook (``syncservice.jsonapi.read.hooks.row_field``)


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    column: str | None   # the model field's attname (the ``.values()`` key); None: INSTANCE
    kind: str
    # The serializer field of the spec's own (context-free) serializer, for DRF's built-in
    # fields, whose representation never reads the context; None: bind it per request.
    serializer_field: Any = field(default=None, compare=False)
    hook: RowField | None = None  # HOOK: the columns it reads and its value


def hook_columns(attribute: AttributeSpec) -> tuple[str, ...]:
    return attribute.hook.columns if attribute.hook is not None else ()


@dataclass(frozen=True)
class ToOneSpec:
    name: str
    field_name: str      # the FK on this model (what a lookup joins through)
    column: str          # its attname
    type: str            # the related resource type
    model: type[models.Model]
    related_view: str | None  # ``ToOneField``: links.related from this route


@dataclass(frozen=True)
class ToManySpec:
    name: str
    type: str
    model: type[models.Model]  # the related model
    back_column: str           # its FK attname pointing at this model's primary key
    accessor: str              # the related manager's attribute on this model


@dataclass(frozen=True)
class MethodRelationshipSpec:
    """A relationship the serializer computes per instance (``SerializerMethodResource
    RelatedField``): only for documents of instances."""

    name: str
    many: bool
    type: str | None     # None: each related instance's own type
    method_name: str
    links: bool          # links from the field's get_links (link view names set)
    # A to-many one with a row hook (``syncservice.jsonapi.read.hooks.row_relationship``) is
    # read from rows as well: the hook, the related model, the (view name, URL kwarg) of
    # ``links.related`` (the only link such a relationship may have).
    rows: RowRelationship | None = None
    model: type[models.Model] | None = None
    related_link: tuple[str, str] | None = None


Relationship = ToOneSpec | ToManySpec | MethodRelationshipSpec


@dataclass
class ResourceSpec:
    serializer_class: type
    model: type[models.Model]
    type: str
    attributes: list[AttributeSpec] = field(default_factory=list)
    relationships: list[Relationship] = field(default_factory=list)
    self_view: tuple[str, str] | None = None   # (view name, URL kwarg) of links.self
    unsupported: dict[str, str] = field(default_factory=dict)  # field name -> why
    included: dict[str, Any] = field(default_factory=dict)     # relationship -> serializer

    def relationship(self, name: str) -> Relationship | None:
        return next((r for r in self.relationships if r.name == name), None)

    @property
    def field_names(self) -> list[str]:
        return [*(a.name for a in self.attributes), *(r.name for r in self.relationships),
                *self.unsupported]

    def needs_instances(self, name: str) -> bool:
        """Whether the field ``name`` is read from instances only."""
        attribute = next((a for a in self.attributes if a.name == name), None)
        if attribute is not None:
            return attribute.kind == INSTANCE
        relationship = self.relationship(name)
        return isinstance(relationship, MethodRelationshipSpec) and relationship.rows is None


class Unsupported(Exception):
    """The serializer (or one field) cannot be read from rows."""


_specs: dict[type, ResourceSpec | None] = {}
_specs_lock = threading.Lock()


def spec_for(serializer_class: type) -> ResourceSpec | None:
    """The spec of ``serializer_class``, or None when no request of it can be read from
    rows (e.g. a custom ``to_representation``)."""
    try:
        return _specs[serializer_class]
    except KeyError:
        pass
    with _specs_lock:
        if serializer_class not in _specs:
            try:
                _specs[serializer_class] = derive_spec(serializer_class)
            except Unsupported:
                _specs[serializer_class] = None
    return _specs[serializer_class]


def _check_serializer_class(serializer_class: type) -> None:
    if not issubclass(serializer_class, dja_serializers.ModelSerializer):
        raise Unsupported("not a DRF-JSONAPI ModelSerializer")
    if issubclass(serializer_class, dja_serializers.PolymorphicModelSerializer):
        raise Unsupported("polymorphic")
    if serializer_class.to_representation is not drf_serializers.Serializer.to_representation:
        raise Unsupported("custom to_representation")
    meta = getattr(serializer_class, "Meta", None)
    if getattr(meta, "meta_fields", None) or hasattr(serializer_class, "get_root_meta"):
        raise Unsupported("meta")
    if getattr(getattr(serializer_class, "JSONAPIMeta", None), "included_resources", None):
        raise Unsupported("default included resources")


def _column_field(model: type[models.Model], source: str) -> models.Field | None:
    """The concrete, non-relation model field ``source`` names (name or attname)."""
    for model_field in model._meta.concrete_fields:
        if source in (model_field.name, model_field.attname):
            return None if model_field.is_relation else model_field
    return None


def _attribute(name: str, serializer_field, model) -> AttributeSpec:
    cls = type(serializer_field)
    if cls is drf_fields.HiddenField:
        raise Unsupported("hidden field")
    model_field = None
    if cls.get_attribute is drf_fields.Field.get_attribute \
            and len(serializer_field.source_attrs) == 1:
        model_field = _column_field(model, serializer_field.source_attrs[0])
    if model_field is None:  # a method field, a dotted source, a custom get_attribute
        return AttributeSpec(name, None, INSTANCE)
    column = model_field.attname
    if cls is drf_fields.DateTimeField and isinstance(model_field, models.DateTimeField) \
            and not hasattr(serializer_field, "timezone") and _iso(serializer_field):
        return AttributeSpec(name, column, DATETIME, _context_free(serializer_field))
    if cls is drf_fields.BigIntegerField and isinstance(model_field, models.IntegerField) \
            and not getattr(serializer_field, "coerce_to_string",
                            api_settings.COERCE_BIGINT_TO_STRING):
        return AttributeSpec(name, column, AS_IS)
    unchanged = _UNCHANGED.get(cls)
    if unchanged and isinstance(model_field, unchanged) \
            and not (cls is drf_fields.JSONField and serializer_field.binary) \
            and not (cls is drf_fields.UUIDField
                     and serializer_field.uuid_format != "hex_verbose"):
        return AttributeSpec(name, column, AS_IS)
    return AttributeSpec(name, column, FIELD, _context_free(serializer_field))


def _context_free(serializer_field) -> Any:
    """``serializer_field`` when it is one of DRF's own fields (their representation does
    not depend on the request), else None."""
    cls = type(serializer_field)
    if cls.__module__ != "rest_framework.fields" or cls is drf_fields.SerializerMethodField:
        return None
    child = getattr(serializer_field, "child", None)
    if child is not None and _context_free(child) is None:
        return None
    return serializer_field


def _iso(serializer_field) -> bool:
    output_format = getattr(serializer_field, "format", api_settings.DATETIME_FORMAT)
    return isinstance(output_format, str) and output_format.lower() == "iso-8601"


def _without_links(relation) -> bool:
    return not (relation.self_link_view_name or relation.related_link_view_name)


def _hooked_many(spec: MethodRelationshipSpec, serializer_field,
                 hook: RowRelationship) -> MethodRelationshipSpec:
    """``spec`` read through its row hook, when its links are those the read path builds (a
    related link by primary key, no self link); else as it is."""
    related_model = getattr(serializer_field, "model", None)
    if related_model is None or serializer_field.self_link_view_name \
            or serializer_field.related_link_lookup_field != "pk":
        return spec
    related_link = None
    if serializer_field.related_link_view_name:
        if serializer_field.related_link_url_kwarg == "pk":
            return spec  # DRF-JSONAPI adds a related_field kwarg
        related_link = (serializer_field.related_link_view_name,
                        serializer_field.related_link_url_kwarg)
    type_name = spec.type or get_resource_type_from_model(related_model)
    return MethodRelationshipSpec(spec.name, True, type_name, spec.method_name, spec.links,
                                  hook, related_model, related_link)


def _relationship(name: str, serializer_field, model,
                  serializer_class: type | None = None) -> Relationship:
    cls = type(serializer_field)
    if serializer_field.write_only:
        raise Unsupported("write-only relationship")
    if cls is dja_relations.SerializerMethodResourceRelatedField:
        return MethodRelationshipSpec(
            name, False, serializer_field.get_resource_type_from_included_serializer(),
            serializer_field.method_name, not _without_links(serializer_field))
    if cls is dja_relations.ManySerializerMethodResourceRelatedField:
        child = serializer_field.child_relation
        if type(child) is not dja_relations.SerializerMethodResourceRelatedField:
            raise Unsupported("method to-many field")
        spec = MethodRelationshipSpec(
            name, True, child.get_resource_type_from_included_serializer(),
            serializer_field.method_name, not _without_links(serializer_field))
        hook = relationship_hook(serializer_class, name) if serializer_class else None
        return spec if hook is None else _hooked_many(spec, serializer_field, hook)
    if cls in (dja_relations.ResourceRelatedField, ToOneField):
        if len(serializer_field.source_attrs) != 1 or serializer_field.pk_field is not None:
            raise Unsupported("source")
        if cls is dja_relations.ResourceRelatedField and not _without_links(serializer_field):
            raise Unsupported("relationship links")
        try:
            model_field = model._meta.get_field(serializer_field.source)
        except Exception as exc:
            raise Unsupported("not a model field") from exc
        if not (model_field.concrete and (model_field.many_to_one or model_field.one_to_one)):
            raise Unsupported("not a forward to-one relation")
        related_model = model_field.related_model
        if model_field.target_field is not related_model._meta.pk:
            raise Unsupported("to_field")
        related_view = None
        if cls is ToOneField:
            if model_field.attname != f"{serializer_field.source}_id":
                raise Unsupported("FK attribute")
            related_view = serializer_field.related_view
        type_name = serializer_field.get_resource_type_from_included_serializer() or \
            get_resource_type_from_model(related_model)
        return ToOneSpec(name, model_field.name, model_field.attname, type_name, related_model,
                         related_view)
    if cls is drf_relations.ManyRelatedField:
        child = serializer_field.child_relation
        if type(child) is not dja_relations.ResourceRelatedField or child.pk_field is not None \
                or len(serializer_field.source_attrs) != 1 or not _without_links(child):
            raise Unsupported("to-many field")
        try:
            model_field = model._meta.get_field(serializer_field.source)
        except Exception as exc:
            raise Unsupported("not a model field") from exc
        if not (model_field.one_to_many and not model_field.concrete):
            raise Unsupported("not a reverse foreign key")
        back = model_field.field  # the FK on the related model
        if back.target_field is not model._meta.pk:
            raise Unsupported("to_field")
        related_model = model_field.related_model
        type_name = child.get_resource_type_from_included_serializer() or \
            get_resource_type_from_model(related_model)
        return ToManySpec(name, type_name, related_model, back.attname, serializer_field.source)
    raise Unsupported(f"relationship field {cls.__name__}")


def derive_spec(serializer_class: type) -> ResourceSpec:
    _check_serializer_class(serializer_class)
    model = serializer_class.Meta.model
    spec = ResourceSpec(serializer_class, model,
                        get_resource_type_from_serializer(serializer_class))
    url_field_name = api_settings.URL_FIELD_NAME
    for name, serializer_field in serializer_class().fields.items():
        if name == url_field_name:
            if serializer_field.write_only:
                continue
            if type(serializer_field) is not drf_relations.HyperlinkedIdentityField \
                    or serializer_field.lookup_field != "pk":
                raise Unsupported("url field")
            spec.self_view = (serializer_field.view_name, serializer_field.lookup_url_kwarg)
            continue
        if name == "id":
            raise Unsupported("an id field")
        try:
            if is_relationship_field(serializer_field):
                spec.relationships.append(_relationship(name, serializer_field, model,
                                                        serializer_class))
            elif not serializer_field.write_only:
                hook = field_hook(serializer_class, name)
                spec.attributes.append(AttributeSpec(name, None, HOOK, hook=hook)
                                       if hook is not None
                                       else _attribute(name, serializer_field, model))
        except Unsupported as exc:
            spec.unsupported[name] = str(exc)
    included = getattr(serializer_class, "included_serializers", None) or {}
    for relationship in spec.relationships:
        if relationship.name in included:
            spec.included[relationship.name] = included[relationship.name]
    return spec
