"""Row hooks (``syncservice.jsonapi.read.row_field`` / ``row_relationship``): the exports'
``attachment_url``, the files' ``download_url`` and the ``events`` of exports and jobs are
built from rows, the same bytes as the stock path, in a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers as drf_serializers

from exports.models import Export, ExportStatus
from syncservice.events.models import Event
from syncservice.jsonapi.read import row_field
from syncservice.jsonapi.read import spec as read_spec
from syncservice.jsonapi.read.rows import columns_for
from tests.jsonapi.test_fast_path import assert_same
from tests.jsonapi.test_read_path import served_from
from tests.testapp.api import BookSerializer


@pytest.fixture
def timeline(world):
    """Events of two exports and two jobs; two of an export's share their moment (the id
    breaks the tie), and another project's event is never shown."""
    now = timezone.now()
    exports, jobs = world["exports"], world["jobs"]
    events = []
    for offset, (subject_type, subject, kind) in enumerate([
            ("exports", exports[0], "created"), ("exports", exports[0], "started"),
            ("exports", exports[0], "succeeded"), ("exports", exports[1], "failed"),
            ("jobs", jobs[0], "created"), ("jobs", jobs[0], "succeeded"),
            ("jobs", jobs[1], "failed")]):
        events.append(Event.objects.create(
            project=world["project"], subject_type=subject_type, subject_id=subject.pk,
            kind=kind, message=f"{kind} {offset}", data={"n": offset},
            created_at=now - timedelta(minutes=10 - min(offset, 2))))
    return events


HOOKED = [
    "/api/v1/exports",
    "/api/v1/exports?included=job,files",
    "/api/v1/exports?included=events",
    "/api/v1/exports?included=events.project,job.events,files",
    "/api/v1/exports?included=job&fields[jobs]=status,events",
    "/api/v1/exports?fields[exports]=events",
    "/api/v1/exports?fields[exports]=status&included=events",
    "/api/v1/exports?fields[exports]=status,events&included=events&fields[events]=kind",
    "/api/v1/exports?fields[exports]=attachment_url",
    "/api/v1/exports?fields[exports]=status,attachment_url&filter[status]=success",
    "/api/v1/exports?fields[exports]=status&included=files"
    "&fields[export-files]=download_url",
    "/api/v1/exports?included=files&fields[export-files]=index,download_url",
    "/api/v1/exports?page[size]=1&included=events",
    "/api/v1/exports/{export}",
    "/api/v1/exports/{export}?included=events,files,job.events",
    "/api/v1/exports/{failed}?fields[exports]=attachment_url,events",
    "/api/v1/jobs",
    "/api/v1/jobs?included=events,project",
    "/api/v1/jobs?fields=status,events&included=events&fields[events]=kind,created_at",
    "/api/v1/jobs/{job}?included=events",
]


@pytest.mark.parametrize("url", HOOKED)
def test_hooked_fields_are_built_from_rows_as_the_stock_path_builds_them(
        api, settings, world, timeline, url):
    url = url.format(export=world["exports"][0].pk, failed=world["exports"][1].pk,
                     job=world["jobs"][0].pk)
    assert served_from(api, settings, url) == "rows"
    assert_same(api, settings, url)


def test_hooks_serve_documents_of_instances_too(api, settings, world, timeline):
    """An ordering the rows cannot carry: the hooks compute the fields from instances' rows."""
    url = "/api/v1/exports?sort=attachment_url&included=events,files,job"
    assert served_from(api, settings, url) == "instances"
    assert_same(api, settings, url)


def test_attachment_url_and_events(api, settings, world, timeline):
    settings.JSONAPI_FAST_PATH = True
    document = api.get("/api/v1/exports?included=events&sort=created_at").json()
    by_id = {item["id"]: item for item in document["data"]}
    succeeded, failed = world["exports"][0], world["exports"][1]
    assert by_id[str(succeeded.pk)]["attributes"]["attachment_url"].endswith(
        f"/exports/{succeeded.pk}/download")
    assert by_id[str(failed.pk)]["attributes"]["attachment_url"] is None
    events = by_id[str(succeeded.pk)]["relationships"]["events"]
    assert [item["id"] for item in events["data"]] == [str(e.pk) for e in timeline[:3]]
    assert events["meta"] == {"count": 3}
    assert events["links"]["related"].endswith(f"/exports/{succeeded.pk}/events")
    assert {item["id"] for item in document["included"]} == {str(e.pk) for e in timeline[:4]}


def test_an_export_past_its_expiry_has_no_attachment_url(api, settings, world):
    export = world["exports"][0]
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    url = f"/api/v1/exports?fields[exports]=status,attachment_url&filter[id]={export.pk}"
    assert served_from(api, settings, url) == "rows"
    document = assert_same(api, settings, url)
    assert document["data"][0]["attributes"] == {"status": ExportStatus.EXPIRED,
                                                 "attachment_url": None}


def test_file_download_urls(api, settings, world):
    export = world["exports"][2]  # two files
    settings.JSONAPI_FAST_PATH = True
    document = api.get(f"/api/v1/exports/{export.pk}?included=files"
                       "&fields[export-files]=index,download_url").json()
    urls = sorted(item["attributes"]["download_url"] for item in document["included"])
    assert [url.split("/api/v1")[1] for url in urls] == [
        f"/exports/{export.pk}/download?file=1", f"/exports/{export.pk}/download?file=2"]


@pytest.mark.parametrize("url", ["/api/v1/exports?included=job.events,events,files",
                                 "/api/v1/jobs?included=events"])
def test_hooked_lists_run_a_constant_number_of_queries(api, settings, world, timeline, url):
    settings.JSONAPI_FAST_PATH = True
    api.get("/api/v1/projects")  # the key's last use is recorded once, here
    counts = []
    for size in (1, 2, 4):
        with CaptureQueriesContext(connection) as captured:
            response = api.get(f"{url}&sort=created_at&page[size]={size}")
        assert response.status_code == 200
        counts.append(len(captured.captured_queries))
    assert len(set(counts)) == 1, counts


class TitledBookSerializer(BookSerializer):
    shout = drf_serializers.SerializerMethodField()
    whisper = drf_serializers.SerializerMethodField()

    class Meta(BookSerializer.Meta):
        fields = [*BookSerializer.Meta.fields, "shout", "whisper"]

    def get_shout(self, book) -> str:
        return book.title.upper()

    def get_whisper(self, book) -> str:
        return book.title.lower()


class SubTitledBookSerializer(TitledBookSerializer):
    pass


@row_field(TitledBookSerializer, "shout", columns=("title",))
def shout(links, row) -> str:
    return row["title"].upper()


def test_a_hook_serves_its_serializer_and_subclasses_and_the_rest_falls_back():
    for serializer_class in (TitledBookSerializer, SubTitledBookSerializer):
        spec = read_spec.derive_spec(serializer_class)
        kinds = {a.name: a.kind for a in spec.attributes}
        assert kinds["shout"] == read_spec.HOOK and kinds["whisper"] == read_spec.INSTANCE
        assert not spec.needs_instances("shout") and spec.needs_instances("whisper")
        assert "title" in columns_for(spec, {"shout"})  # the hook's columns are read
        assert "pages" not in columns_for(spec, {"shout"})
    assert read_spec.derive_spec(BookSerializer).attributes[-1].name == "created_at"
