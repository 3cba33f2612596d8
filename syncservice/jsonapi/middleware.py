"""Transport-level limits, answered before any view runs, as JSON:API error documents:

- a request whose declared body (``Content-Length``) exceeds ``API_MAX_BODY_BYTES`` on an API
  path → 413, without reading the body (bodies without a length are cut at the limit by the
  parser, and Django's own ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 too: see ``errors``);
- a method no view of the service serves (``TRACE``, ``CONNECT``, any other token) → 405 with
  the path's ``Allow`` header, before authentication (the methods of a path are public: they
  are in the OpenAPI document). Standard methods a path does not serve are answered 405 by the
  views themselves (``JsonApiViewSet.initial``).

Request lines longer than the HTTP server's limit never reach Django: gunicorn answers 414
itself (``--limit-request-line``, 4094 bytes by default), as the OpenAPI document says.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from syncservice.jsonapi.errors import json_error, too_large_detail

SERVED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Paths whose errors stay Django's own (HTML): the admin and static files.
_NOT_API = ("/admin/", "/static/", "/media/")
# What an early 413 still reads of the body it refuses, so the client reads the answer
# instead of a connection reset; a larger body is left unread (the connection closes).
DRAIN_BYTES = 16 * 1024 * 1024


def allowed_methods(path: str) -> list[str] | None:
    """The methods the view at ``path`` serves, or None when no view (or an unknown kind of
    view) is there."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    func = match.func
    declared = getattr(func, "allowed_methods", None)  # plain views (see syncservice.urls)
    if declared is not None:
        return list(declared)
    view_class = getattr(func, "cls", None)
    if view_class is None:
        return None
    actions = getattr(func, "actions", None)
    if actions is not None:  # a DRF viewset route: its method -> action map
        methods = [method.upper() for method in actions]
        if "GET" in methods and "HEAD" not in methods:
            methods.append("HEAD")
    else:
        names = view_class.http_method_names
        methods = [method.upper() for method in names if hasattr(view_class, method)]
        if "GET" in methods and "head" in names and "HEAD" not in methods:
            methods.append("HEAD")  # Django serves HEAD with GET
    if "OPTIONS" not in methods and hasattr(view_class, "options") \
            and "options" in view_class.http_method_names:
        methods.append("OPTIONS")
    return [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
            if m in methods]


def _drain(request: HttpRequest, length: int) -> None:
    if length > DRAIN_BYTES:
        return
    left = length
    try:
        while left > 0:
            chunk = request.read(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)
    except OSError:
        pass


class RequestLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(_NOT_API):
            return self.get_response(request)
        if request.method not in SERVED_METHODS:
            methods = allowed_methods(path)
            if methods is not None:
                return json_error(405, f"Method {request.method[:20]!r} is not allowed on "
                                       f"{path[:200]}.", "method_not_allowed",
                                  {"Allow": ", ".join(methods)})
        if path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.API_MAX_BODY_BYTES:
                _drain(request, length)
                return json_error(413, too_large_detail(), "payload_too_large")
        return self.get_response(request)
