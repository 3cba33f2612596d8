"""The Atomic Operations extension: POST /api/v1/operations writes connections and syncs in
one transaction, with the single-resource endpoints' own rules."""

import orjson
import pytest

from syncs.models import Connection, Sync, TableBinding
from tests.conftest import MEDIA_TYPE, body, error_of

ATOMIC = f'{MEDIA_TYPE}; ext="https://jsonapi.org/ext/atomic"'


def operate(api, operations, content_type=ATOMIC, **extra):
    return api.post("/api/v1/operations", data=orjson.dumps({"atomic:operations": operations}),
                    content_type=content_type, **extra)


def add_connection(config, name="shop", lid="conn"):
    return {"op": "add", "data": {"type": "connections", "lid": lid, "attributes": {
        "provider": "http_api", "name": name, "config": config,
        "secrets": {"token": "good-token"}}}}


def add_sync(lid="conn", **attributes):
    return {"op": "add", "data": {"type": "syncs", "attributes": {
        "name": "Orders", "entities": ["orders"], "status": "active", **attributes},
        "relationships": {"connection": {"data": {"type": "connections", "lid": lid}}}}}


def test_a_connection_and_its_sync_in_one_request(api, shop_config):
    response = operate(api, [add_connection(shop_config), add_sync()])
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == ATOMIC
    connection, sync = (result["data"] for result in body(response)["atomic:results"])
    assert connection["type"] == "connections" and sync["type"] == "syncs"
    assert sync["relationships"]["connection"]["data"] == {"type": "connections",
                                                           "id": connection["id"]}
    assert "secrets" not in connection["attributes"]
    # The same resource objects the single-resource endpoints answer.
    assert body(api.get(f"/api/v1/syncs/{sync['id']}"))["data"] == sync
    stored = Sync.objects.get(pk=sync["id"])
    assert str(stored.connection_id) == connection["id"]
    assert list(TableBinding.objects.filter(sync=stored).values_list("entity_key", flat=True)) \
        == ["orders"]


def test_a_failing_operation_rolls_back_the_earlier_ones(api, shop_config):
    response = operate(api, [add_connection(shop_config), add_sync(entities=["nope"])])
    error = error_of(response, 422)
    assert error["source"] == {"pointer": "/atomic:operations/1/data/attributes/entities/0"}
    assert not Connection.objects.exists() and not Sync.objects.exists()


def test_conflicts_are_409_pointing_at_the_operation(api, shop_config):
    response = operate(api, [add_connection(shop_config, lid="a"),
                             add_connection(shop_config, lid="b")])
    error = error_of(response, 409)
    assert error["source"]["pointer"].startswith("/atomic:operations/1")
    assert not Connection.objects.exists()


def test_update_and_remove(api, shop_config):
    created = body(operate(api, [add_connection(shop_config), add_sync()]))["atomic:results"]
    connection, sync = (result["data"] for result in created)
    response = operate(api, [
        {"op": "update", "data": {"type": "connections", "id": connection["id"],
                                  "attributes": {"name": "renamed"}}},
        {"op": "update", "ref": {"type": "syncs", "id": sync["id"]},
         "data": {"type": "syncs", "id": sync["id"], "attributes": {"status": "paused"}}},
        {"op": "remove", "ref": {"type": "syncs", "id": sync["id"]}},
    ])
    assert response.status_code == 200, response.content
    first, second, third = body(response)["atomic:results"]
    assert first["data"]["attributes"]["name"] == "renamed"
    assert second["data"]["attributes"]["status"] == "paused"
    assert third == {}
    assert Sync.objects.get(pk=sync["id"]).status == "archived"  # DELETE archives a sync
    # The connection's delete rule holds here too (a sync uses it): 409, and the rename
    # before it is rolled back.
    response = operate(api, [
        {"op": "update", "data": {"type": "connections", "id": connection["id"],
                                  "attributes": {"name": "again"}}},
        {"op": "remove", "ref": {"type": "connections", "id": connection["id"]}}])
    error = error_of(response, 409)
    assert error["source"] == {"pointer": "/atomic:operations/1"}
    assert Connection.objects.get(pk=connection["id"]).name == "renamed"


