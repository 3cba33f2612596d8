"""The read path (syncservice.jsonapi.read) serves the same documents as DRF-JSONAPI's stock
serializers and renderer: every list and show endpoint, with sparse fieldsets, includes (nested
too) and the query grammar, compared as parsed JSON (and as bytes), built from rows or from
instances."""

import orjson
import pytest

from jobs.models import Job
from syncservice.jsonapi import read
from syncservice.jsonapi.read import spec as read_spec
from tests.testapp.models import Author, Book


def fetch(api, settings, url: str, fast_path: bool):
    settings.JSONAPI_FAST_PATH = fast_path
    response = api.get(url)
    assert response.status_code == 200, (url, response.content)
    data = response.data
    used = isinstance(data, read.ReadDocument) or (
        isinstance(data, dict) and isinstance(data.get("results"), read.ReadDocument))
    assert used == fast_path, f"{url}: fast path used: {used}"
    return response.content


def assert_same(api, settings, url: str) -> dict:
    fast_body = fetch(api, settings, url, True)
    stock_body = fetch(api, settings, url, False)
    fast_doc, stock_doc = orjson.loads(fast_body), orjson.loads(stock_body)
    assert fast_doc == stock_doc, url
    # Same members in the same order, too (not required, but it is what the builder aims at).
    assert fast_body == stock_body, url
    return fast_doc


LISTS = {
    "projects": ["", "fields=name", "fields[projects]=name,created_at", "sort=-name",
                 "count=true&page[size]=1", "fields[projects]="],
    "jobs": ["", "included=project", "include=project&fields[projects]=name",
             "fields=status,payload,project&included=project",
             # project left out of the sparse fieldset: still included (JSON:API 1.1)
             "fields=status&included=project",
             "filter[status]=failed", "sort=priority&page[size]=2&page[number]=2",
             "count=true&page[size]=4", "fields=started_at,finished_at,created_by_id",
             "fields[jobs]=&included=project",
             # cursor pages: the sort keys of a sparse fieldset's deferred columns
             "fields=status&page[size]=2&page[after]=", "sort=priority&page[before]="],
    "exports": ["", "included=job,files", "included=job.project,project,files",
                "fields=status,attachment_url,files&included=files"
                "&fields[export-files]=filename,download_url",
                # to-many left out of the sparse fieldset: DRF-JSONAPI still includes it
                "fields[exports]=status&included=files",
                "fields[exports]=status&included=job",
                "included=job&fields[jobs]=", "included=files&fields[export-files]=",
                "sort=-size&fields=size,job,project&included=job.project"],
    "connections": ["", "included=project", "fields=name,secret_names",
                    "fields[connections]=provider,project&included=project"
                    "&fields[projects]=name"],
    "syncs": ["", "included=project,connection,table_bindings,last_run",
              "included=last_run.job,connection.project,last_run.sync",
              "fields=name,provider_key,last_run&included=last_run",
              "fields[syncs]=name&included=table_bindings,last_run",
              "fields=table_bindings&included=table_bindings&fields[table-bindings]=sync",
              "limit=2&offset=1", "status=active", "page[size]=1&page[before]=",
              # last_run left out of the sparse fieldset: still included (JSON:API 1.1)
              "fields[syncs]=name&included=last_run",
              "fields[syncs]=name&fields[sync-runs]=status&included=last_run.job"],
    "sync-runs": ["", "included=sync,project,job", "included=sync.table_bindings,sync.project",
                  "included=sync.connection.project,job.project",
                  "fields=status,sync&included=sync&fields[syncs]=name,last_run"],
    "books": ["", "included=author,chapters", "included=author.project,chapters.book",
              "included=chapters.book.author,author", "fields=title",
              "fields[books]=title,author&included=author&fields[authors]=name",
              "fields=pages,chapters&included=chapters", "fields[books]=title&included=chapters",
              "sort=-pages&page[size]=5&page[number]=2&count=true",
              "filter[genre]=essay&included=author.project",
              "sort=-pages&page[size]=5&page[after]=&count=true&included=chapters"],
}


@pytest.mark.parametrize("resource,query", [
    (resource, query) for resource, queries in LISTS.items() for query in queries])
