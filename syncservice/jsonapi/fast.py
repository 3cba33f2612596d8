"""A fast read path for JSON:API documents (list and show), equivalent to DRF-JSONAPI's.

DRF-JSONAPI serializes every row through the serializer (every field's ``get_attribute`` and
``to_representation``, sparse fieldsets re-read from the query string per row), then its
renderer walks the serialized rows again, re-instantiating serializers for every included
resource and calling ``reverse()`` for every link. Here, per serializer class, a *plan* is
compiled once (which fields are attributes and how to read them, which are relationships and
of which kind, the resource types); per request, each type gets a *recipe* (the sparse fieldset
applied, one ``attrgetter`` for the plain attributes) and every row is then built with a few C
calls. Links are built from a URL template learned from ``reverse()`` itself.

The document is the same JSON as DRF-JSONAPI's (``tests/jsonapi/test_fast_path.py`` compares
both for every list and show endpoint): same members, same values, ``included`` deduplicated
and sorted by type then id, including DRF-JSONAPI's quirks (a to-one relationship left out by
a sparse fieldset is not included; a to-many one is).

Anything the plans do not know (polymorphic serializers, ``meta_fields``, custom relationship
fields, field-name formatting …) makes the request take the stock path, so a serializer can
grow freely: it is only slower until it is taught here. ``settings.JSONAPI_FAST_PATH = False``
(environment ``JSONAPI_FAST_PATH=false``) turns the fast path off altogether.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import logging
import re
import threading
import uuid
from collections import defaultdict
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

import django
from django.conf import settings
from django.db import models
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import (
    ForeignKeyDeferredAttribute,
    ForwardManyToOneDescriptor,
    ManyToManyDescriptor,
    ReverseManyToOneDescriptor,
)
from django.db.models.query import (
    ModelIterable,
    Prefetch,
    QuerySet,
    get_related_populators,
)
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from django.utils import timezone
from django.utils.encoding import force_str
from rest_framework import fields as drf_fields
from rest_framework import relations as drf_relations
from rest_framework import serializers as drf_serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.reverse import _reverse
from rest_framework.settings import api_settings
from rest_framework_json_api import relations as dja_relations
from rest_framework_json_api import serializers as dja_serializers
from rest_framework_json_api.settings import json_api_settings
from rest_framework_json_api.utils import (
    format_field_names,
    get_included_resources,
    get_resource_type_from_instance,
    get_resource_type_from_model,
    get_resource_type_from_serializer,
    is_relationship_field,
)

from syncservice.jsonapi.relations import ToOneField

UTC = dt.UTC
ISO_8601 = "iso-8601"

logger = logging.getLogger(__name__)


def enabled() -> bool:
    return getattr(settings, "JSONAPI_FAST_PATH", True)


# --- plans: compiled once per serializer class ----------------------------------------------

class Unsupported(Exception):
    """The serializer uses something the fast path does not reproduce: use the stock path."""


# Attribute kinds.
PASS = "pass"            # the model attribute as is (what DRF's to_representation returns)
DATETIME = "datetime"    # as is when aware UTC (orjson writes DRF's ISO form with "Z")
BIGINT = "bigint"        # as is unless COERCE_BIGINT_TO_STRING
METHOD = "method"        # SerializerMethodField: the serializer's method
STATIC = "static"        # DRF semantics through the plan's own (context-free) bound field
BOUND = "bound"          # DRF semantics through a field bound to this request's serializer

# Relationship kinds.
TO_ONE = "to_one"        # forward FK: linkage from the FK attribute, no query
TO_MANY = "to_many"      # reverse FK / M2M: linkage from the prefetch cache
METHOD_ONE = "method_one"
METHOD_MANY = "method_many"

# Serializer field class -> the model field classes whose values DRF returns unchanged.
_STR_MODEL_FIELDS = (models.CharField, models.TextField, models.GenericIPAddressField,
                     models.FilePathField)
_PASS_THROUGH: dict[type, tuple[type, ...]] = {
    drf_fields.CharField: _STR_MODEL_FIELDS,
    drf_fields.EmailField: _STR_MODEL_FIELDS,
    drf_fields.SlugField: _STR_MODEL_FIELDS,
    drf_fields.URLField: _STR_MODEL_FIELDS,
    drf_fields.IPAddressField: _STR_MODEL_FIELDS,
    drf_fields.IntegerField: (models.IntegerField,),
    drf_fields.BooleanField: (models.BooleanField,),
    drf_fields.FloatField: (models.FloatField,),
    drf_fields.ChoiceField: (models.Field,),        # DB values map onto themselves
    drf_fields.ReadOnlyField: (models.Field,),      # returns the value as is
    drf_fields.JSONField: (models.JSONField,),
    drf_fields.UUIDField: (models.UUIDField,),
}


class AttributePlan:
    __slots__ = ("name", "kind", "field", "source")

    def __init__(self, name: str, kind: str, field, source: str | None = None):
        self.name, self.kind, self.field, self.source = name, kind, field, source


class RelationshipPlan:
    __slots__ = ("name", "kind", "field", "source", "attname", "type", "related_view",
                 "link_field", "cache_name", "method_name")

    def __init__(self, name: str, kind: str, field):
        self.name, self.kind, self.field = name, kind, field
        self.source = field.source
        self.attname = None        # TO_ONE: the FK attribute
        self.type = None           # the related type when constant (else per instance)
        self.related_view = None   # ToOneField: links.related from this route
        self.link_field = False    # links from the DRF-JSONAPI field (view names set)
        self.cache_name = None     # TO_MANY: the prefetch cache key
        self.method_name = None


class Plan:
    """What one serializer class renders, resolved once."""

    def __init__(self, serializer_class):
        self.serializer_class = serializer_class
        self.type = get_resource_type_from_serializer(serializer_class)
        self.attributes: list[AttributePlan] = []
        self.relationships: list[RelationshipPlan] = []
        self.self_link = None      # (view_name, lookup_field, lookup_url_kwarg, field)
        self.self_link_static = False
        self.id_field = None
        self.included: dict[str, Any] = {}  # relationship name -> serializer class


_plans: dict[type, Plan | None] = {}
_plans_lock = threading.Lock()


def plan_for(serializer_class) -> Plan | None:
    """The compiled plan of ``serializer_class``, or None when it needs the stock path."""
    try:
        return _plans[serializer_class]
    except KeyError:
        pass
    with _plans_lock:
        if serializer_class not in _plans:
            try:
                _plans[serializer_class] = _compile(serializer_class)
            except Unsupported as exc:
                logger.debug("%s takes the stock path: %s", serializer_class.__name__, exc)
                _plans[serializer_class] = None
            except Exception:  # a serializer this module misreads must still be served
                logger.exception("No fast-path plan for %s", serializer_class.__name__)
                _plans[serializer_class] = None
    return _plans[serializer_class]


def _check_serializer_class(serializer_class) -> None:
    if not issubclass(serializer_class, drf_serializers.ModelSerializer):
        raise Unsupported("not a ModelSerializer")
    if issubclass(serializer_class, dja_serializers.PolymorphicModelSerializer):
        raise Unsupported("polymorphic")
    if serializer_class.to_representation is not drf_serializers.Serializer.to_representation:
        raise Unsupported("custom to_representation")
    if serializer_class._readable_fields is not dja_serializers.SparseFieldsetsMixin.\
            _readable_fields:
        raise Unsupported("custom _readable_fields")
    meta = getattr(serializer_class, "Meta", None)
    if getattr(meta, "meta_fields", None):
        raise Unsupported("meta_fields")
    if hasattr(serializer_class, "get_root_meta"):
        raise Unsupported("get_root_meta")
    if getattr(getattr(serializer_class, "JSONAPIMeta", None), "included_resources", None):
        raise Unsupported("default included resources")


def _is_static_field(field) -> bool:
    """A DRF built-in field whose representation does not depend on the request."""
    cls = type(field)
    if cls.__module__ != "rest_framework.fields" or cls in (drf_fields.SerializerMethodField,
                                                             drf_fields.HiddenField):
        return False
    child = getattr(field, "child", None)
    return child is None or _is_static_field(child)


def _attribute_plan(name: str, field, model) -> AttributePlan:
    cls = type(field)
    if cls is drf_fields.SerializerMethodField:
        return AttributePlan(name, METHOD, field)
    attnames = {f.attname: f for f in model._meta.concrete_fields}
    source = field.source_attrs[0] if len(field.source_attrs) == 1 else None
    model_field = attnames.get(source) if source else None
    if model_field is not None:
        if cls is drf_fields.DateTimeField and isinstance(model_field, models.DateTimeField) \
                and not hasattr(field, "timezone"):
            return AttributePlan(name, DATETIME, field, source)
        if cls is drf_fields.BigIntegerField and isinstance(model_field, models.IntegerField):
            return AttributePlan(name, BIGINT, field, source)
        allowed = _PASS_THROUGH.get(cls)
        if allowed and isinstance(model_field, allowed) and not (
                cls is drf_fields.JSONField and field.binary) and not (
                cls is drf_fields.UUIDField and field.uuid_format != "hex_verbose"):
            return AttributePlan(name, PASS, field, source)
    return AttributePlan(name, STATIC if _is_static_field(field) else BOUND, field)


def _links_from_field(field) -> bool:
    return bool(field.self_link_view_name or field.related_link_view_name)


def _relationship_plan(name: str, field, model) -> RelationshipPlan:
    cls = type(field)
    if field.write_only:
        raise Unsupported("write-only relationship")
    if cls in (dja_relations.ResourceRelatedField, ToOneField):
        plan = RelationshipPlan(name, TO_ONE, field)
        if len(field.source_attrs) != 1 or field.pk_field is not None:
            raise Unsupported(f"{name}: source")
        try:
            model_field = model._meta.get_field(field.source)
        except Exception as exc:
            raise Unsupported(f"{name}: not a model field") from exc
        if not (model_field.concrete and (model_field.many_to_one or model_field.one_to_one)):
            raise Unsupported(f"{name}: not a forward to-one relation")
        if model_field.target_field is not model_field.related_model._meta.pk:
            raise Unsupported(f"{name}: to_field")
        plan.attname = model_field.attname
        plan.type = field.get_resource_type_from_included_serializer() or \
            get_resource_type_from_model(model_field.related_model)
        if cls is ToOneField:
            if plan.attname != f"{field.source}_id":
                raise Unsupported(f"{name}: FK attribute")
            plan.related_view = field.related_view
        plan.link_field = _links_from_field(field)
        return plan
    if cls is drf_relations.ManyRelatedField:
        child = field.child_relation
        if type(child) is not dja_relations.ResourceRelatedField or child.pk_field is not None \
                or len(field.source_attrs) != 1:
            raise Unsupported(f"{name}: to-many field")
        descriptor = getattr(model, field.source, None)
        if isinstance(descriptor, ManyToManyDescriptor):
            cache_name = descriptor.rel.field.related_query_name() if descriptor.reverse \
                else descriptor.field.name
        elif isinstance(descriptor, ReverseManyToOneDescriptor):
            cache_name = descriptor.rel.cache_name
        else:
            raise Unsupported(f"{name}: not a to-many relation")
        plan = RelationshipPlan(name, TO_MANY, field)
        plan.cache_name = cache_name
        plan.type = child.get_resource_type_from_included_serializer()
        plan.link_field = _links_from_field(child)
        return plan
    if cls is dja_relations.SerializerMethodResourceRelatedField:
        plan = RelationshipPlan(name, METHOD_ONE, field)
        plan.method_name = field.method_name
        plan.type = field.get_resource_type_from_included_serializer()
        plan.link_field = _links_from_field(field)
        return plan
    if cls is dja_relations.ManySerializerMethodResourceRelatedField:
        child = field.child_relation
        if type(child) is not dja_relations.SerializerMethodResourceRelatedField:
            raise Unsupported(f"{name}: method to-many field")
        plan = RelationshipPlan(name, METHOD_MANY, field)
        plan.method_name = field.method_name
        plan.type = child.get_resource_type_from_included_serializer()
        plan.link_field = _links_from_field(field)
        return plan
    raise Unsupported(f"{name}: relationship field {cls.__name__}")


def _compile(serializer_class) -> Plan:
    _check_serializer_class(serializer_class)
    plan = Plan(serializer_class)
    serializer = serializer_class()
    model = serializer_class.Meta.model
    url_field_name = api_settings.URL_FIELD_NAME
    for name, field in serializer.fields.items():
        if name == url_field_name:
            if field.write_only:
                continue
            if type(field) is not drf_relations.HyperlinkedIdentityField:
                raise Unsupported("url field")
            plan.self_link = (field.view_name, field.lookup_field, field.lookup_url_kwarg, field)
            plan.self_link_static = type(field).get_url is \
                drf_relations.HyperlinkedRelatedField.get_url and field.format is None
            continue
        if is_relationship_field(field):
            plan.relationships.append(_relationship_plan(name, field, model))
            continue
        if field.write_only:
            continue
        if name == "id":
            plan.id_field = field
            continue
        plan.attributes.append(_attribute_plan(name, field, model))
    included = getattr(serializer_class, "included_serializers", None) or {}
    for relationship in plan.relationships:
        if relationship.name in included:
            plan.included[relationship.name] = included[relationship.name]  # resolves lazies
    return plan


# --- URLs: one reverse() per route and request, then a template -----------------------------

_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_.~-]+")
_NO_TEMPLATE = object()


class Urls:
    """``reverse(view_name, kwargs={kwarg: value}, request=request)``, learned per route: two
    real reverses give the template (checked against each other), then it is string
    concatenation. Values with characters a URL would quote always go through reverse()."""

    def __init__(self, request):
        self.request = request
        self.templates: dict[tuple[str, str], Any] = {}
        self.samples: dict[tuple[str, str], tuple[str, str]] = {}

    def get(self, view_name: str, kwarg: str, value, text: str | None = None) -> str:
        key = (view_name, kwarg)
        template = self.templates.get(key)
        if text is None:
            text = str(value)
        safe = value.__class__ in (uuid.UUID, int) or _SAFE_SEGMENT.fullmatch(text)
        if template is None:
            sample = self.samples.get(key)
            if sample is not None and sample[0] == text:
                return sample[1]
        elif template is not _NO_TEMPLATE and safe:
            return template[0] + text + template[1]
        url = _reverse(view_name, kwargs={kwarg: value}, request=self.request)
        if template is None and safe:
            self._learn(key, text, url)
        return url

    def _learn(self, key, text: str, url: str) -> None:
        sample = self.samples.get(key)
        if sample is None:
            self.samples[key] = (text, url)
            return
        first_text, first_url = sample
        if first_text == text:
            return
        position = first_url.rfind(first_text)
        if position < 0:
            self.templates[key] = _NO_TEMPLATE
            return
        prefix, suffix = first_url[:position], first_url[position + len(first_text):]
        self.templates[key] = (prefix, suffix) if prefix + text + suffix == url \
            else _NO_TEMPLATE


class _TemplatedReverse:
    """Installed as ``request.versioning_scheme`` (when the API has none) while a document is
    built: DRF's ``reverse()`` hands every call to it, so the links serializer methods build
    with ``reverse(..., request=request)`` (e.g. download URLs) use the same templates.
    A ``NoReverseMatch`` falls back to DRF's own ``_reverse``, which raises it again."""

    def __init__(self, urls: Urls):
        self.urls = urls

    def reverse(self, viewname, args=None, kwargs=None, request=None, format=None, **extra):
        if args or format is not None or extra or not kwargs or len(kwargs) != 1 \
                or request is not self.urls.request or not isinstance(viewname, str):
            return _reverse(viewname, args, kwargs, request, format, **extra)
        ((kwarg, value),) = kwargs.items()
        return self.urls.get(viewname, kwarg, value)


