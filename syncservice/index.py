"""``GET /`` and ``GET /api/v1/``: where to go from here, instead of a bare 404.

A JSON:API document without primary data: ``links`` to the docs (Swagger UI), the OpenAPI
schema (also ``describedby``), every collection under ``/api/v1`` (found in the URL
configuration, so a new collection shows up by itself) and the admin; ``meta`` says how to
authenticate. A browser (``Accept`` naming ``text/html`` before any JSON type) gets the same
links as a small HTML page. No authentication: it shows only what the OpenAPI document
publishes anyway.
"""

from __future__ import annotations

import functools

import orjson
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.html import format_html, format_html_join

from syncservice.jsonapi import JSONAPI_VERSION, MEDIA_TYPE

API_PREFIX = "api/v1/"
_SEPARATE = ("openapi-schema", "openapi-docs")  # linked as docs / schema


def _get_served(callback) -> bool:
    """A route whose GET lists something: a viewset's ``list`` or a plain API view's ``get``
    (not a viewset's other GET actions, which take parameters of their own)."""
    actions = getattr(callback, "actions", None)
    if actions is not None:
        return actions.get("get") == "list"
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return view_class is not None and hasattr(view_class, "get")


def _literal_path(pattern) -> str | None:
    """The path a pattern matches when it takes no parameter (``^jobs/?$`` → ``jobs``)."""
    regex = pattern.pattern.regex
    if regex.groups or getattr(pattern.pattern, "converters", None):
        return None
    text = str(pattern.pattern)
    if text.startswith("^"):
        text = text[1:].removesuffix("$").removesuffix("/?")
        if any(char in text for char in "\\[](){}?*+|^$."):
            return None
    return text.rstrip("/")


@functools.cache
def collections() -> tuple[str, ...]:
    """The path under /api/v1/ of every collection, in URL order: computed once."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if _literal_path(pattern) is not None:
                    walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and prefix == API_PREFIX:
                path = _literal_path(pattern)
                name = pattern.name or ""
                if path and path not in found and name not in _SEPARATE \
                        and "alias" not in name and _get_served(pattern.callback):
                    found.append(path)

    walk(get_resolver().url_patterns, "")
    return tuple(found)


def _links(request: HttpRequest) -> dict[str, str]:
    absolute = request.build_absolute_uri
    links = {"self": absolute(request.path),
             "describedby": absolute(reverse("openapi-schema")),
             "docs": absolute(reverse("openapi-docs")),
             "schema": absolute(reverse("openapi-schema"))}
    for path in collections():
        links[path] = absolute(f"/{API_PREFIX}{path}")
    links["admin"] = absolute("/admin/")
    links["health"] = absolute("/healthz")
    return links


META = {
    "name": "Sync service",
    "description": "Imports data sets from external systems (syncs), exports data sets as "
                   "files (exports), runs both on a job queue (jobs). Every resource is "
                   "JSON:API 1.1 under /api/v1.",
    "authentication": "Send an API key as `X-API-Key: <key>` or `Authorization: Bearer "
                      "<key>` (`make run` prints one; `manage.py create_api_key` makes one).",
}


def _wants_html(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    html = accept.find("text/html")
    if html < 0:
        return False
    json_types = [i for i in (accept.find(MEDIA_TYPE), accept.find("application/json"))
                  if i >= 0]
    return not json_types or html < min(json_types)


def _html(links: dict[str, str]) -> str:
    rows = format_html_join("\n", '<li><a href="{}">{}</a> <code>{}</code></li>',
                            ((url, name, url) for name, url in links.items()
                             if name not in ("self", "describedby")))
    return format_html(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n"
        "<body><h1>{}</h1><p>{}</p><p>{}</p>\n<ul>\n{}\n</ul></body></html>\n",
        META["name"], META["name"], META["description"], META["authentication"], rows)


def api_index(request: HttpRequest) -> HttpResponse:
    links = _links(request)
    if _wants_html(request):
        response = HttpResponse(_html(links), content_type="text/html; charset=utf-8")
    else:
        document = {"jsonapi": {"version": JSONAPI_VERSION}, "meta": META, "links": links}
        response = HttpResponse(orjson.dumps(document), content_type=MEDIA_TYPE)
    response["Vary"] = "Accept"
    return response