def test_every_list_is_the_same_document(api, settings, world, resource, query):
    document = assert_same(api, settings, f"/api/v1/{resource}?{query}")
    assert document["data"], "every list has rows in this world"


def show_urls(world) -> list[str]:
    sync, run = world["syncs"][0], world["runs"][0]
    return [
        f"/api/v1/projects/{world['project'].pk}",
        f"/api/v1/jobs/{world['jobs'][1].pk}?included=project",
        f"/api/v1/jobs/{world['jobs'][0].pk}?fields=status,result",
        f"/api/v1/exports/{world['exports'][0].pk}?included=job.project,files",
        f"/api/v1/exports/{world['exports'][1].pk}?fields=status,attachment_url",
        f"/api/v1/exports/{world['exports'][3].pk}",
        f"/api/v1/connections/{world['connections'][0].pk}?included=project",
        f"/api/v1/syncs/{sync.pk}?included=table_bindings,last_run.job,connection",
        f"/api/v1/sync-runs/{run.pk}?included=sync.table_bindings,job",
        f"/api/v1/syncs/runs/{run.pk}",
        f"/api/v1/syncs/{sync.pk}/runs?included=sync",
        f"/api/v1/books/{world['books'][3].pk}?included=author.project,chapters.book",
        f"/api/v1/books/{world['books'][2].pk}?fields=title",
    ]


def test_every_show_is_the_same_document(api, settings, world):
    for url in show_urls(world):
        document = assert_same(api, settings, url)
        assert document["data"]


def test_documents_without_includes_have_no_included_member(api, settings, world):
    document = assert_same(api, settings, "/api/v1/jobs")
    assert "included" not in document
    document = assert_same(api, settings, "/api/v1/jobs?included=project&filter[status]=running")
    assert "included" in document


def test_empty_pages_are_the_same(api, settings, world):
    assert_same(api, settings, "/api/v1/jobs?filter[status]=running&page[number]=3"
                               "&included=project")
    assert_same(api, settings, "/api/v1/exports?filter[status]=pending&included=files")


def test_other_projects_stay_out(api, settings, world, other_api):
    document = assert_same(api, settings, "/api/v1/jobs?page[size]=1000")
    assert {item["id"] for item in document["data"]} == {
        str(pk) for pk in Job.objects.filter(project=world["project"]).values_list("pk",
                                                                                  flat=True)}
    fast_doc = orjson.loads(fetch(other_api, settings, "/api/v1/exports", True))
    stock_doc = orjson.loads(fetch(other_api, settings, "/api/v1/exports", False))
    assert fast_doc == stock_doc and len(fast_doc["data"]) == 1


def test_datetimes_are_written_as_drf_writes_them(api, settings, world):
    job = world["jobs"][1]
    document = assert_same(api, settings, f"/api/v1/jobs/{job.pk}")
    started = document["data"]["attributes"]["started_at"]
    assert started.endswith("Z") and "." in started
    finished = document["data"]["attributes"]["finished_at"]
    assert finished.endswith("Z") and "." not in finished


def test_another_current_timezone_is_honoured(api, settings, world):
    """DRF writes datetimes in the current time zone: the fast path converts them too."""
    settings.TIME_ZONE = "Europe/Paris"
    document = assert_same(api, settings, "/api/v1/jobs?fields=started_at,created_at")
    assert all(item["attributes"]["created_at"].endswith(("+01:00", "+02:00"))
               for item in document["data"])


def test_constant_queries_on_the_fast_path(api, settings, world):
    """As many queries for two rows as for every row, and no more than the stock path."""
    urls = ["/api/v1/exports?page[size]={size}&included=job.project,files",
            "/api/v1/syncs?page[size]={size}&included=last_run,table_bindings,connection",
            "/api/v1/sync-runs?page[size]={size}&included=sync.table_bindings,job",
            "/api/v1/books?page[size]={size}&included=author.project,chapters.book"]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api.get("/api/v1/projects")  # the key's last use is recorded once, here
    for url in urls:
        counts = {}
        for fast_path in (True, False):
            settings.JSONAPI_FAST_PATH = fast_path
            for size in (2, 100):
                with CaptureQueriesContext(connection) as captured:
                    assert api.get(url.format(size=size)).status_code == 200
                counts[fast_path, size] = len(captured.captured_queries)
        assert counts[True, 2] == counts[True, 100], (url, counts)
        assert counts[True, 100] <= counts[False, 100], (url, counts)