# --- per request: recipes and the document --------------------------------------------------

def _drf_value(field, instance):
    """A field's value exactly as ``Serializer.to_representation`` computes it (raises
    SkipField when DRF leaves the field out)."""
    attribute = field.get_attribute(instance)
    check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
    if check_for_none is None:
        return None
    return field.to_representation(attribute)


class Recipe:
    """One type in one request: the plan with the sparse fieldset applied and the per-request
    objects (the serializer instance for method fields, bound fields, URLs)."""

    def __init__(self, builder: DocumentBuilder, plan: Plan, type_name: str):
        self.builder = builder
        self.plan = plan
        self.type = type_name
        self._serializer = None
        self._bound_fields = None
        sparse = builder.sparse_fields(type_name)
        self.attributes = [a for a in plan.attributes if sparse is None or a.name in sparse]
        self.relationships = [r for r in plan.relationships
                              if sparse is None or r.name in sparse]
        # One attrgetter reads the primary key, the FK of every to-one relationship and the
        # plain attributes; the other attributes are set afterwards (in place, so the member
        # order stays the serializer's).
        model = plan.serializer_class.Meta.model
        sources = [model._meta.pk.attname]
        self.steps = []   # (relationship, index of its FK in the values, or None)
        for relationship in self.relationships:
            if relationship.kind == TO_ONE and not relationship.link_field:
                self.steps.append((relationship, len(sources)))
                sources.append(relationship.attname)
            else:
                self.steps.append((relationship, None))
        self.first_attribute = len(sources)
        self.names = [a.name for a in self.attributes]
        self.datetimes = []   # (name, index in the values, field)
        self.calls = []       # (name, callable(instance) -> value, may raise SkipField)
        utc_ok = builder.utc_datetimes
        coerce_bigint = api_settings.COERCE_BIGINT_TO_STRING
        for attribute in self.attributes:
            kind = attribute.kind
            if kind == DATETIME and utc_ok and _iso_format(attribute.field):
                self.datetimes.append((attribute.name, len(sources), attribute.field))
                sources.append(attribute.source)
                continue
            if kind == PASS or (kind == BIGINT and not getattr(
                    attribute.field, "coerce_to_string", coerce_bigint)):
                sources.append(attribute.source)
                continue
            sources.append(sources[0])  # a placeholder, replaced below
            self.calls.append((attribute.name, self._caller(attribute)))
        self.last_attribute = len(sources)
        if len(sources) == 1:
            sources.append(sources[0])  # attrgetter returns a tuple from two names on
        self.getter = attrgetter(*sources)
        self.self_link = plan.self_link
        # The self link from the id string: the lookup is the primary key, no format.
        self.self_link_from_id = plan.self_link is not None and plan.self_link_static \
            and plan.self_link[1] == "pk" and plan.id_field is None \
            and not builder.context.get("format")
        # The serialized data is empty (DRF-JSONAPI then skips an included resource) only
        # when no field at all survives the sparse fieldset.
        self.fixed_fields = len(self.relationships) + (plan.self_link is not None) + \
            (plan.id_field is not None)

    # Per-request serializer and fields, built only when a field needs them.
    @property
    def serializer(self):
        if self._serializer is None:
            self._serializer = self.plan.serializer_class(context=self.builder.context)
        return self._serializer

    def bound_field(self, name: str):
        if self._bound_fields is None:
            self._bound_fields = self.serializer.fields
        return self._bound_fields[name]

    def _caller(self, attribute: AttributePlan):
        kind, name, field = attribute.kind, attribute.name, attribute.field
        if kind == METHOD:
            method_name = field.method_name
            bound = []

            def call_method(instance):
                if not bound:  # the request's serializer, made on first use
                    bound.append(getattr(self.serializer, method_name))
                return bound[0](instance)

            return call_method
        if kind in (STATIC, DATETIME, BIGINT, PASS):
            return lambda instance: _drf_value(field, instance)
        return lambda instance: _drf_value(self.bound_field(name), instance)

    def resource_id(self, instance) -> str | None:
        """DRF-JSONAPI's ``get_resource_id``: the serialized ``id`` field if the serializer
        has one, else the primary key."""
        id_field = self.plan.id_field
        if id_field is not None:
            if not _is_static_field(id_field):
                id_field = self.bound_field("id")
            try:
                value = _drf_value(id_field, instance)
            except SkipField:
                pass
            else:
                return force_str(value) if value is not None else None
        pk = instance.pk
        return force_str(pk) if pk is not None else None


