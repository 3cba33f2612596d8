"""UUID columns read as their text (``syncservice.jsonapi.read.text.UuidText``,
``read_rows``): every UUID of a document's rows (keys, foreign keys, a hook's rows) is
``str(UUID)``, the text the document writes, on SQLite (stored as hex) and PostgreSQL; and a
list's resource objects encoded as they are finished (``document.encoded``) are the bytes
the renderer writes."""

import uuid

import orjson
import pytest
from django.db import connection

from jobs.models import Job
from syncservice.events.models import Event
from syncservice.jsonapi.read import read_rows
from syncservice.jsonapi.read.document import encoded
from syncservice.jsonapi.renderers import dumps
from tests.jsonapi.test_fast_path import assert_same


@pytest.mark.django_db
def test_uuid_keys_and_foreign_keys_come_as_their_text(project, make_job):
    with_project = make_job(project, "demo.uuid")
    system = make_job(None, "demo.uuid")
    rows = {row["id"]: {"id": row["id"], "project_id": row["project_id"]} for row in read_rows(
        Job.objects.filter(pk__in=[with_project.pk, system.pk]), ["id", "project_id"])}
    assert rows == {str(with_project.pk): {"id": str(with_project.pk),
                                           "project_id": str(project.pk)},
                    str(system.pk): {"id": str(system.pk), "project_id": None}}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite stores UUIDs as text")
@pytest.mark.parametrize("form", [lambda u: str(u).upper(), lambda u: u.hex.upper(),
                                  lambda u: "{" + str(u) + "}"])
def test_a_stored_uuid_of_another_shape_reads_as_django_reads_it(project, form):
    subject = uuid.uuid4()
    event = Event.objects.create(project=project, subject_type="jobs", subject_id=subject,
                                 kind="created")
    with connection.cursor() as cursor:  # as another writer may have stored it
        cursor.execute("UPDATE events_event SET subject_id = %s WHERE id = %s",
                       [form(subject), event.pk.hex])
    event.refresh_from_db()
    assert event.subject_id == subject
    (row,) = read_rows(Event.objects.filter(pk=event.pk), ["id", "subject_id"])
    assert (row["id"], row["subject_id"]) == (str(event.pk), str(subject))


@pytest.mark.parametrize("obj", [
    {"type": "jobs", "id": "x", "attributes": {"at": "2026-12-06T11:33:00Z", "n": [1.5, None],
                                               "text": "é\u2028"}},
    {"type": "jobs", "id": "x", "attributes": {"big": 2**64 - 1}},
])
def test_an_encoded_object_is_the_renderers_bytes(obj):
    fragment = encoded(obj)
    assert isinstance(fragment, orjson.Fragment)
    assert dumps([fragment]) == dumps([obj])


def test_an_object_needing_the_renderers_fallbacks_stays_a_dict():
    obj = {"type": "jobs", "id": "x", "attributes": {"big": 2**65}}
    assert encoded(obj) is obj


@pytest.mark.django_db
def test_lists_sorted_and_paged_by_uuid_are_the_stock_documents(api, settings, project,
                                                                 make_job):
    for index in range(3):
        make_job(project, f"demo.{index}")
    assert_same(api, settings, "/api/v1/jobs?sort=id&page[size]=2&included=project")
    assert_same(api, settings, "/api/v1/jobs?sort=-id&page[size]=2&page[after]=")
