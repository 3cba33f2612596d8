from typing import Any

from django.db import models
from rest_framework_json_api.relations import SerializerMethodResourceRelatedField

from syncservice.accounts.api.serializers import ProjectSerializer
from syncservice.events import schemas
from syncservice.events.models import Event
from syncservice.jsonapi.read import Row, read_rows, row_relationship
from syncservice.jsonapi.relations import ToOneField
from syncservice.jsonapi.serializers import ResourceSerializer
from syncservice.jsonschema import openapi30, register_component
from syncservice.jsonschema.fields import SchemaField


def _data_openapi(auto_schema) -> dict:
    refs = [register_component(auto_schema, schemas.component_name(kind), openapi30(schema))
            for kind, schema in schemas.DATA.items()]
    return {"anyOf": refs, "description": "What the event tells, by `kind` "
                                          "(`EventData<Kind>`)."}


class EventSerializer(ResourceSerializer):
    project = ToOneField(related_view="project-detail")
    data = SchemaField({"type": "object"}, openapi=_data_openapi, read_only=True)
    included_serializers = {"project": ProjectSerializer}

    class Meta:
        model = Event
        fields = ["url", "kind", "subject_type", "subject_id", "message", "data", "created_at",
                  "project"]


def events_relationship(related_view: str):
    """The ``events`` to-many relationship of a run, export or job: linkage from the events
    the view attached (``syncservice.events.services.attach_events``), ``links.related`` to
    the subject's events collection."""
    return SerializerMethodResourceRelatedField(
        many=True, model=Event, read_only=True, method_name="get_events",
        related_link_view_name=related_view, related_link_url_kwarg="subject_pk")


class WithEvents:
    """Serializer mixin: ``get_events`` for ``events_relationship``."""

    def get_events(self, instance) -> list[Event]:
        events = getattr(instance, "prefetched_events", None)
        if events is None:  # a resource the view did not attach (e.g. a write's answer)
            from syncservice.events.services import attach_events

            attach_events([instance])
            events = instance.prefetched_events
        return events


@row_relationship(WithEvents, "events")
def event_rows(subject_model: type[models.Model], subject_ids: list[Any],
               columns: list[str]) -> dict[Any, list[Row]]:
    """``get_events`` for a page of rows: its subjects' events in one query, oldest first
    (as ``attach_events`` reads them)."""
    from syncservice.events.services import events_of

    by_subject: dict[Any, list[Row]] = {subject_id: [] for subject_id in subject_ids}
    if not by_subject:
        return by_subject
    rows = read_rows(events_of(subject_model.JSONAPIMeta.resource_name, by_subject),
                     list(dict.fromkeys([*columns, "subject_id"])))
    for row in rows:
        by_subject[row["subject_id"]].append(row)
    return by_subject
