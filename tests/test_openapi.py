"""The OpenAPI schema: valid, complete (every route of the URLconf, every grammar parameter,
bodies, error responses, auth schemes), served at /api/v1/schema with Swagger UI at
/api/v1/docs whose assets are served locally."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.request import urlopen

import orjson
import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from syncservice.jsonapi import MEDIA_TYPE
from syncservice.jsonapi.query import readable_field_names, resource_types
from syncservice.jsonapi.views import JsonApiViewSet

API_PREFIX = "api/v1/"
ERROR_REF = {"$ref": "#/components/schemas/ErrorDocument"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


# --- walking the URLconf -------------------------------------------------------------------------

def _regex_to_path(regex: str) -> str:
    """``^jobs/(?P<pk>[^/]+)/?$`` → ``jobs/{pk}``."""
    regex = regex.lstrip("^").removesuffix("$").removesuffix("/?")
    out, index = [], 0
    while index < len(regex):
        if regex.startswith("(?P<", index):
            end = regex.index(">", index)
            name = regex[index + 4:end]
            depth, index = 1, end + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(regex[index], 0)
                index += 1
            out.append("{" + name + "}")
        else:
            out.append(regex[index])
            index += 1
    return "".join(out).replace("\\", "")


def _pattern_path(pattern) -> str:
    text = str(pattern.pattern)
    if isinstance(pattern.pattern, RegexPattern):
        return _regex_to_path(text)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)


def _walk(patterns, prefix=""):
    for pattern in patterns:
        path = prefix + _pattern_path(pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, path)
        elif isinstance(pattern, URLPattern):
            yield path, pattern


def _methods(callback) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return {method for method in actions if method not in ("head", "options")}
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return {method for method in view_class.http_method_names
            if method not in ("head", "options", "trace") and hasattr(view_class, method)}


def api_routes():
    """(OpenAPI path, method, callback) of every route under /api/v1 (format-suffix
    duplicates left out)."""
    for path, pattern in _walk(get_resolver().url_patterns):
        if not path.startswith(API_PREFIX) or "format" in pattern.pattern.regex.groupindex:
            continue
        openapi_path = "/" + re.sub(r"\{pk\}", "{id}", path.rstrip("/"))
        for method in sorted(_methods(pattern.callback)):
            yield openapi_path, method, pattern.callback


def test_regex_to_path():
    assert _regex_to_path("^jobs/(?P<pk>[^/]+)/?$") == "jobs/{pk}"
    assert _regex_to_path(r"^syncs/(?P<sync_pk>[0-9a-f]{8}-?[0-9a-f]{4})/runs/?$") == \
        "syncs/{sync_pk}/runs"


# --- the schema is valid -------------------------------------------------------------------------

def test_schema_validates_with_drf_spectacular(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn`: no generation warning or error."""
    target = tmp_path / "schema.yaml"
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(target))
    assert yaml.safe_load(target.read_text())["openapi"].startswith("3.")


def test_schema_validates_with_openapi_spec_validator(schema):
    from openapi_spec_validator import validate

    validate(orjson.loads(orjson.dumps(schema)))


# --- every route, every method -------------------------------------------------------------------

def test_every_route_is_documented(schema):
    routes = {(path, method) for path, method, _ in api_routes()}
    documented = {(path, method) for path, item in schema["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete")}
    assert routes, "no route under /api/v1?"
    assert routes - documented == set(), "routes missing from the schema"
    assert documented - routes == set(), "schema paths that no route serves"


def test_operation_ids_are_unique(schema):
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


# --- the grammar ---------------------------------------------------------------------------------

def _parameters(schema, path, method) -> dict[str, dict]:
    return {p["name"]: p for p in schema["paths"][path][method].get("parameters", ())}


def _view(callback):
    return getattr(callback, "cls", None)