def test_a_lid_names_an_added_resource_in_later_updates(api, shop_config):
    response = operate(api, [
        add_connection(shop_config),
        {"op": "update", "data": {"type": "connections", "lid": "conn",
                                  "attributes": {"name": "patched"}}},
        {"op": "remove", "ref": {"type": "connections", "lid": "conn"}}])
    assert response.status_code == 200, response.content
    assert body(response)["atomic:results"][1]["data"]["attributes"]["name"] == "patched"
    assert not Connection.objects.exists()


def test_read_scope_and_tenancy_are_the_endpoints_own(api, other_api, project, make_key,
                                                      make_client, shop_config):
    reader = make_client(make_key(project, scope="read"))
    assert operate(reader, [add_connection(shop_config)]).status_code == 403
    connection = body(operate(api, [add_connection(shop_config)]))["atomic:results"][0]["data"]
    response = operate(other_api, [
        {"op": "update", "data": {"type": "connections", "id": connection["id"],
                                  "attributes": {"name": "stolen"}}}])
    error = error_of(response, 404)
    assert error["source"]["pointer"].startswith("/atomic:operations/0")
    assert Connection.objects.get().name == "shop"
    assert operate(make_client(), [add_connection(shop_config)]).status_code == 401


@pytest.mark.parametrize("operations,status,pointer", [
    ([{"op": "nope"}], 400, "/atomic:operations/0/op"),
    ([{"op": "add", "data": {"type": "jobs", "attributes": {}}}], 422,
     "/atomic:operations/0/data/type"),
    ([{"op": "add", "data": "x"}], 400, "/atomic:operations/0/data"),
    ([{"op": "remove"}], 400, "/atomic:operations/0"),
    ([{"op": "remove", "ref": {"type": "connections", "lid": "ghost"}}], 400,
     "/atomic:operations/0/ref/lid"),
    ([{"op": "update", "ref": {"type": "syncs", "id": "x", "relationship": "connection"},
       "data": None}], 400, "/atomic:operations/0/ref/relationship"),
    ([{"op": "add", "href": "/x", "data": {}}], 400, "/atomic:operations/0/href"),
    ([{"op": "add", "data": {"type": "connections"}, "extra": 1}], 400,
     "/atomic:operations/0/extra"),
    ([], 400, "/atomic:operations"),
    (["x"], 400, "/atomic:operations/0"),
])
def test_malformed_operations(api, operations, status, pointer):
    error = error_of(operate(api, operations), status)
    assert error["source"] == {"pointer": pointer}


def test_unknown_attribute_is_the_endpoints_422(api, shop_config):
    operation = add_connection(shop_config)
    operation["data"]["attributes"]["colour"] = "red"
    error = error_of(operate(api, [operation]), 422)
    assert error["source"] == {"pointer": "/atomic:operations/0/data/attributes/colour"}


def test_duplicate_lid_is_400(api, shop_config):
    error = error_of(operate(api, [add_connection(shop_config, name="a"),
                                   add_connection(shop_config, name="b")]), 400)
    assert error["source"] == {"pointer": "/atomic:operations/1/data/lid"}
    assert not Connection.objects.exists()


# --- media types ----------------------------------------------------------------------------

def test_operations_need_the_extension(api, shop_config):
    error_of(operate(api, [add_connection(shop_config)], content_type=MEDIA_TYPE), 415)
    error_of(operate(api, [add_connection(shop_config)],
                     content_type=f'{MEDIA_TYPE}; ext="https://example.com/other"'), 415)
    assert not Connection.objects.exists()


