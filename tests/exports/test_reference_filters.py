"""Commerce Layer's (003) filterable and sortable export fields, Mews' (002) lookup by up to
1,000 ids, and key containment on the JSON attributes (metadata, errors_log)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from exports.models import Export
from tests.conftest import body, error_of

REFERENCE_FILTERS = ["resource_type", "format", "status", "started_at", "completed_at",
                     "interrupted_at", "records_count", "attachment_url", "errors_log", "id",
                     "created_at", "updated_at", "reference", "reference_origin", "metadata"]
REFERENCE_SORTS = ["resource_type", "format", "status", "started_at", "completed_at",
                   "interrupted_at", "records_count", "attachment_url", "id", "created_at",
                   "updated_at", "reference", "reference_origin"]


@pytest.fixture
def exports(project):
    now = timezone.now()
    rows = [
        Export.objects.create(project=project, resource_type="jobs", format="csv",
                              status="success", records_count=10, started_at=now,
                              completed_at=now + timedelta(minutes=1), reference="r-1",
                              reference_origin="crm", metadata={"foo": "bar", "n": 5}),
        Export.objects.create(project=project, resource_type="syncs", format="jsonl",
                              status="failed", records_count=0,
                              started_at=now - timedelta(days=1),
                              interrupted_at=now - timedelta(hours=23),
                              errors_log={"RuntimeError": "query timeout"}, reference="r-2",
                              metadata={"foo": "baz", "flag": True, "nothing": None}),
        Export.objects.create(project=project, resource_type="projects", format="json",
                              status="pending", metadata={}),
    ]
    return rows


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in body(response)["data"]]


def test_every_reference_filter_and_sort_is_accepted(api, exports):
    for name in REFERENCE_FILTERS:
        if name in ("metadata", "errors_log"):
            url = f"/api/v1/exports?filter[{name}][foo]=bar"
        elif name.endswith("_at"):
            url = f"/api/v1/exports?filter[{name}__gte]=2020-01-01T00:00:00Z"
        elif name == "records_count":
            url = "/api/v1/exports?filter[records_count__gte]=1"
        else:
            value = {"status": "success", "id": str(uuid.uuid4())}.get(name, "x")
            url = f"/api/v1/exports?filter[{name}]={value}"
        assert api.get(url).status_code == 200, (url, api.get(url).content)
    for name in REFERENCE_SORTS:
        for term in (name, f"-{name}"):
            assert api.get(f"/api/v1/exports?sort={term}").status_code == 200, term


@pytest.mark.parametrize("term", [f"{sign}{name}" for name in REFERENCE_SORTS
                                  for sign in ("", "-")])
def test_every_reference_sort_walks_by_cursor(api, exports, term):
    """Was a 500 for attachment_url (found by fuzzing): its computed sort key was not a
    field the cursor could name. Cursor pages list what page numbers list (in their order
    but for NULLs), forward and backward alike; a made-up cursor is a 400."""
    expected = ids(api.get(f"/api/v1/exports?sort={term}"))
    seen, url = [], f"/api/v1/exports?sort={term}&page[size]=1&page[after]="
    while url:
        document = body(api.get(url))
        seen += [item["id"] for item in document["data"]]
        url = document["links"]["next"]
        assert len(seen) <= len(expected)
    backward, url = [], f"/api/v1/exports?sort={term}&page[size]=2&page[before]="
    while url:
        document = body(api.get(url))
        backward = [item["id"] for item in document["data"]] + backward
        url = document["links"]["prev"]
        assert len(backward) <= len(expected)
    assert backward == seen
    assert sorted(seen) == sorted(expected)
    name = term.lstrip("-")
    if name == "attachment_url" or not Export._meta.get_field(name).null:
        assert seen == expected  # (page numbers order NULLs as each database does)
    error = error_of(api.get(f"/api/v1/exports?sort={term}&page[before]=%C2%875"), 400)
    assert error["source"] == {"parameter": "page[before]"}


def test_filters_select_the_right_exports(api, exports):
    success, failed, pending = (str(e.pk) for e in exports)
    url = "/api/v1/exports?sort=created_at&"
    assert ids(api.get(url + "filter[resource_type]=jobs")) == [success]
    assert ids(api.get(url + "filter[resource_type__in]=jobs,projects")) == [success, pending]
    assert ids(api.get(url + "filter[format__in]=jsonl,json")) == [failed, pending]
    assert ids(api.get(url + "filter[records_count__gte]=1")) == [success]
    assert ids(api.get(url + "filter[records_count__lte]=0")) == [failed]
    assert ids(api.get(url + "filter[reference__in]=r-1,r-2")) == [success, failed]
    assert ids(api.get(url + "filter[reference_origin]=crm")) == [success]
    started = exports[0].started_at.isoformat().replace("+00:00", "Z")
    assert ids(api.get(url + f"filter[started_at__gte]={started}")) == [success]
    assert ids(api.get(url + f"filter[started_at__lte]={started}")) == [success, failed]
    assert ids(api.get(url + "filter[interrupted_at__lte]=2999-01-01T00:00:00Z")) == [failed]
    assert ids(api.get(url + f"filter[completed_at__gte]={started}")) == [success]


def test_id_in_takes_up_to_1000_ids(api, exports):
    wanted = [str(exports[0].pk), str(exports[2].pk)]
    padding = [str(uuid.uuid4()) for _ in range(998)]
    response = api.get("/api/v1/exports?sort=created_at&filter[id__in]="
                       + ",".join(wanted + padding))
    assert ids(response) == wanted
    too_many = ",".join(wanted + padding + [str(uuid.uuid4())])
    error = error_of(api.get(f"/api/v1/exports?filter[id__in]={too_many}"), 400)
    assert error["source"] == {"parameter": "filter[id__in]"}
    error = error_of(api.get("/api/v1/exports?filter[id__in]=nope"), 400)
    assert error["source"] == {"parameter": "filter[id__in]"}


@pytest.mark.parametrize("resource", ["jobs", "exports", "syncs", "sync-runs", "connections",
                                      "projects"])
def test_id_in_on_every_collection(api, resource):
    assert ids(api.get(f"/api/v1/{resource}?filter[id__in]={uuid.uuid4()}")) == []


def test_attachment_url_filter_and_sort(api, exports):
    success, failed, pending = (str(e.pk) for e in exports)
    url = body(api.get(f"/api/v1/exports/{success}"))["data"]["attributes"]["attachment_url"]
    assert url.endswith(f"/exports/{success}/download")
    assert ids(api.get(f"/api/v1/exports?filter[attachment_url]={url}")) == [success]
    # The failed export has no attachment: its would-be URL matches nothing.
    other = url.replace(success, failed)
    assert ids(api.get(f"/api/v1/exports?filter[attachment_url__in]={url},{other}")) == [success]
    assert ids(api.get("/api/v1/exports?filter[attachment_url]=http://x/y")) == []
    # Exports without an attachment first (ties by id), then by the URL.
    no_attachment = sorted([failed, pending])
    assert ids(api.get("/api/v1/exports?sort=attachment_url")) == [*no_attachment, success]
    assert ids(api.get("/api/v1/exports?sort=-attachment_url")) == [
        success, *reversed(no_attachment)]


def test_json_key_containment(api, exports):
    success, failed, _ = (str(e.pk) for e in exports)
    url = "/api/v1/exports?sort=created_at&"
    assert ids(api.get(url + "filter[metadata][foo]=bar")) == [success]
    assert ids(api.get(url + "filter[metadata][foo]=baz")) == [failed]
    assert ids(api.get(url + "filter[metadata][n]=5")) == [success]
    assert ids(api.get(url + "filter[metadata][flag]=true")) == [failed]
    assert ids(api.get(url + "filter[metadata][nothing]=null")) == [failed]
    assert ids(api.get(url + "filter[metadata][foo]=bar&filter[metadata][n]=6")) == []
    assert ids(api.get(url + "filter[metadata][missing]=bar")) == []
    assert ids(api.get(url + f"filter[metadata][n]={10**30}")) == []
    assert ids(api.get(url + "filter[metadata][n]=1e999")) == []
    assert ids(api.get(url + "filter[errors_log][RuntimeError]=query timeout")) == [failed]
    assert ids(api.get(url + "filter[metadata__has_key]=foo")) == [success, failed]
    assert ids(api.get(url + "filter[errors_log__has_key]=RuntimeError")) == [failed]
    assert ids(api.get(url + "filter[metadata__has_key]=nope")) == []
    # Any key, as OpenAPI's deepObject writes it: "" and brackets too.
    Export.objects.filter(pk=success).update(metadata={"": "empty", "a[b]": "c"})
    assert ids(api.get(url + "filter[metadata][]=empty")) == [success]
    assert ids(api.get(url + "filter[metadata][a[b]]=c")) == [success]


def test_bad_filters_name_the_parameter(api, exports):
    for url, parameter in [
        ("/api/v1/exports?filter[format][x]=1", "filter[format][x]"),
        ("/api/v1/exports?filter[records_count__gte]=x", "filter[records_count__gte]"),
        ("/api/v1/exports?filter[started_at__lte]=yesterday", "filter[started_at__lte]"),
        ("/api/v1/exports?filter[bogus]=1", "filter[bogus]"),
        ("/api/v1/exports?filter[metadata__has_key]=", "filter[metadata__has_key]"),
    ]:
        assert error_of(api.get(url), 400)["source"] == {"parameter": parameter}, url


def test_json_filters_are_in_the_openapi_document(db):
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/exports"]["get"]["parameters"]}
    for attribute in ("metadata", "errors_log"):
        assert parameters[f"filter[{attribute}]"]["style"] == "deepObject"
        assert f"filter[{attribute}__has_key]" in parameters
    for name in ("resource_type__in", "records_count__gte", "interrupted_at__lte", "id__in",
                 "attachment_url", "reference_origin__in"):
        assert f"filter[{name}]" in parameters, name
    sort = parameters["sort"]["schema"]["items"]["enum"]
    assert "attachment_url" in sort and "-attachment_url" in sort


def test_filtered_and_sorted_lists_run_constant_queries(api, project, exports):
    url = ("/api/v1/exports?sort=-attachment_url&filter[metadata][foo]=bar"
           "&filter[metadata__has_key]=foo&filter[records_count__gte]=0"
           "&filter[resource_type__in]=jobs,syncs&included=files")

    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert api.get(url).status_code == 200
        return len(captured.captured_queries)

    count_queries()  # (the first read of a period also sweeps expired exports)
    few = count_queries()
    for index in range(20):
        Export.objects.create(project=project, resource_type="jobs", format="csv",
                              status="success", records_count=index, metadata={"foo": "bar"},
                              reference=f"bulk-{index}")
    assert count_queries() == few
