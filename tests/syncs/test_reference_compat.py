"""Seed 001 compatibility: ``limit``/``offset`` as a pagination family of its own (syncs:
default 50, runs: default 25, limit 1–100) with links in the family the client used, errors
naming the parameter sent (``provider``), and ``include=last_run`` whatever the fieldset."""

from urllib.parse import parse_qs, urlsplit

import pytest

from syncs.models import Sync, SyncRun
from tests.conftest import body, error_of


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["attributes"]["name"] for item in body(response)["data"]]


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


@pytest.fixture
def five_syncs(make_sync):
    return [make_sync(name=f"Sync {index}") for index in range(5)]


def test_links_stay_in_the_limit_offset_family(api, five_syncs):
    document = body(api.get("/api/v1/syncs?limit=1&offset=1&count=true"))
    assert [item["attributes"]["name"] for item in document["data"]] == ["Sync 1"]
    links = document["links"]
    assert query_of(links["first"]) == {"limit": ["1"], "offset": ["0"], "count": ["true"]}
    assert query_of(links["prev"])["offset"] == ["0"]
    assert query_of(links["next"])["offset"] == ["2"]
    assert query_of(links["last"])["offset"] == ["4"]
    assert not any("page[" in link for link in links.values())
    # `first` is the first record (it used to be the second).
    assert names(api.get(links["first"])) == ["Sync 0"]
    assert names(api.get(links["last"])) == ["Sync 4"]


def test_following_next_reaches_every_record_once(api, five_syncs):
    seen, url = [], "/api/v1/syncs?limit=2&offset=1"
    while url:
        document = body(api.get(url))
        seen += [item["attributes"]["name"] for item in document["data"]]
        url = document["links"].get("next")
    assert seen == [f"Sync {index}" for index in range(1, 5)]


def test_offset_alone_pages_by_the_default_limit(api, five_syncs):
    document = body(api.get("/api/v1/syncs?offset=3"))
    assert [i["attributes"]["name"] for i in document["data"]] == ["Sync 3", "Sync 4"]
    assert query_of(document["links"]["first"])["limit"] == ["50"]


def test_page_family_links_unchanged(api, five_syncs):
    document = body(api.get("/api/v1/syncs?page[size]=2&page[number]=2"))
    assert query_of(document["links"]["prev"]) == {"page[number]": ["1"], "page[size]": ["2"]}
    assert query_of(document["links"]["next"]) == {"page[number]": ["3"], "page[size]": ["2"]}


@pytest.mark.parametrize("query, parameter", [
    ("offset=1&page[size]=1", "page[size]"),
    ("page[number]=2&limit=5", "limit"),
    ("limit=0", "limit"),
    ("limit=101", "limit"),
    ("limit=x", "limit"),
    ("offset=-1", "offset"),
    ("offset=1&offset=2", "offset"),
])
def test_bad_or_mixed_parameters_name_the_parameter(api, five_syncs, query, parameter):
    error = error_of(api.get(f"/api/v1/syncs?{query}"), 400)
    assert error["source"] == {"parameter": parameter}


def test_limit_bounds(api, five_syncs):
    assert len(names(api.get("/api/v1/syncs?limit=100"))) == 5
    assert names(api.get("/api/v1/syncs?limit=1")) == ["Sync 0"]


def test_limit_offset_only_where_the_reference_has_it(api):
    error = error_of(api.get("/api/v1/jobs?limit=1"), 400)
    assert error["source"] == {"parameter": "limit"}


@pytest.fixture
def thirty_runs(make_sync):
    sync = Sync.objects.get(pk=make_sync()["id"])
    runs = [SyncRun.objects.create(project=sync.project, sync=sync, status="succeeded")
            for _ in range(30)]
    return sync, runs


def test_runs_of_a_sync_page_by_limit_and_offset(api, thirty_runs):
    sync, runs = thirty_runs
    url = f"/api/v1/syncs/{sync.pk}/runs"
    newest_first = [str(run.pk) for run in reversed(runs)]
    document = body(api.get(f"{url}?offset=0"))
    assert [item["id"] for item in document["data"]] == newest_first[:25]  # 001's default
    assert query_of(document["links"]["next"]) == {"limit": ["25"], "offset": ["25"]}
    document = body(api.get(document["links"]["next"]))
    assert [item["id"] for item in document["data"]] == newest_first[25:]
    assert "next" not in document["links"]
    document = body(api.get(f"{url}?limit=10&offset=5"))
    assert [item["id"] for item in document["data"]] == newest_first[5:15]
    assert error_of(api.get(f"{url}?limit=101"), 400)["source"] == {"parameter": "limit"}
    # Without limit/offset: the page family and its default.
    assert len(body(api.get(url))["data"]) == 30


def test_provider_errors_name_the_parameter_sent(api, five_syncs):
    error = error_of(api.get("/api/v1/syncs?provider=bogus"), 400)
    assert error["source"] == {"parameter": "provider"}
    error = error_of(api.get("/api/v1/syncs?status=bogus"), 400)
    assert error["source"] == {"parameter": "status"}
    error = error_of(api.get("/api/v1/syncs?filter[provider__in]=bogus"), 400)
    assert error["source"] == {"parameter": "filter[provider__in]"}
    error = error_of(api.get("/api/v1/syncs?provider=http_api&filter[provider__in]=s3"), 400)
    assert error["source"] == {"parameter": "provider"}


def test_openapi_documents_the_families(db):
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)

    def parameters(path):
        return {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}

    syncs = parameters("/api/v1/syncs")
    assert syncs["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100,
                                        "default": 50}
    runs = parameters("/api/v1/syncs/{sync_pk}/runs")
    assert runs["limit"]["schema"]["default"] == 25
    assert "offset" in runs and "page[number]" in runs
    assert "limit" not in parameters("/api/v1/jobs")


def test_last_run_included_when_the_fieldset_leaves_it_out(api, make_sync):
    sync = make_sync()
    run_id = body(api.post(f"/api/v1/syncs/{sync['id']}/trigger", data=b"{}",
                           content_type="application/vnd.api+json"))["data"]["id"]
    for url in ("/api/v1/syncs?include=last_run&fields[syncs]=name",
                f"/api/v1/syncs/{sync['id']}?include=last_run&fields=name"):
        document = body(api.get(url))
        data = document["data"][0] if isinstance(document["data"], list) else document["data"]
        assert data["attributes"] == {"name": "Shop orders"}
        assert "relationships" not in data
        assert [(i["type"], i["id"]) for i in document["included"]] == [("sync-runs", run_id)]