class DocumentBuilder:
    """Builds the ``data`` and ``included`` members for one request."""

    def __init__(self, view, request, primary_plan: Plan, primary_type: str):
        self.view = view
        self.request = request
        self.context = view.get_serializer_context()
        self.primary_plan = primary_plan
        self.primary_type = primary_type
        self.query_params = request.query_params
        self.urls = Urls(request)
        self.utc_datetimes = _utc_datetimes()
        self.recipes: dict[tuple[int, str], Recipe] = {}
        self.included_cache: dict[str, dict[str, dict]] = defaultdict(dict)
        self._include_steps: dict[tuple, list] = {}

    def sparse_fields(self, type_name: str) -> set[str] | None:
        value = self.query_params.get(f"fields[{type_name}]")
        return None if value is None else set(value.split(","))

    def recipe(self, plan: Plan, type_name: str | None = None) -> Recipe:
        type_name = type_name or plan.type
        key = (id(plan), type_name)
        recipe = self.recipes.get(key)
        if recipe is None:
            recipe = self.recipes[key] = Recipe(self, plan, type_name)
        return recipe

    # --- one resource object ---
    def resource(self, recipe: Recipe, instance):
        """(resource object, relationship values for includes, whether DRF's data would be
        non-empty)."""
        values = recipe.getter(instance)
        attributes = dict(zip(recipe.names,
                              values[recipe.first_attribute:recipe.last_attribute],
                              strict=True))
        for name, index, field in recipe.datetimes:
            value = values[index]
            if value is not None and (value.__class__ is not dt.datetime
                                      or value.tzinfo is not UTC):
                attributes[name] = field.to_representation(value)
        for name, call in recipe.calls:
            try:
                attributes[name] = call(instance)
            except SkipField:
                del attributes[name]
        pk = values[0]
        if recipe.plan.id_field is None:
            id_ = None if pk is None else str(pk)
        else:
            id_ = recipe.resource_id(instance)
        obj = {"type": recipe.type, "id": id_}
        if attributes:
            obj["attributes"] = attributes
        related = {}
        if recipe.steps:
            relationships = {}
            urls = self.urls
            for relationship, index in recipe.steps:
                if index is None:
                    relationships[relationship.name] = self.relationship(
                        relationship, instance, related, recipe)
                    continue
                fk = values[index]
                if fk is None:
                    related[relationship.name] = (None, None)
                    relationships[relationship.name] = {"data": None}
                    continue
                fk_text = str(fk)
                linkage = {"type": relationship.type, "id": fk_text}
                related[relationship.name] = (linkage, None)
                if relationship.related_view is None:
                    relationships[relationship.name] = {"data": linkage}
                else:
                    relationships[relationship.name] = {"links": {"related": urls.get(
                        relationship.related_view, "pk", fk, fk_text)}, "data": linkage}
            obj["relationships"] = relationships
        if recipe.self_link is not None:
            if recipe.self_link_from_id and id_:
                obj["links"] = {"self": self.urls.get(recipe.self_link[0], recipe.self_link[2],
                                                      pk, id_)}
            else:
                obj["links"] = {"self": self.self_url(recipe, instance)}
        return obj, related, bool(attributes) or recipe.fixed_fields > 0

    def self_url(self, recipe: Recipe, instance):
        view_name, lookup_field, lookup_url_kwarg, field = recipe.self_link
        if not recipe.plan.self_link_static or self.context.get("format"):
            return recipe.bound_field(api_settings.URL_FIELD_NAME).to_representation(instance)
        pk = instance.pk
        if pk is None or pk == "":
            return None
        value = pk if lookup_field == "pk" else getattr(instance, lookup_field)
        return self.urls.get(view_name, lookup_url_kwarg, value)

    def relationship(self, plan: RelationshipPlan, instance, related: dict, recipe: Recipe):
        """The relationship object (DRF-JSONAPI's ``extract_relationships`` for one field);
        records ``(linkage, related value)`` in ``related`` for the includes."""
        kind = plan.kind
        if kind == TO_ONE:
            pk = getattr(instance, plan.attname)
            linkage = None if pk is None else {"type": plan.type, "id": str(pk)}
            related[plan.name] = (linkage, None)
            links = None
            if plan.related_view is not None:
                if pk is not None:
                    links = {"related": self.urls.get(plan.related_view, "pk", pk)}
            elif plan.link_field:
                links = recipe.bound_field(plan.name).get_links(
                    instance, plan.field.related_link_lookup_field)
            return {"links": links, "data": linkage} if links else {"data": linkage}
        if kind == TO_MANY:
            items = self.to_many(plan, instance)
            type_name = plan.type
            linkage = [{"type": type_name or get_resource_type_from_instance(item),
                        "id": str(item.pk)} for item in items]
            related[plan.name] = (linkage, items)
            data = {"meta": {"count": len(linkage)}, "data": linkage}
            if plan.link_field:
                links = recipe.bound_field(plan.name).child_relation.get_links(
                    instance, plan.field.child_relation.related_link_lookup_field)
                if links:
                    data["links"] = links
            return data
        value = getattr(recipe.serializer, plan.method_name)(instance)
        links = None
        if plan.link_field:
            links = recipe.bound_field(plan.name).get_links(
                instance, plan.field.related_link_lookup_field)
        if kind == METHOD_ONE:
            linkage = None if value is None else {
                "type": plan.type or get_resource_type_from_instance(value),
                "id": str(value.pk)}
            related[plan.name] = (linkage, value)
            return {"links": links, "data": linkage} if links else {"data": linkage}
        # METHOD_MANY
        linkage = None if value is None else [
            {"type": plan.type or get_resource_type_from_instance(item), "id": str(item.pk)}
            for item in value]
        related[plan.name] = (linkage, value)
        data = {"links": links} if links else {}
        data["data"] = linkage
        data["meta"] = {"count": len(linkage)}
        return data

    @staticmethod
    def to_many(plan: RelationshipPlan, instance) -> list:
        """The related rows from the prefetch cache (DRF: ``getattr(instance, source).all()``,
        which reads the same cache, or queries without one)."""
        cache = getattr(instance, "_prefetched_objects_cache", None)
        if cache is not None:
            prefetched = cache.get(plan.cache_name)
            if prefetched is not None:
                return list(prefetched)
        if instance.pk is None:
            return []
        manager = getattr(instance, plan.source)
        return list(manager.all() if hasattr(manager, "all") else manager)

    # --- included, walked as DRF-JSONAPI's renderer walks it (``extract_included``) ---
    def include_steps(self, recipe: Recipe, included: tuple[str, ...]) -> list:
        """For one type and include list: (relationship, included recipe, nested include
        list) in the order DRF-JSONAPI's ``extract_included`` visits them (the same for
        every row, so worked out once)."""
        key = (id(recipe), included)
        steps = self._include_steps.get(key)
        if steps is None:
            steps = []
            plan = recipe.plan
            remaining = list(included)
            for relationship in plan.relationships:
                name = relationship.name
                try:
                    remaining.remove(name)
                except ValueError:
                    if name not in [path.split(".")[0] for path in remaining]:
                        continue
                nested = tuple(path.replace(f"{name}.", "", 1) for path in remaining
                               if name == path.split(".")[0])
                steps.append((relationship, self.recipe(plan_for(plan.included[name])),
                              nested))
            self._include_steps[key] = steps
        return steps

    def extract_included(self, recipe: Recipe, instance, related: dict,
                         included: tuple[str, ...]) -> None:
        if not included or not instance:
            return
        cache = self.included_cache
        for relationship, child, nested in self.include_steps(recipe, included):
            name = relationship.name
            kind = relationship.kind
            # (linkage, value) when the relationship is in the sparse fieldset.
            linkage, value = related.get(name, (None, None))
            if kind == TO_MANY:
                # Re-serialized whatever the sparse fieldset (as DRF-JSONAPI does).
                items = value if name in related else self.to_many(relationship, instance)
                for item in items:
                    self.add_included(child, item, nested)
                continue
            if not linkage:
                continue
            if kind == METHOD_MANY:
                for item in value or ():
                    self.add_included(child, item, nested)
                continue
            by_id = cache.get(linkage["type"])
            if by_id is not None and linkage["id"] in by_id:
                continue  # already included (DRF-JSONAPI does not walk it again either)
            target = getattr(instance, relationship.source) if kind == TO_ONE else value
            if target is None:
                continue
            obj, child_related, has_data = self.resource(child, target)
            if not has_data:
                continue
            cache[obj["type"]][obj["id"]] = obj
            self.extract_included(child, target, child_related, nested)

    def add_included(self, recipe: Recipe, instance, nested: tuple[str, ...]) -> None:
        obj, related, _ = self.resource(recipe, instance)
        self.included_cache[obj["type"]][obj["id"]] = obj
        self.extract_included(recipe, instance, related, nested)

    # --- the document ---
    def build(self, instance_or_rows, many: bool) -> dict:
        request = self.request
        if getattr(request, "versioning_scheme", False) is not None:
            return self._build(instance_or_rows, many)
        request.versioning_scheme = _TemplatedReverse(self.urls)
        try:
            return self._build(instance_or_rows, many)
        finally:
            request.versioning_scheme = None

    def _build(self, instance_or_rows, many: bool) -> dict:
        included_resources = tuple(get_included_resources(self.request))
        recipe = self.recipe(self.primary_plan, self.primary_type)
        resource, extract = self.resource, self.extract_included
        if many:
            data = []
            for instance in instance_or_rows:
                obj, related, _ = resource(recipe, instance)
                data.append(obj)
                if included_resources:
                    extract(recipe, instance, related, included_resources)
            objects = data
        else:
            obj, related, _ = resource(recipe, instance_or_rows)
            if included_resources:
                extract(recipe, instance_or_rows, related, included_resources)
            data = obj
            objects = [obj]
        document = {"data": data}
        cache = self.included_cache
        if cache:
            for obj in objects:
                by_id = cache.get(obj["type"])
                if by_id is not None:
                    by_id.pop(obj["id"], None)
                    if not by_id:
                        del cache[obj["type"]]
        if included_resources:
            document["included"] = [cache[type_name][id_]
                                    for type_name in sorted(cache)
                                    for id_ in sorted(cache[type_name])]
        self.included_cache = defaultdict(dict)
        return document


