from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import body, error_of


def page_of(link: str) -> dict:
    query = parse_qs(urlsplit(link).query)
    return {"number": int(query["page[number]"][0]), "size": int(query["page[size]"][0])}


def titles(document) -> list[str]:
    return [item["attributes"]["title"] for item in document["data"]]


def test_default_page_is_everything_up_to_1000(api, library):
    document = body(api.get("/api/v1/books"))
    assert len(document["data"]) == 12
    assert "next" not in document["links"] and "prev" not in document["links"]
    assert page_of(document["links"]["first"]) == {"number": 1, "size": 1000}
    assert "meta" not in document


def test_pages_walk_the_collection_without_overlap(api, library):
    seen = []
    url = "/api/v1/books?page[size]=5&sort=-pages"
    pages = 0
    while url:
        document = body(api.get(url))
        seen += titles(document)
        pages += 1
        url = document["links"].get("next")
    assert pages == 3
    assert seen == [f"Book {i:02d}" for i in range(11, -1, -1)]


def test_prev_and_next_links(api, library):
    document = body(api.get("/api/v1/books?page[number]=2&page[size]=5"))
    assert page_of(document["links"]["prev"]) == {"number": 1, "size": 5}
    assert page_of(document["links"]["next"]) == {"number": 3, "size": 5}
    assert "page[number]=3" in document["links"]["next"]  # readable, as the reference


def test_page_past_the_end_is_empty_not_404(api, library):
    response = api.get("/api/v1/books?page[number]=99&page[size]=5")
    assert response.status_code == 200
    document = body(response)
    assert document["data"] == []
    assert "next" not in document["links"]


@pytest.mark.parametrize("parameter,value", [
    ("page[size]", "0"), ("page[size]", "-1"), ("page[size]", "1001"), ("page[size]", "abc"),
    ("page[size]", "1.5"), ("page[number]", "0"), ("page[number]", "-3"), ("page[number]", "x"),
    ("page[number]", ""),
])
def test_bad_page_values_are_400_with_parameter(api, library, parameter, value):
    error = error_of(api.get(f"/api/v1/books?{parameter}={value}"), 400)
    assert error["source"] == {"parameter": parameter}


def test_count_true_adds_totals_and_last(api, library):
    document = body(api.get("/api/v1/books?page[size]=5&count=true"))
    assert document["meta"] == {"record_count": 12, "page_count": 3}
    assert page_of(document["links"]["last"]) == {"number": 3, "size": 5}


def test_count_false_is_like_absent(api, library):
    document = body(api.get("/api/v1/books?count=false"))
    assert "meta" not in document and "last" not in document["links"]


@pytest.mark.parametrize("value", ["yes", "1", "", "TRUEISH"])
def test_count_other_values_are_400(api, library, value):
    error = error_of(api.get(f"/api/v1/books?count={value}"), 400)
    assert error["source"] == {"parameter": "count"}


def _sql(api, url) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).status_code == 200
    return [q["sql"].upper() for q in ctx.captured_queries]


def test_no_count_query_without_count(api, library):
    assert not any("COUNT(" in sql for sql in _sql(api, "/api/v1/books?page[size]=5"))
    assert any("COUNT(" in sql for sql in _sql(api, "/api/v1/books?page[size]=5&count=true"))


def test_next_link_decided_by_one_extra_row(api, library):
    limits = [sql for sql in _sql(api, "/api/v1/books?page[size]=4") if "TESTAPP_BOOK" in sql]
    assert any("LIMIT 5" in sql for sql in limits), limits
    assert "next" not in body(api.get("/api/v1/books?page[size]=12"))["links"]
    assert "next" in body(api.get("/api/v1/books?page[size]=11"))["links"]
