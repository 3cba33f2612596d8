"""Child streams against a real local server: embedded children, ids in chunks, one read per
distinct parent variable set, and the checkpoints of each."""

from __future__ import annotations

from syncs.connectors.http_api import HttpApiSource
from syncs.connectors.http_api.children import (
    EmbeddedChildren,
    IdsChildren,
    VarsChildren,
    child_reader_for,
)

ORDERS = [
    {"id": 1, "customer": "c1", "updated": "2026-01-02T00:00:00Z",
     "lines": [{"sku": "a"}, {"sku": "b"}]},
    {"id": 2, "customer": "c2", "updated": "2026-01-03T00:00:00Z", "lines": {"sku": "c"}},
    {"id": 3, "customer": "c1", "updated": "2026-01-04T00:00:00Z", "lines": ["gift"]},
]


def serve(server, answer):
    server.expect_request("/orders").respond_with_handler(
        lambda r: answer({"data": ORDERS, "next": None}))
    server.expect_request("/customers").respond_with_handler(lambda r: answer(
        {"data": [{"id": c} for c in r.args["ids"].split(",")]}))
    for order in ORDERS:
        server.expect_request(f"/orders/{order['id']}/notes").respond_with_handler(
            lambda r, n=order["id"]: answer({"data": [
                {"note": f"n{n}", "at": f"2026-02-0{n}T00:00:00Z"}]}))


def source(server, child: dict) -> HttpApiSource:
    return HttpApiSource({"base_url": server.url_for("/"), "streams": [
        {"name": "orders", "path": "/orders", "record_selector": "data",
         "cursor_field": "updated"},
        {"name": "child", "record_selector": "data", **child}]}, {})


def test_readers_are_picked_by_the_parent_config(httpserver):
    src = source(httpserver, {"path": "/x"})
    for parent, cls in (({"stream": "orders", "embedded": "lines"}, EmbeddedChildren),
                        ({"stream": "orders", "ids": {"field": "id"}}, IdsChildren),
                        ({"stream": "orders", "vars": {"id": "id"}}, VarsChildren)):
        assert type(child_reader_for(src, {"parent": parent}, cursor=None, window=None)) is cls


def test_embedded_children_carry_parent_fields_and_the_parent_checkpoint(httpserver, answer):
    serve(httpserver, answer)
    src = source(httpserver, {"path": "/orders", "parent": {
        "stream": "orders", "embedded": "lines", "fields": {"order_id": "id"}}})
    batches = list(src.read("child"))
    assert [b.records for b in batches] == [[
        {"sku": "a", "order_id": 1}, {"sku": "b", "order_id": 1}, {"sku": "c", "order_id": 2},
        {"value": "gift", "order_id": 3}]]
    assert batches[0].cursor == "2026-01-04T00:00:00Z"  # the parents' cursor
    assert [r.path for r, _ in httpserver.log] == ["/orders"]  # no child requests


def test_ids_are_requested_in_chunks_without_duplicates(httpserver, answer):
    serve(httpserver, answer)
    src = source(httpserver, {"path": "/customers", "parent": {
        "stream": "orders", "ids": {"field": "customer", "param": "ids", "chunk": 1}}})
    assert [r for b in src.read("child") for r in b.records] == [{"id": "c1"}, {"id": "c2"}]
    assert [r.args.get("ids") for r, _ in httpserver.log] == [None, "c1", "c2"]


def test_vars_fill_the_path_once_per_parent(httpserver, answer):
    serve(httpserver, answer)
    src = source(httpserver, {"path": "/orders/{order_id}/notes", "parent": {
        "stream": "orders", "vars": {"order_id": "id"}, "fields": {"customer": "customer"}}})
    records = [r for b in src.read("child", cursor="2026-01-01T00:00:00Z") for r in b.records]
    assert records == [{"note": "n1", "at": "2026-02-01T00:00:00Z", "customer": "c1"},
                       {"note": "n2", "at": "2026-02-02T00:00:00Z", "customer": "c2"},
                       {"note": "n3", "at": "2026-02-03T00:00:00Z", "customer": "c1"}]


def test_own_cursor_reads_all_parents_and_checkpoints_the_childrens_cursor(httpserver, answer):
    serve(httpserver, answer)
    src = source(httpserver, {"path": "/orders/{order_id}/notes", "cursor_field": "at",
                              "client_filter": True, "parent": {
                                  "stream": "orders", "vars": {"order_id": "id"},
                                  "own_cursor": True}})
    batches = list(src.read("child", cursor="2026-02-01T12:00:00Z"))
    assert [r["note"] for r in batches[0].records] == ["n2", "n3"]  # n1 is before the cursor
    assert batches[0].cursor == "2026-02-01T12:00:00Z"
    assert batches[-1].records == [] and batches[-1].cursor == "2026-02-03T00:00:00Z"
    assert httpserver.log[0][0].args.to_dict() == {}  # the parents: read in full