# --- specs ---------------------------------------------------------------------------------

def test_unsupported_serializers_take_the_stock_path():
    from rest_framework import serializers as drf_serializers
    from rest_framework_json_api import serializers

    class WithMeta(serializers.ModelSerializer):
        class Meta:
            model = Book
            fields = ["title", "pages"]
            meta_fields = ["pages"]

    class Custom(serializers.ModelSerializer):
        class Meta:
            model = Book
            fields = ["title"]

        def to_representation(self, instance):
            return {"title": instance.title.upper()}

    for serializer_class in (WithMeta, Custom):
        assert read.spec_for(serializer_class) is None

    class WithHyperlinkedRelation(serializers.ModelSerializer):
        author = drf_serializers.HyperlinkedRelatedField(view_name="author-detail",
                                                         read_only=True)

        class Meta:
            model = Book
            fields = ["title", "author"]

    spec = read.spec_for(WithHyperlinkedRelation)
    assert set(spec.unsupported) == {"author"}
    assert [a.name for a in spec.attributes] == ["title"]


def test_specs_read_every_field_kind():
    from exports.api.serializers import ExportSerializer
    from syncs.api.serializers import SyncSerializer

    spec = read.spec_for(ExportSerializer)
    kinds = {a.name: a.kind for a in spec.attributes}
    assert kinds["status"] == read_spec.AS_IS and kinds["created_at"] == read_spec.DATETIME
    assert kinds["attachment_url"] == read_spec.HOOK and kinds["size"] == read_spec.AS_IS
    relationships = {r.name: type(r) for r in spec.relationships}
    assert relationships == {"project": read_spec.ToOneSpec, "job": read_spec.ToOneSpec,
                             "files": read_spec.ToManySpec,
                             "events": read_spec.MethodRelationshipSpec}
    assert spec.relationship("events").rows is not None  # the events app's row hook
    assert not spec.needs_instances("events") and not spec.needs_instances("attachment_url")
    spec = read.spec_for(SyncSerializer)
    assert {a.name: a.kind for a in spec.attributes}["provider_key"] == read_spec.INSTANCE
    assert isinstance(spec.relationship("last_run"), read_spec.MethodRelationshipSpec)


def test_links_fall_back_to_reverse_for_odd_values(rf):
    from rest_framework.request import Request

    from syncservice.jsonapi.read.links import Links

    links = Links(Request(rf.get("/")))
    first, second = Author(pk="00000000-0000-4000-8000-000000000001"), Book(
        pk="00000000-0000-4000-8000-000000000002")
    assert links.url("book-detail", "pk", first.pk).endswith(f"/books/{first.pk}")
    assert links.templates[("book-detail", "pk")][1] == ""
    assert links.url("book-detail", "pk", second.pk).endswith(f"/books/{second.pk}")
    assert links.url("book-detail", "pk", "a b").endswith("/books/a%20b")


def test_serializer_reverses_use_the_templates_and_fall_back_to_drf(rf):
    from rest_framework.request import Request
    from rest_framework.reverse import reverse

    from syncservice.jsonapi.read.links import Links, TemplatedReverse

    request = Request(rf.get("/"))
    request.versioning_scheme = None
    links = Links(request)
    request.versioning_scheme = TemplatedReverse(links)
    book = Book(pk="00000000-0000-4000-8000-000000000002")
    url = reverse("book-detail", kwargs={"pk": book.pk}, request=request)
    assert links.templates[("book-detail", "pk")] == (url[: -len(str(book.pk))], "")
    # Not one keyword: DRF reverses it itself (the scheme answers NoReverseMatch).
    assert reverse("book-list", request=request).endswith("/api/v1/books")
    assert reverse("book-detail", args=[book.pk], request=request).endswith(
        f"/books/{book.pk}")