def test_collections_document_the_grammar(schema):
    collections = 0
    for path, method, callback in api_routes():
        view_class = _view(callback)
        if not (isinstance(view_class, type) and issubclass(view_class, JsonApiViewSet)):
            continue
        action = callback.actions[method]
        view = view_class(action=action)
        serializer_class = view_class.serializer_class
        params = _parameters(schema, path, method)
        if action in view_class.collection_actions:
            collections += 1
            for name in ("page[number]", "page[size]", "count", "fields"):
                assert name in params, (path, name)
            assert params["page[size]"]["schema"]["maximum"] == 1000
            sort_terms = set(params["sort"]["schema"]["items"]["enum"])
            assert sort_terms == {t for n in view.get_ordering_fields() for t in (n, f"-{n}")}
            assert params["sort"]["explode"] is False
            filterset = view_class.filterset_class
            for name in filterset.base_filters if filterset else ():
                assert f"filter[{name}]" in params, (path, name)
            # (and filter[<json attribute>], deepObject: filter[metadata][<key>])
            assert not {n for n in params if n.startswith("filter[")} - {
                f"filter[{n}]" for n in (filterset.base_filters if filterset else ())} - {
                f"filter[{n}]" for n in getattr(filterset, "json_key_filters", ())}
        elif action == "retrieve":
            assert "fields" in params, path
        else:
            continue
        for type_name, type_serializer in resource_types(serializer_class).items():
            fields = params[f"fields[{type_name}]"]["schema"]["items"]["enum"]
            # "" too: `fields[type]=` asks for no fields.
            assert set(fields) == readable_field_names(type_serializer) | {""}
        if getattr(serializer_class, "included_serializers", None):
            assert {"included", "include"} <= set(params), path
            paths = params["included"]["schema"]["items"]["enum"]
            assert set(serializer_class.included_serializers) <= set(paths)
        for name in view_class.extra_query_params.get(action, ()):
            assert name in params, (path, name)
    assert collections >= 8


def test_collection_examples(schema):
    jobs = _parameters(schema, "/api/v1/jobs", "get")
    assert jobs["filter[status__in]"]["schema"]["items"]["enum"] == [
        "pending", "running", "succeeded", "failed", "cancelled"]
    assert jobs["filter[created_at__gte]"]["schema"]["format"] == "date-time"
    assert jobs["included"]["schema"]["items"]["enum"] == ["events", "events.project", "project"]
    syncs = _parameters(schema, "/api/v1/syncs", "get")
    assert "last_run.sync" in syncs["included"]["schema"]["items"]["enum"]
    assert {"q", "status", "provider", "limit", "offset"} <= set(syncs)
    assert _parameters(schema, "/api/v1/exports/formats", "get")["modalities"]["required"]
    assert "file" in _parameters(schema, "/api/v1/exports/{id}/download", "get")


# --- bodies and responses ------------------------------------------------------------------------

def _resolve(schema, node):
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        section = "responses" if "/responses/" in node["$ref"] else "schemas"
        node = schema["components"][section][name]
    return node


@pytest.mark.parametrize(("path", "method", "type_name", "attributes"), [
    ("/api/v1/jobs/{id}/signal", "post", "job-signals", {"signal"}),
    ("/api/v1/syncs/{id}/trigger", "post", "sync-triggers", {"run_mode"}),
    ("/api/v1/exports/export", "post", "exports", {"resource_type", "format", "filters"}),
    ("/api/v1/connections", "post", "connections", {"provider", "name", "config", "secrets"}),
    ("/api/v1/connections/{id}", "patch", "connections", {"name", "config", "secrets"}),
    ("/api/v1/syncs", "post", "syncs", {"name", "entities", "status"}),
    ("/api/v1/sync-runs/{id}/cancel", "post", "sync-run-cancels", {"reason"}),
    ("/api/v1/sync-runs/{id}/retry", "post", "sync-run-retries", {"run_mode"}),
])
def test_request_bodies_are_jsonapi_documents(schema, path, method, type_name, attributes):
    body = schema["paths"][path][method]["requestBody"]
    media_schema = body["content"][MEDIA_TYPE]["schema"]
    if path.endswith(("/trigger", "/cancel", "/retry")):
        # Seed 001's actions: no body, or `{}`, or the document.
        assert body["required"] is False
        media_schema, empty = media_schema["anyOf"]
        assert empty == {"type": "object", "maxProperties": 0,
                         "description": "`{}`: every attribute takes its default."}
    else:
        assert body["required"] is True
    assert list(body["content"]) == [MEDIA_TYPE]
    document = _resolve(schema, media_schema)
    assert document["required"] == ["data"]
    data = document["properties"]["data"]
    assert data["properties"]["type"]["enum"] == [type_name]
    assert attributes <= set(data["properties"]["attributes"]["properties"])
    if method == "patch":
        assert "id" in data["required"]