def _iso_format(field) -> bool:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return isinstance(output_format, str) and output_format.lower() == ISO_8601


def _utc_datetimes() -> bool:
    """Whether DRF would write every aware UTC datetime as is (then orjson writes the same
    ISO text, with "Z")."""
    if not settings.USE_TZ:
        return False
    current = timezone.get_current_timezone()
    return current is UTC or getattr(current, "key", None) in ("UTC", "Etc/UTC")


def _plans_reachable(plan: Plan, includes: list[str]) -> bool:
    """Every serializer an include path walks through has a plan."""
    for path in includes:
        current = plan
        for segment in path.split("."):
            target = current.included.get(segment)
            if target is None:
                return False
            current = plan_for(target)
            if current is None:
                return False
    return True


# --- the queryset: lean model instances, only the columns the document reads ---------------

def _plain_attribute_descriptors(model) -> bool:
    """Every concrete field is stored by a plain Django deferred-attribute descriptor, so
    setting ``__dict__`` is what ``setattr`` in ``Model.__init__`` would do."""
    for field in model._meta.concrete_fields:
        for klass in model.__mro__:
            if field.attname in klass.__dict__:
                if type(klass.__dict__[field.attname]) not in (DeferredAttribute,
                                                               ForeignKeyDeferredAttribute):
                    return False
                break
        else:
            return False
    return True


