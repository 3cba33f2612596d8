"""Each paginator against a real local server: the requests it makes and where it stops."""

from __future__ import annotations

import json

import httpx
import pytest

from syncs.connectors.http_api.paginators import (
    PAGINATORS,
    CursorPaginator,
    HeaderCursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    Paginator,
    paginator_for,
)
from syncs.connectors.http_api.values import merge_query, select


def walk(server, config: dict, *, path: str = "/items", method: str = "GET", body=None,
         params: dict | None = None, values: dict | None = None) -> list[list]:
    """Every page's records, reading with the paginator ``config`` describes."""
    paginator = paginator_for(config, values, resolve=lambda p: server.url_for(p))
    request = PageRequest(url=server.url_for(path), params=dict(params or {}), body=body,
                          headers={})
    pages = []
    with httpx.Client() as client:
        while True:
            url, query = merge_query(request.url, paginator.params(request))
            response = client.request(method, url, params=query, json=request.body,
                                      headers=request.headers)
            document = response.json()
            records = select(document, "items")
            pages.append(records)
            if not paginator.advance(request, response, document, records):
                return pages
            assert len(pages) < 20, "the paginator does not stop"


def test_the_mapping_picks_one_class_per_type():
    assert {k: v.__name__ for k, v in PAGINATORS.items()} == {
        "none": "Paginator", "page_number": "PageNumberPaginator",
        "offset": "OffsetPaginator", "cursor": "CursorPaginator",
        "next_url": "NextUrlPaginator", "link_header": "LinkHeaderPaginator",
        "header_cursor": "HeaderCursorPaginator"}
    assert type(paginator_for(None)) is Paginator
    assert type(paginator_for({"type": "offset"})) is OffsetPaginator
    with pytest.raises(ValueError, match="unknown pagination type 'pages'"):
        paginator_for({"type": "pages"})


def test_none_makes_one_request(httpserver, answer):
    httpserver.expect_request("/items").respond_with_handler(
        lambda r: answer({"items": [1, 2], "next": "/items?page=2"}))
    assert walk(httpserver, {"type": "none"}) == [[1, 2]]
    assert len(httpserver.log) == 1


def test_page_number_stops_at_a_short_page(httpserver, answer):
    def items(request):
        page, size = int(request.args["p"]), int(request.args["n"])
        rows = list(range(5))[(page - 1) * size: page * size]
        return answer({"items": rows})

    httpserver.expect_request("/items").respond_with_handler(items)
    assert walk(httpserver, {"type": "page_number", "page_param": "p", "size_param": "n",
                             "page_size": 2}, params={"q": "x"}) == [[0, 1], [2, 3], [4]]
    assert [r.args.to_dict() for r, _ in httpserver.log] == [
        {"q": "x", "p": "1", "n": "2"}, {"q": "x", "p": "2", "n": "2"},
        {"q": "x", "p": "3", "n": "2"}]


def test_page_number_with_a_flag_reads_past_short_pages_and_stops_on_it(httpserver, answer):
    def items(request):
        page = int(request.args["page"])
        return answer({"items": [page], "more": page < 3})

    httpserver.expect_request("/items").respond_with_handler(items)
    pages = walk(httpserver, {"type": "page_number", "start_page": 1, "size_param": None,
                              "page_size": "{size}", "has_more_path": "more"},
                 values={"size": 50})
    assert pages == [[1], [2], [3]]
    assert "per_page" not in httpserver.log[0][0].args  # size_param None: not sent


def test_page_number_stops_on_last_page_path_and_on_an_empty_page(httpserver, answer):
    def items(request):
        page = int(request.args["page"])
        return answer({"items": [page] * 2 if page < 3 else [], "last": page == 2})

    httpserver.expect_request("/items").respond_with_handler(items)
    assert walk(httpserver, {"type": "page_number", "page_size": 2,
                             "last_page_path": "last"}) == [[1, 1], [2, 2]]
    httpserver.clear_log()
    assert walk(httpserver, {"type": "page_number", "page_size": 2}) == [[1, 1], [2, 2], []]


def test_offset_advances_by_the_records_read(httpserver, answer):
    def items(request):
        offset, limit = int(request.args["skip"]), int(request.args["take"])
        return answer({"items": list(range(7))[offset: offset + limit]})

    httpserver.expect_request("/items").respond_with_handler(items)
    paginator = {"type": "offset", "offset_param": "skip", "limit_param": "take",
                 "page_size": 3}
    assert walk(httpserver, paginator) == [[0, 1, 2], [3, 4, 5], [6]]
    assert [r.args["skip"] for r, _ in httpserver.log] == ["0", "3", "6"]
    assert isinstance(paginator_for(paginator), OffsetPaginator)


def test_cursor_in_the_query_keeps_the_params_unless_cursor_only(httpserver, answer):
    def items(request):
        at = int(request.args.get("after", 0))
        return answer({"items": [at], "meta": {"next": str(at + 1) if at < 2 else None}})

    httpserver.expect_request("/items").respond_with_handler(items)
    config = {"type": "cursor", "cursor_path": "meta.next", "cursor_param": "after"}
    assert walk(httpserver, config, params={"limit": 5}) == [[0], [1], [2]]
    assert [r.args.to_dict() for r, _ in httpserver.log] == [
        {"limit": "5"}, {"limit": "5", "after": "1"}, {"limit": "5", "after": "2"}]
    httpserver.clear_log()
    assert walk(httpserver, {**config, "cursor_only": True}, params={"limit": 5}) == \
        [[0], [1], [2]]
    assert [r.args.to_dict() for r, _ in httpserver.log][1:] == [{"after": "1"},
                                                                 {"after": "2"}]
    assert isinstance(paginator_for(config), CursorPaginator)