def test_other_endpoints_refuse_the_extension(api, shop_config):
    document = {"data": {"type": "connections", "attributes": {
        "provider": "http_api", "name": "x", "config": shop_config}}}
    for ext in ("https://jsonapi.org/ext/atomic", "https://example.com/other"):
        response = api.post("/api/v1/connections", data=orjson.dumps(document),
                            content_type=f'{MEDIA_TYPE}; ext="{ext}"')
        error_of(response, 415)
    assert not Connection.objects.exists()
    # Profiles are fine (a client announcing the cursor pagination profile).
    response = api.post("/api/v1/connections", data=orjson.dumps(document),
                        content_type=f'{MEDIA_TYPE}; profile="https://jsonapi.org/profiles/'
                                     'ethanresnick/cursor-pagination/"')
    assert response.status_code == 201, response.content


def test_accept_with_an_unsupported_extension_is_406(api):
    error_of(api.get("/api/v1/connections",
                     HTTP_ACCEPT=f'{MEDIA_TYPE}; ext="https://jsonapi.org/ext/atomic"'), 406)
    assert api.get("/api/v1/connections", HTTP_ACCEPT=f'{MEDIA_TYPE}; ext="https://x", '
                                                      f"{MEDIA_TYPE}").status_code == 200


def test_operations_answer_with_the_extension_when_accepted(api, shop_config):
    response = operate(api, [add_connection(shop_config)], HTTP_ACCEPT=ATOMIC)
    assert response.status_code == 200 and response["Content-Type"] == ATOMIC


def test_operations_are_in_the_openapi_document(api):
    schema = orjson.loads(api.get("/api/v1/schema?format=json").content)
    operation = schema["paths"]["/api/v1/operations"]["post"]
    assert ATOMIC in operation["requestBody"]["content"]
    assert ATOMIC in operation["responses"]["200"]["content"]
    request = schema["components"]["schemas"]["AtomicOperationsRequest"]
    forms = request["properties"]["atomic:operations"]["items"]["oneOf"]
    assert {tuple(f["properties"]["op"]["enum"]) for f in forms} == {
        ("add",), ("update",), ("remove",)}
    assert set(forms[0]["properties"]["data"]["properties"]["type"]["enum"]) == {
        "connections", "syncs", "table-bindings"}
    assert "lid" in operation["description"]
    binding = schema["paths"]["/api/v1/table-bindings"]["post"]
    assert binding["requestBody"]["content"][MEDIA_TYPE]["example"]["data"]["relationships"]


# --- table bindings ---------------------------------------------------------------------------

def add_binding(entity="customers", sync_lid="sync", **attributes):
    return {"op": "add", "data": {"type": "table-bindings", "lid": f"bind-{entity}",
                                  "attributes": {"entity_key": entity, **attributes},
                                  "relationships": {"sync": {"data": {"type": "syncs",
                                                                      "lid": sync_lid}}}}}


def test_connection_sync_and_binding_in_one_request(api, shop_config):
    sync_op = add_sync()
    sync_op["data"]["lid"] = "sync"
    response = operate(api, [add_connection(shop_config), sync_op,
                             add_binding(logical_table_name="shop_customers",
                                         load_mode="upsert", primary_key_columns=["id"])])
    assert response.status_code == 200, response.content
    binding = body(response)["atomic:results"][2]["data"]
    assert binding["type"] == "table-bindings"
    assert binding["attributes"]["logical_table_name"] == "shop_customers"
    sync = Sync.objects.get()
    assert sync.entities == ["orders", "customers"]
    assert body(api.get(f"/api/v1/table-bindings/{binding['id']}"))["data"] == binding
    # update, then remove: the entity leaves the sync.
    response = operate(api, [
        {"op": "update", "data": {"type": "table-bindings", "id": binding["id"],
                                  "attributes": {"load_mode": "append_event"}}},
        {"op": "remove", "ref": {"type": "table-bindings", "id": binding["id"]}}])
    assert response.status_code == 200, response.content
    assert body(response)["atomic:results"][0]["data"]["attributes"]["load_mode"] \
        == "append_event"
    sync.refresh_from_db()
    assert sync.entities == ["orders"]
    assert list(sync.table_bindings.values_list("entity_key", flat=True)) == ["orders"]