_lean_models: dict[type, bool] = {}


def _lean_from_db(model):
    """``model.from_db`` for rows of a query: the same instance ``Model.__init__`` makes
    (``_state`` then the attributes, deferred ones left out), without its per-field Python
    loop, when nothing can observe the difference (no custom ``__init__``/``from_db``,
    no ``pre_init``/``post_init`` receivers, plain field descriptors)."""
    lean = _lean_models.get(model)
    if lean is None:
        lean = _lean_models[model] = (
            model.__init__ is models.Model.__init__
            and model.from_db.__func__ is models.Model.from_db.__func__
            and not model._meta.abstract and _plain_attribute_descriptors(model))
    if not lean or pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db
    new = object.__new__

    def from_db(db, field_names, values):
        obj = new(model)
        state = ModelState()
        state.adding = False
        state.db = db
        attributes = obj.__dict__
        attributes["_state"] = state
        attributes.update(zip(field_names, values, strict=True))
        return obj

    return from_db


class _LeanModel:
    """Stands in for a model class in a select_related populator: only ``from_db``."""

    def __init__(self, model):
        self.from_db = _lean_from_db(model)


def _lean_populators(populators) -> None:
    for populator in populators:
        populator.model_cls = _LeanModel(populator.model_cls)
        _lean_populators(populator.related_populators)


