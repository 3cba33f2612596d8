import uuid

from rest_framework.exceptions import NotFound

from syncservice.events.api.serializers import EventSerializer, WithEvents
from syncservice.events.filters import EventFilterSet
from syncservice.events.models import Event
from syncservice.events.services import attach_events
from syncservice.jsonapi.query import included_serializers
from syncservice.jsonapi.views import ReadOnlyJsonApiViewSet

ORDERING_FIELDS = ["id", "kind", "subject_type", "created_at"]


class EventViewSet(ReadOnlyJsonApiViewSet):
    """What runs, exports and jobs did: their lifecycle, oldest first by default."""

    queryset = Event.objects.all()
    serializer_class = EventSerializer
    filterset_class = EventFilterSet
    ordering_fields = ORDERING_FIELDS
    ordering = ["created_at"]


class SubjectEventViewSet(EventViewSet):
    """``GET /<subjects>/{id}/events``: one subject's events (404 when the subject is not the
    caller's). Subclasses set ``subject_model``."""

    subject_model = None

    def get_queryset(self):
        try:
            subject_pk = uuid.UUID(str(self.kwargs["subject_pk"]))
        except ValueError:
            raise NotFound() from None
        subjects = self.scope_queryset(self.subject_model.objects.filter(pk=subject_pk))
        if not subjects.exists():
            raise NotFound()
        return super().get_queryset().filter(
            subject_type=self.subject_model.JSONAPIMeta.resource_name, subject_id=subject_pk)


def subject_events_view(model, name: str):
    """The list view of ``model``'s events, for a ``(?P<subject_pk>…)`` route."""
    view_class = type(f"{model.__name__}EventViewSet", (SubjectEventViewSet,),
                      {"subject_model": model,
                       "__doc__": f"The events of one of the {model.JSONAPIMeta.resource_name}, "
                                  "oldest first by default."})
    return view_class.as_view({"get": "list"}, basename=name)


def _related(serializer, field, instance) -> list:
    """The instances a relationship of ``instance`` renders, from what the view already
    loaded (select_related, prefetches, attached events): no query."""
    method_name = getattr(field, "method_name", None)
    if method_name:
        value = getattr(serializer, method_name)(instance)
    else:
        value = getattr(instance, field.source, None)
        if hasattr(value, "all"):
            value = value.all()
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) or hasattr(value, "model") \
        else [value]


def attach_included_events(serializer_class, instances: list, paths, *,
                           own: bool = True) -> None:
    """Attach events to ``instances`` when their serializer renders an ``events``
    relationship, then to every resource the include ``paths`` reach: one query per resource
    type, whatever the page size."""
    if not instances:
        return
    if own and issubclass(serializer_class, WithEvents) and \
            not hasattr(instances[0], "prefetched_events"):
        attach_events(instances)
    heads: dict[str, list[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        heads.setdefault(head, [])
        if rest:
            heads[head].append(rest)
    if not heads:
        return
    included = included_serializers(serializer_class)
    serializer = serializer_class()
    for name, rest in heads.items():
        if name not in included or name == "events" or name not in serializer.fields:
            continue
        field = serializer.fields[name]
        children: dict = {}
        for instance in instances:
            for child in _related(serializer, field, instance):
                children.setdefault(child.pk, child)
        attach_included_events(included[name], list(children.values()), rest)


class AttachEventsMixin:
    """For viewsets whose resources (or included resources) render an ``events``
    relationship: each page, or the resource shown, gets its events — and so do the
    resources it includes — in one query per resource type, whatever the page size."""

    def _attach(self, instances: list) -> None:
        reader = self.reader()
        if reader is not None and not reader.instances:
            return  # built from rows: the read path reads the events (their row hook)
        query = getattr(self, "jsonapi_query", None)
        paths = query.include if query is not None else []
        # A sparse fieldset without `events` (and no include of them): no events to render.
        fields = query.fields.get(self.queryset.model.JSONAPIMeta.resource_name) \
            if query is not None else None
        own = fields is None or "events" in fields or \
            any(path.split(".")[0] == "events" for path in paths)
        attach_included_events(self.get_serializer_class(), instances, paths, own=own)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            self._attach(page)
        return page

    def get_object(self):
        instance = super().get_object()
        if self.action == "retrieve":
            self._attach([instance])
        return instance