@pytest.mark.parametrize("attributes,status,pointer", [
    ({"entity_key": "nope"}, 422, "/atomic:operations/2/data/attributes/entity_key"),
    ({"entity_key": "customers", "load_mode": "upsert", "primary_key_columns": []}, 422,
     "/atomic:operations/2/data/attributes/primary_key_columns"),
    ({"entity_key": "customers", "load_mode": "sideways"}, 422,
     "/atomic:operations/2/data/attributes/load_mode"),
    ({"entity_key": "orders"}, 409, "/atomic:operations/2"),
])
def test_binding_rules_are_the_syncs(api, shop_config, attributes, status, pointer):
    sync_op = add_sync()
    sync_op["data"]["lid"] = "sync"
    binding = add_binding()
    binding["data"]["attributes"] = attributes
    error = error_of(operate(api, [add_connection(shop_config), sync_op, binding]), status)
    assert error["source"] == {"pointer": pointer}
    assert not Sync.objects.exists() and not Connection.objects.exists()


def test_bindings_endpoint(api, other_api, shop_config):
    sync_op = add_sync()
    sync_op["data"]["lid"] = "sync"
    created = body(operate(api, [add_connection(shop_config), sync_op]))["atomic:results"]
    sync = created[1]["data"]
    document = {"data": {"type": "table-bindings", "attributes": {"entity_key": "customers"},
                         "relationships": {"sync": {"data": {"type": "syncs",
                                                             "id": sync["id"]}}}}}
    # Another project's sync is not found.
    error = error_of(other_api.post("/api/v1/table-bindings", data=orjson.dumps(document),
                                    content_type=MEDIA_TYPE), 404)
    assert error["source"] == {"pointer": "/data/relationships/sync"}
    response = api.post("/api/v1/table-bindings", data=orjson.dumps(document),
                        content_type=MEDIA_TYPE)
    assert response.status_code == 201, response.content
    binding = body(response)["data"]
    assert binding["relationships"]["sync"]["data"] == {"type": "syncs", "id": sync["id"]}
    error_of(other_api.delete(f"/api/v1/table-bindings/{binding['id']}"), 404)
    response = api.patch(f"/api/v1/table-bindings/{binding['id']}", data=orjson.dumps(
        {"data": {"type": "table-bindings", "id": binding["id"],
                  "attributes": {"entity_key": "orders"}}}), content_type=MEDIA_TYPE)
    assert error_of(response, 422)["source"] == {"pointer": "/data/attributes/entity_key"}
    assert api.delete(f"/api/v1/table-bindings/{binding['id']}").status_code == 204
    assert Sync.objects.get().entities == ["orders"]


@pytest.mark.parametrize("client_id", ["", "abc", "3f0c8c1e-2d7e-4a8e-9a53-1f7d0f0b6a11"])
def test_bug_an_add_with_an_id_is_judged_by_the_collection(api, shop_config, client_id):
    """Was a 500 (found by the fuzz test's lifecycle scenario): an add's `id` became the
    path's pk of the collection's create. The answer is now the collection endpoint's own for
    the same document."""
    document = {"type": "syncs", "id": client_id, "attributes": {"name": "Orders"},
                "relationships": {}}
    direct = api.post("/api/v1/syncs", data=orjson.dumps({"data": document}),
                      content_type=MEDIA_TYPE)
    response = operate(api, [{"op": "add", "data": {**document, "lid": "s"}}])
    assert 400 <= direct.status_code < 500, direct.content
    error = error_of(response, direct.status_code)
    assert error["detail"] == body(direct)["errors"][0]["detail"]
    assert error["source"]["pointer"].startswith("/atomic:operations/0")
    assert not Sync.objects.exists()
