"""Per request: a request id, the log context, one access log line and the HTTP histogram.

First in ``MIDDLEWARE``, so every response (static files, admin, API, errors) carries
``X-Request-ID`` and is timed. An incoming ``X-Request-ID`` (from a proxy or the caller) is
kept when it looks like an id; otherwise a new one is made. While the request runs,
``request_id``, ``method`` and ``path`` are bound into ``structlog.contextvars``, so every log
line of the request (the stdlib's too) carries them; ``project`` is added once the response
is there, from ``request.auth`` (set by the API's authentication, whatever the framework).
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from django.conf import settings

from syncservice.observability import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_META = "HTTP_X_REQUEST_ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,200}")
# Probes and scrapes run every few seconds: their access lines are DEBUG, not INFO.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

access_log = structlog.stdlib.get_logger("syncservice.access")


def request_id_of(request) -> str:
    incoming = request.META.get(_REQUEST_ID_META, "").strip()
    if incoming and _VALID_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def project_of(request) -> str | None:
    """The caller's project(s) from ``request.auth`` (an ``Access``): one id, a sorted
    comma list, ``*`` for staff (every project), or None before/without authentication."""
    auth = getattr(request, "auth", None)
    if auth is None or not hasattr(auth, "project_ids"):
        return None
    if auth.project_ids is None:
        return "*"
    ids = sorted(str(pk) for pk in auth.project_ids)
    if not ids:
        return None
    return ids[0] if len(ids) == 1 else ",".join(ids[:10]) + (",…" if len(ids) > 10 else "")


def view_of(request) -> str:
    """A low-cardinality name of what answered: the URL's view name, else ``static`` or
    ``unmatched`` (answered by a middleware, e.g. whitenoise)."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match.route or "unnamed"
    static_url = settings.STATIC_URL or "/static/"
    if request.path.startswith(static_url if static_url.startswith("/") else f"/{static_url}"):
        return "static"
    return "unmatched"


class RequestContextMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = request_id_of(request)
        request.request_id = request_id
        tokens = structlog.contextvars.bind_contextvars(
            request_id=request_id, method=request.method, path=request.path)
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            project = project_of(request)
            if project is not None:
                tokens = {**structlog.contextvars.bind_contextvars(project=project), **tokens}
            response[REQUEST_ID_HEADER] = request_id
            view = view_of(request)
            metrics.observe_request(request.method, view, response.status_code, duration)
            status = response.status_code
            if request.path in QUIET_PATHS and status < 500:
                log = access_log.debug
            else:
                log = access_log.warning if status >= 500 else access_log.info
            log("request", status=status, duration_ms=round(duration * 1000, 2), view=view)
            return response
        finally:
            try:
                structlog.contextvars.reset_contextvars(**tokens)
            except ValueError:  # made in another context (should not happen under WSGI)
                structlog.contextvars.unbind_contextvars(*tokens)