def test_write_requirements(schema):
    create = schema["paths"]["/api/v1/connections"]["post"]["requestBody"]
    data = _resolve(schema, create["content"][MEDIA_TYPE]["schema"])["properties"]["data"]
    assert data["properties"]["attributes"]["required"] == ["provider", "name"]
    sync = schema["paths"]["/api/v1/syncs"]["post"]["requestBody"]
    data = _resolve(schema, sync["content"][MEDIA_TYPE]["schema"])["properties"]["data"]
    assert data["properties"]["relationships"]["properties"]["connection"]
    assert "requestBody" not in schema["paths"]["/api/v1/connections/{id}/check"]["post"]


def test_responses(schema):
    paths = schema["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert any(code.startswith(("2", "3")) for code in responses), (path, method)
            for code, response in responses.items():
                response = _resolve(schema, response)
                if code == "414":  # the HTTP server's own page
                    assert set(response["content"]) == {"text/html"}
                elif code.startswith("4"):
                    assert response["content"] == {MEDIA_TYPE: {"schema": ERROR_REF}}
            # Transport-level answers any path can give.
            assert {"405", "406", "413", "414", "429"} <= set(responses), (path, method)
            if path.startswith("/api/v1/schema") or path.startswith("/api/v1/docs"):
                continue
            assert {"401"} <= set(responses), (path, method)
            if operation.get("requestBody"):
                assert {"400", "409", "415", "422"} <= set(responses), (path, method)
            if "{" in path:
                assert "404" in responses, (path, method)
    assert set(paths["/api/v1/jobs/{id}"]["delete"]["responses"]) >= {"204", "409"}
    assert "202" in paths["/api/v1/syncs/{id}/trigger"]["post"]["responses"]
    trigger = paths["/api/v1/syncs/{id}/trigger"]["post"]["responses"]["202"]
    assert trigger["content"][MEDIA_TYPE]["schema"]["$ref"].endswith("/SyncRunDocument")
    assert "410" in paths["/api/v1/exports/{id}/download"]["get"]["responses"]
    listing = paths["/api/v1/jobs"]["get"]["responses"]["200"]["content"][MEDIA_TYPE]
    document = _resolve(schema, listing["schema"])
    assert document["properties"]["data"]["type"] == "array"
    assert document["properties"]["links"]["$ref"].endswith("/PaginationLinks")
    resource = _resolve(schema, document["properties"]["data"]["items"])
    assert resource["properties"]["type"]["enum"] == ["jobs"]
    assert "status" in resource["properties"]["attributes"]["properties"]
    assert "project" in resource["properties"]["relationships"]["properties"]
    shared = schema["components"]["responses"]
    assert shared["TooManyRequests"]["headers"]["Retry-After"]["required"] is True
    assert shared["MethodNotAllowed"]["headers"]["Allow"]["required"] is True
    error = schema["components"]["schemas"]["ErrorObject"]
    assert set(error["required"]) == {"status", "code", "title", "detail"}
    assert set(error["properties"]["source"]["properties"]) >= {"pointer", "parameter"}


def test_security_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {**schemes["ApiKeyAuth"], "type": "apiKey", "in": "header",
                                     "name": "X-API-Key"}
    assert schemes["BearerAuth"]["type"] == "http"
    assert schemes["BearerAuth"]["scheme"] == "bearer"
    assert schemes["CookieAuth"] == {**schemes["CookieAuth"], "type": "apiKey", "in": "cookie",
                                     "name": "vai_token"}
    jobs = schema["paths"]["/api/v1/jobs"]["get"]["security"]
    assert {"ApiKeyAuth": []} in jobs and {"BearerAuth": []} in jobs
    assert schema["paths"]["/api/v1/schema"]["get"]["security"] == [{}]


# --- serving -------------------------------------------------------------------------------------

def test_schema_is_served_without_authentication(db):
    client = APIClient()
    response = client.get("/api/v1/schema")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(response.content)["paths"]["/api/v1/jobs"]
    for url, headers in (("/api/v1/schema?format=json", {}),
                         ("/api/v1/schema", {"HTTP_ACCEPT": "application/json"})):
        response = client.get(url, **headers)
        assert response.status_code == 200, url
        assert "json" in response["Content-Type"]
        assert orjson.loads(response.content)["openapi"].startswith("3.")
    # A bad key does not matter; the JSON:API grammar does not apply.
    response = client.get("/api/v1/schema?page[size]=x", HTTP_X_API_KEY="nope")
    assert response.status_code == 200


def test_schema_view_errors_are_jsonapi(db):
    client = APIClient()
    for url, headers, status in (("/api/v1/schema?format=xml", {}, 404),
                                 ("/api/v1/schema", {"HTTP_ACCEPT": "text/csv"}, 406),
                                 ("/api/v1/docs", {"HTTP_ACCEPT": "application/json"}, 406)):
        response = client.get(url, **headers)
        assert response.status_code == status, url
        assert response["Content-Type"] == MEDIA_TYPE
        (error,) = orjson.loads(response.content)["errors"]
        assert error["status"] == str(status)
    response = client.post("/api/v1/schema")
    assert response.status_code == 405
    assert response["Content-Type"] == MEDIA_TYPE


def test_other_routes_still_answer_jsonapi(db):
    client = APIClient()
    response = client.get("/api/v1/jobs")
    assert response.status_code == 401
    assert response["Content-Type"] == MEDIA_TYPE
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"] == MEDIA_TYPE


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_docs_page_and_its_local_assets(live_server):
    with urlopen(f"{live_server.url}/api/v1/docs") as response:  # noqa: S310 - local server
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        html = response.read().decode()
    assert "SwaggerUIBundle" in html
    assert "/api/v1/schema" in html
    parser = _Assets()
    parser.feed(html)
    assert len(parser.urls) >= 3  # CSS, bundle, standalone preset (and the favicon)
    assert any(url.endswith(".css") for url in parser.urls)
    assert any(url.endswith(".js") for url in parser.urls)
    for url in parser.urls:
        assert url.startswith("/static/"), f"{url} is not served locally"
        with urlopen(f"{live_server.url}{url}") as asset:  # noqa: S310 - local server
            assert asset.status == 200, url
            assert len(asset.read()) > 0, url


def test_a_view_documents_its_actions_and_its_subclasses_inherit_them():
    from syncservice.openapi.operations import OperationSpec, document_operations, spec_for

    built = []

    def lazily() -> OperationSpec:
        built.append(1)
        return OperationSpec(status=202)

    @document_operations(destroy=OperationSpec(errors=(409,)), trigger=lazily)
    class Parent:
        pass

    @document_operations(destroy=OperationSpec(errors=(410,)))
    class Child(Parent):
        pass

    assert spec_for(Child, "destroy").errors == (410,)  # its own entry first
    assert spec_for(Parent, "destroy").errors == (409,)  # the parent's is untouched
    assert spec_for(Child, "trigger").status == 202  # inherited, built on first use...
    assert spec_for(Parent, "trigger").status == 202
    assert built == [1]  # ...once
    assert spec_for(Child, "list") is None