class LeanModelIterable(ModelIterable):
    """Django 5.2's ``ModelIterable`` with lean instance construction (``_lean_from_db``),
    for the select_related models too."""

    def __iter__(self):
        queryset = self.queryset
        db = queryset.db
        compiler = queryset.query.get_compiler(using=db)
        results = compiler.execute_sql(chunked_fetch=self.chunked_fetch,
                                       chunk_size=self.chunk_size)
        select, klass_info, annotation_col_map = (
            compiler.select, compiler.klass_info, compiler.annotation_col_map)
        model_cls = klass_info["model"]
        select_fields = klass_info["select_fields"]
        model_fields_start, model_fields_end = select_fields[0], select_fields[-1] + 1
        init_list = [f[0].target.attname for f in select[model_fields_start:model_fields_end]]
        related_populators = get_related_populators(klass_info, select, db)
        _lean_populators(related_populators)
        known_related_objects = [
            (field, related_objs, attrgetter(*[
                field.attname if from_field == "self"
                else queryset.model._meta.get_field(from_field).attname
                for from_field in field.from_fields]))
            for field, related_objs in queryset._known_related_objects.items()]
        from_db = _lean_from_db(model_cls)
        for row in compiler.results_iter(results):
            obj = from_db(db, init_list, row[model_fields_start:model_fields_end])
            for rel_populator in related_populators:
                rel_populator.populate(row, obj)
            if annotation_col_map:
                for attr_name, col_pos in annotation_col_map.items():
                    setattr(obj, attr_name, row[col_pos])
            for field, rel_objs, rel_getter in known_related_objects:
                if field.is_cached(obj):
                    continue
                rel_obj_id = rel_getter(obj)
                try:
                    rel_obj = rel_objs[rel_obj_id]
                except KeyError:
                    pass
                else:
                    setattr(obj, field.name, rel_obj)
            yield obj


