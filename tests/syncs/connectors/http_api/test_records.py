"""Record selection and shaping."""

from __future__ import annotations

from syncs.connectors.http_api.records import select_records, shape_records


def test_select_records():
    document = {"data": {"items": [{"id": 1}]}, "@odata.value": [{"id": 2}], "one": {"id": 3}}
    assert select_records(document, "$.data.items") == [{"id": 1}]
    assert select_records(document, "@odata.value") == [{"id": 2}]
    assert select_records(document, "one") == [{"id": 3}]
    assert select_records(document, "missing.path") == []
    assert select_records([1, 2], "$") == [1, 2]


def test_shaping_flatten_add_drop_keep():
    records = [{"id": 1, "type": "t", "attributes": {"name": "a", "id": "shadowed"},
                "links": {}}, "scalar"]
    stream = {"flatten": "attributes", "add": {"account": "{account}", "ref": "{type}-{id}"},
              "drop": ["links"]}
    shaped = shape_records(stream, records, {"account": 7})
    assert shaped[0] == {"id": 1, "type": "t", "name": "a", "account": 7, "ref": "t-1"}
    assert list(shaped[0]) == ["id", "type", "name", "account", "ref"]  # the record's order
    assert shaped[1] == {"value": "scalar", "account": 7, "ref": "{type}-{id}"}
    assert records[0]["attributes"] == {"name": "a", "id": "shadowed"}  # input untouched
    assert shape_records({"keep": ["id", "x"]}, records[:1], {}) == [{"id": 1, "x": None}]


def test_no_shaping_returns_the_page_as_is():
    page = [{"id": 1}]
    assert shape_records({"name": "s"}, page, {}) is page
