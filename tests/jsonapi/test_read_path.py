"""Which source the read path builds a document from (rows, or the view's instances), the
stock path for what no spec reads, and the queries each list costs."""

import orjson
import pytest
from rest_framework import serializers as drf_serializers

from syncservice.jsonapi import read
from tests.testapp.api import BookSerializer, BookViewSet


def document_of(response):
    data = response.data
    return data.get("results") if isinstance(data, dict) else data


def served_from(api, settings, url: str) -> str:
    settings.JSONAPI_FAST_PATH = True
    response = api.get(url)
    assert response.status_code == 200, response.content
    document = document_of(response)
    if not isinstance(document, read.ReadDocument):
        return "stock"
    return "rows" if document.from_rows else "instances"


@pytest.mark.parametrize("url,source", [
    ("/api/v1/projects", "rows"),
    ("/api/v1/books?included=author.project,chapters.book", "rows"),
    ("/api/v1/books/{book}?included=chapters", "rows"),
    ("/api/v1/jobs?fields=status,project&included=project", "rows"),
    ("/api/v1/exports?fields[exports]=status,files&included=files"
     "&fields[export-files]=filename", "rows"),
    # method fields and relationships with row hooks (events, attachment_url, download_url)
    ("/api/v1/jobs", "rows"),
    ("/api/v1/exports", "rows"),
    ("/api/v1/exports?included=job,files,events,job.events", "rows"),
    ("/api/v1/exports/{export}?included=events", "rows"),
    # method fields and relationships without one: the view's instances
    ("/api/v1/syncs?fields[syncs]=name,provider_key", "instances"),  # a dotted source
    ("/api/v1/syncs?fields[syncs]=name&included=last_run&fields[sync-runs]=status",
     "instances"),
    # an ordering the rows cannot carry (an alias): instances
    ("/api/v1/exports?fields[exports]=status&sort=attachment_url", "instances"),
])
def test_the_document_source(api, settings, world, url, source):
    url = url.format(book=world["books"][0].pk, export=world["exports"][0].pk)
    assert served_from(api, settings, url) == source


class BookWithLinkSerializer(BookSerializer):
    """A relationship no spec reads (hyperlinked)."""

    author_link = drf_serializers.HyperlinkedRelatedField(
        source="author", view_name="book-detail", read_only=True)

    class Meta(BookSerializer.Meta):
        fields = [*BookSerializer.Meta.fields, "author_link"]


def test_what_no_spec_reads_takes_the_stock_path(api, settings, world, monkeypatch):
    monkeypatch.setattr(BookViewSet, "serializer_class", BookWithLinkSerializer)
    assert set(read.spec_for(BookWithLinkSerializer).unsupported) == {"author_link"}
    assert served_from(api, settings, "/api/v1/books") == "stock"
    # Left out by the sparse fieldset: the read path again, and the same document.
    url = "/api/v1/books?fields[books]=title,author&included=author"
    assert served_from(api, settings, url) == "rows"
    fast = api.get(url).content
    settings.JSONAPI_FAST_PATH = False
    assert orjson.loads(fast) == orjson.loads(api.get(url).content)


def test_switched_off_everything_is_stock(api, settings, world):
    settings.JSONAPI_FAST_PATH = False
    response = api.get("/api/v1/projects")
    assert not isinstance(document_of(response), read.ReadDocument)


@pytest.mark.parametrize("url", [
    "/api/v1/books?page[size]={size}&included=author.project,chapters.book",
    "/api/v1/books?page[size]={size}&page[after]=&sort=-pages&included=chapters",
    "/api/v1/jobs?page[size]={size}&fields=status,project&included=project",
    "/api/v1/exports?page[size]={size}&fields[exports]=status,job,files"
    "&included=job,files&fields[jobs]=status&fields[export-files]=filename",
    "/api/v1/projects?page[size]={size}",
])
def test_rows_lists_run_a_constant_number_of_queries(api, settings, world, url,
                                                     django_assert_max_num_queries):
    """Page, to-one includes joined, one query per to-many relation (authentication's own
    queries besides): whatever the page size."""
    api.get("/api/v1/projects")  # the key's last use is recorded once, here
    assert served_from(api, settings, url.format(size=1)) == "rows"
    counts = []
    for size in (1, 3, 100):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert api.get(url.format(size=size)).status_code == 200
        counts.append(len(captured.captured_queries))
    assert len(set(counts)) == 1, counts
    with django_assert_max_num_queries(counts[0]):
        api.get(url.format(size=1000))