def test_a_repeated_cursor_ends_paging(httpserver, answer):
    httpserver.expect_request("/items").respond_with_handler(
        lambda r: answer({"items": [1], "next": "same"}))
    assert walk(httpserver, {"type": "cursor", "cursor_path": "next"}) == [[1], [1]]


def test_cursor_in_the_body_and_a_continue_path(httpserver, answer):
    bodies = []

    def search(request):
        bodies.append(json.loads(request.data))
        return answer({"items": ["a"], "scroll": "s1"})

    def scroll(request):
        bodies.append(json.loads(request.data))
        return answer({"items": ["b"], "scroll": None})

    httpserver.expect_request("/search", method="POST").respond_with_handler(search)
    httpserver.expect_request("/acct/7/scroll", method="POST").respond_with_handler(scroll)
    pages = walk(httpserver, {"type": "cursor", "cursor_path": "scroll", "cursor_in": "body",
                              "cursor_param": "token", "continue_path": "/acct/{acct}/scroll"},
                 path="/search", method="POST", body={"query": "x"}, values={"acct": 7})
    assert pages == [["a"], ["b"]]
    assert bodies == [{"query": "x"}, {"token": "s1"}]  # the scroll endpoint: the token only

    bodies.clear()
    httpserver.expect_request("/more", method="POST").respond_with_handler(
        lambda r: bodies.append(json.loads(r.data)) or answer(
            {"items": [len(bodies)], "scroll": "t" if len(bodies) < 2 else None}))
    assert walk(httpserver, {"type": "cursor", "cursor_path": "scroll", "cursor_in": "body"},
                path="/more", method="POST", body={"query": "x"}) == [[1], [2]]
    assert bodies == [{"query": "x"}, {"query": "x", "cursor": "t"}]  # merged into the body


def test_next_url_resolves_relative_links_and_drops_the_first_params(httpserver, answer):
    def items(request):
        page = int(request.args.get("page", 1))
        nxt = {1: "?page=2", 2: "/items?page=3", 3: httpserver.url_for("/items?page=4"),
               4: None}[page]
        return answer({"items": [page], "links": {"next": nxt}})

    httpserver.expect_request("/items").respond_with_handler(items)
    assert walk(httpserver, {"type": "next_url", "next_url_path": "links.next"},
                params={"filter": "x"}) == [[1], [2], [3], [4]]
    assert [r.args.to_dict() for r, _ in httpserver.log] == [
        {"filter": "x"}, {"page": "2"}, {"page": "3"}, {"page": "4"}]
    assert isinstance(paginator_for({"type": "next_url"}), NextUrlPaginator)


def test_next_url_keys_with_dots_links_lists_and_a_self_link(httpserver, answer):
    def items(request):
        if request.args.get("p") == "2":
            return answer({"items": [2], "@odata.nextLink": request.url})  # itself: stop
        return answer({"items": [1], "@odata.nextLink": "/items?p=2"})

    httpserver.expect_request("/items").respond_with_handler(items)
    assert walk(httpserver, {"type": "next_url", "next_url_path": "@odata.nextLink"}) == \
        [[1], [2]]


def test_next_url_body_once_sends_the_body_on_the_first_request_only(httpserver, answer):
    seen = []

    def items(request):
        seen.append(request.data)
        return answer({"items": [len(seen)], "next": "/items?p=2" if len(seen) == 1 else None})

    httpserver.expect_request("/items", method="POST").respond_with_handler(items)
    walk(httpserver, {"type": "next_url", "body_once": True}, method="POST", body={"q": 1})
    assert seen == [b'{"q":1}', b""]


def test_link_header(httpserver, answer):
    def items(request):
        page = int(request.args.get("page_info", 1))
        headers = {"Link": f'<{httpserver.url_for("/items")}?page_info={page + 1}>; '
                           f'rel="next", <x>; rel="previous"'} if page < 3 else {}
        return answer({"items": [page]}, headers=headers)

    httpserver.expect_request("/items").respond_with_handler(items)
    assert walk(httpserver, {"type": "link_header"}, params={"limit": 1}) == [[1], [2], [3]]
    assert [r.args.to_dict() for r, _ in httpserver.log][1] == {"page_info": "2"}
    assert isinstance(paginator_for({"type": "link_header"}), LinkHeaderPaginator)


@pytest.mark.parametrize("where", ["request_header", "request_param"])
def test_header_cursor(httpserver, answer, where):
    def items(request):
        token = request.headers.get("X-Cursor") or request.args.get("cursor") or "0"
        nxt = str(int(token) + 1)
        return answer({"items": [int(token)]}, headers={"X-Page-Next": nxt} if nxt < "3"
                      else {})

    httpserver.expect_request("/items").respond_with_handler(items)
    config = {"type": "header_cursor", "response_header": "X-Page-Next"}
    config.update({"request_header": "X-Cursor"} if where == "request_header"
                  else {"request_param": "cursor"})
    assert walk(httpserver, config) == [[0], [1], [2]]
    assert isinstance(paginator_for(config), HeaderCursorPaginator)


def test_counting_paginators_share_the_short_page_rule():
    assert issubclass(PageNumberPaginator, Paginator) and issubclass(OffsetPaginator, Paginator)