def tune_queryset(builder: DocumentBuilder, queryset):
    """The page's queryset for the fast path: lean instances, the tenant's project fetched
    once rather than joined to every row, and only the needed columns."""
    if not isinstance(queryset, QuerySet) or queryset._iterable_class is not ModelIterable:
        return queryset
    lean = django.VERSION[:2] == (5, 2)  # LeanModelIterable copies 5.2's ModelIterable
    shared = getattr(builder.view, "project_field", None)
    if shared:
        queryset = prefetch_shared_relation(queryset, shared, lean)
    queryset = only_needed_columns(builder, queryset)
    if lean:
        queryset._iterable_class = LeanModelIterable
        queryset = lean_prefetches(queryset)
    return queryset


def _prefetch_target(model, path: str):
    """The model a prefetch path ends on and the manager Django would read it with."""
    field = None
    for name in path.split("__"):
        descriptor = getattr(model, name, None)
        if isinstance(descriptor, ManyToManyDescriptor):
            # rel.model is the "to" model, rel.related_model the one declaring the field.
            model = descriptor.rel.related_model if descriptor.reverse else descriptor.rel.model
            field = "many"
        elif isinstance(descriptor, ReverseManyToOneDescriptor):
            model = descriptor.rel.related_model
            field = "many"
        elif isinstance(descriptor, ForwardManyToOneDescriptor):
            model = descriptor.field.related_model
            field = "one"
        else:
            return None, None
    return model, field


def lean_prefetches(queryset):
    """The prefetches build lean instances too: a plain lookup becomes a ``Prefetch`` of the
    queryset Django would use (the related model's default manager, or base manager for a
    to-one), a ``Prefetch`` keeps its queryset (a copy). Lookups another lookup walks
    through stay as they are (Django refuses a queryset on an already walked level)."""
    lookups = list(queryset._prefetch_related_lookups)
    if not lookups:
        return queryset
    paths = [lookup.prefetch_to if isinstance(lookup, Prefetch) else lookup
             for lookup in lookups]
    converted = []
    seen = set()
    for lookup, path in zip(lookups, paths, strict=True):
        if path in seen and not isinstance(lookup, Prefetch):
            continue  # a repeated plain lookup: Django skips it too
        seen.add(path)
        if any(other.startswith(f"{path}__") for other in paths):
            converted.append(lookup)
            continue
        if isinstance(lookup, Prefetch):
            if lookup.queryset is None or lookup.queryset._iterable_class is not ModelIterable:
                converted.append(lookup)
                continue
            lookup = copy.copy(lookup)
            lookup.queryset = lookup.queryset._chain()
            lookup.queryset._iterable_class = LeanModelIterable
            converted.append(lookup)
            continue
        model, kind = _prefetch_target(queryset.model, lookup)
        if model is None:
            converted.append(lookup)
            continue
        manager = model._base_manager if kind == "one" else model._default_manager
        converted.append(Prefetch(lookup, queryset=_lean_queryset_from(manager)))
    return queryset.prefetch_related(None).prefetch_related(*converted)


def _lean_queryset_from(manager):
    queryset = manager.all()
    queryset._iterable_class = LeanModelIterable
    return queryset


def prefetch_shared_relation(queryset, attname: str, lean: bool):
    """The ``select_related`` of the relation behind ``attname`` (the view's scoping FK, e.g.
    ``project_id``) as a prefetch: a join repeats the project's row on every row of the page
    (a thousand jobs carry, parse and instantiate its columns a thousand times) while the
    scoping FK takes one value per project of the caller. Same instances in the same caches;
    one more query, whatever the page size. Other relations stay joined (their rows differ
    from row to row, and a join beats a list of a thousand ids)."""
    select = queryset.query.select_related
    if not isinstance(select, dict) or not select:
        return queryset
    model = queryset.model
    for name in select:
        try:
            field = model._meta.get_field(name)
        except Exception:
            continue
        if field.concrete and field.many_to_one and field.attname == attname:
            break
    else:
        return queryset
    subtree = select[name]
    paths = []

    def walk(tree: dict, current, prefix: str) -> bool:
        for child, grandchildren in tree.items():
            try:
                related = current._meta.get_field(child)
            except Exception:
                return False
            if not (related.many_to_one or related.one_to_one):
                return False
            paths.append((prefix + child, related.related_model))
            if grandchildren and not walk(grandchildren, related.related_model,
                                          f"{prefix}{child}__"):
                return False
        return True

    if not walk({name: subtree}, model, ""):
        return queryset
    rest = {key: value for key, value in select.items() if key != name}
    lookups = [Prefetch(path, queryset=_lean_queryset(related, lean))
               for path, related in paths]
    existing = list(queryset._prefetch_related_lookups)
    queryset = queryset.select_related(None).prefetch_related(None)
    if rest:
        queryset.query.select_related = rest
    return queryset.prefetch_related(*lookups, *existing)


def _lean_queryset(model, lean: bool):
    queryset = model._base_manager.all()
    if lean:
        queryset._iterable_class = LeanModelIterable
    return queryset


def only_needed_columns(builder: DocumentBuilder, queryset):
    """``queryset.only(...)`` the columns the primary type's document reads, when that is
    known exactly (plain attributes and FK linkage only: a serializer method may read any
    attribute, so then every column is loaded)."""
    if not isinstance(queryset, QuerySet) or queryset._iterable_class is not ModelIterable:
        return queryset
    recipe = builder.recipe(builder.primary_plan, builder.primary_type)
    plan = recipe.plan
    query = queryset.query
    if recipe.calls or plan.id_field is not None or query.select_related is True \
            or query.deferred_loading != (frozenset(), True) \
            or any(r.kind in (METHOD_ONE, METHOD_MANY) for r in recipe.relationships):
        return queryset
    opts = queryset.model._meta
    by_attname = {f.attname: f for f in opts.concrete_fields}
    names = {opts.pk.name}
    for attribute in recipe.attributes:
        names.add(by_attname[attribute.source].name)
    for relationship in plan.relationships:
        if relationship.kind == TO_ONE:
            names.add(relationship.source)
    if plan.self_link is not None and plan.self_link[1] != "pk":
        field = by_attname.get(plan.self_link[1])
        if field is None:
            return queryset
        names.add(field.name)
    walked = list(query.select_related or ()) + [
        lookup.prefetch_through if isinstance(lookup, Prefetch) else lookup
        for lookup in queryset._prefetch_related_lookups]
    for path in walked:
        first = path.split("__")[0]
        try:
            field = opts.get_field(first)
        except Exception:
            continue
        if field.concrete:
            names.add(first)
    return queryset.only(*sorted(names))


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def gc_paused():
    """No cyclic garbage collection while a page is fetched and built: its tens of thousands
    of new (acyclic) objects would otherwise trigger repeated collections, each walking the
    whole heap. Nested and concurrent uses are counted; the collector comes back after the
    last one."""
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


# --- the hook: a serializer stand-in for list/retrieve --------------------------------------

class FastDocument:
    """What the fast serializer's ``.data`` returns: the built ``data``/``included`` members;
    the renderer writes it (with the pagination links and meta around it)."""

    __slots__ = ("members",)

    def __init__(self, members: dict):
        self.members = members


class FastSerializer:
    """Stands in for ``get_serializer(page, many=True)`` / ``get_serializer(instance)`` in
    DRF's list and retrieve: ``.data`` builds the document (inside the view, as DRF's
    ``serializer.data`` would, so errors go through the view's exception handling)."""

    def __init__(self, builder: DocumentBuilder, instance, many: bool = False):
        self.builder = builder
        self.instance = instance
        self.many = many
        self._data = None

    @property
    def data(self) -> FastDocument:
        if self._data is None:
            self._data = FastDocument(self.builder.build(self.instance, self.many))
            release_instances(self.instance if self.many else [self.instance])
        return self._data


def release_instances(instances) -> None:
    """Break the reference cycles Django's caches make among the fetched rows (a prefetched
    row points back at its parent, a cached queryset at its instance) once the document is
    built, so reference counting frees them all at once rather than a collection walking
    them later (tens of thousands of objects for a page of exports with their files)."""
    model = models.Model
    seen: set[int] = set()
    list_attributes: dict[type, list[str]] = {}  # per class: where to_attr lists may be
    stack = [instance for instance in instances if isinstance(instance, model)]
    while stack:
        instance = stack.pop()
        if id(instance) in seen:
            continue
        seen.add(id(instance))
        attributes = instance.__dict__
        prefetched = attributes.pop("_prefetched_objects_cache", None)
        if prefetched:
            for value in prefetched.values():
                rows = value._result_cache if isinstance(value, QuerySet) else value
                if rows:
                    stack.extend(rows)
        state = attributes.get("_state")
        cache = state.__dict__.get("fields_cache") if state is not None else None
        if cache:
            stack.extend(value for value in cache.values() if isinstance(value, model))
            cache.clear()
        names = list_attributes.get(instance.__class__)
        if names is None:
            names = list_attributes[instance.__class__] = [
                name for name, value in attributes.items() if value.__class__ is list]
        for name in names:  # Prefetch(..., to_attr=...) lists
            value = attributes.get(name)
            if value.__class__ is list and value and isinstance(value[0], model):
                stack.extend(value)


def builder_for(view, serializer_class) -> DocumentBuilder | None:
    """A document builder for this request, or None for the stock path."""
    if not enabled() or json_api_settings.FORMAT_FIELD_NAMES:
        return None
    plan = plan_for(serializer_class)
    if plan is None:
        return None
    resource_name = getattr(view, "resource_name", None)
    if resource_name is None:
        resource_name = plan.type
    elif resource_name is False or resource_name != plan.type:
        return None
    request = view.request
    if api_settings.URL_FORMAT_OVERRIDE and api_settings.URL_FORMAT_OVERRIDE in request.GET:
        return None  # DRF would carry it into every link
    if not _plans_reachable(plan, get_included_resources(request)):
        return None
    return DocumentBuilder(view, request, plan, resource_name)


def compose(data) -> dict | None:
    """The JSON:API document (without ``jsonapi``) for response data holding a
    ``FastDocument``, as DRF-JSONAPI's renderer orders it; None for any other data."""
    if isinstance(data, FastDocument):
        return data.members
    if isinstance(data, dict) and isinstance(data.get("results"), FastDocument):
        document = {}
        if data.get("links"):
            document["links"] = data["links"]
        document.update(data["results"].members)
        if data.get("meta"):
            document["meta"] = format_field_names(data["meta"])
        return document
    return None


def render_and_release(response) -> None:
    """Render a fast-path response at once and drop its document: called while the
    collector is paused, so the tens of thousands of objects of the document are freed by
    reference counting before it resumes (and never walked by a collection)."""
    data = getattr(response, "data", None)
    document = data.get("results") if isinstance(data, dict) else data
    if isinstance(document, FastDocument) and not getattr(response, "is_rendered", True):
        response.render()
        document.members = None
