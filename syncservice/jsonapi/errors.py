"""Error documents: every failure, whatever raised it, becomes
``{"errors": [{"status", "code", "title", "detail", "source"}]}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from syncservice.jsonapi import JSONAPI_VERSION, MEDIA_TYPE

logger = logging.getLogger("syncservice.api")


class ParameterError(exceptions.APIException):
    """A malformed or unknown query parameter: 400 with ``source.parameter``."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_parameter"

    def __init__(self, parameter: str, detail: str, code: str | None = None) -> None:
        super().__init__(detail=detail, code=code or self.default_code)
        self.parameter = parameter


class Conflict(exceptions.APIException):
    """The resource's state (or a uniqueness rule) forbids the request."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request document is too large."
    default_code = "payload_too_large"


def too_large_detail() -> str:
    return f"The request body is larger than {settings.API_MAX_BODY_BYTES} bytes."


class RelatedNotFound(exceptions.NotFound):
    """A request document links a resource that does not exist (or is another project's):
    404, as JSON:API 1.1 requires, with ``source.pointer`` to the linkage."""

    def __init__(self, relationship: str, detail: str) -> None:
        super().__init__(detail=detail)
        self.pointer = f"/data/relationships/{relationship}"


class InvalidMembers(exceptions.APIException):
    """Members a write document may not carry (unknown attributes or relationships, bad
    linkage): 422, one error object each, already formed (see ``jsonapi.parsers``)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "invalid"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail="; ".join(e["detail"] for e in errors))
        self.errors = errors


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "The resource is no longer available."
    default_code = "gone"


class InvalidAttribute(exceptions.APIException):
    """One invalid attribute of a request document: 422 with ``source.pointer``."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "invalid"

    def __init__(self, attribute: str, detail: str, code: str | None = None,
                 pointer: str | None = None) -> None:
        super().__init__(detail=detail, code=code or self.default_code)
        self.pointer = pointer or f"/data/attributes/{attribute}"


def error_object(status_code: int, detail: Any, code: str | None = None,
                 source: dict[str, str] | None = None) -> dict[str, Any]:
    error = {
        "status": str(status_code),
        "code": str(code or HTTPStatus(status_code).name.lower()),
        "title": HTTPStatus(status_code).phrase,
        "detail": str(detail),
    }
    if source:
        error["source"] = source
    return error


def error_document(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"errors": errors}


def _validation_errors(data: Any, pointer: str, relationships: set[str]) -> list[dict]:
    """Flatten a DRF ValidationError's nested detail into one error per message."""
    if isinstance(data, dict):
        errors = []
        for key, value in data.items():
            if key in ("non_field_errors", "__all__"):
                child = pointer
            elif pointer == "/data":
                section = "relationships" if key in relationships else "attributes"
                child = f"/data/{section}/{key}"
            else:
                child = f"{pointer}/{key}"
            errors.extend(_validation_errors(value, child, relationships))
        return errors
    if isinstance(data, list):
        errors = []
        for index, value in enumerate(data):
            child = f"{pointer}/{index}" if isinstance(value, (dict, list)) else pointer
            errors.extend(_validation_errors(value, child, relationships))
        return errors
    return [error_object(422, data, getattr(data, "code", "invalid"), {"pointer": pointer})]


def _relationship_names(view: Any) -> set[str]:
    try:
        serializer_class = view.get_serializer_class()
        return set(getattr(serializer_class, "included_serializers", {}) or {})
    except Exception:  # noqa: BLE001 - formatting an error must never raise another one
        return set()


def exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF exception handler: JSON:API error documents for every exception."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        # Django's own ceiling (DATA_UPLOAD_MAX_MEMORY_SIZE) met while DRF read the body.
        exc = PayloadTooLarge(too_large_detail())
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        # A model field refusing a value the view did not validate (e.g. a malformed id in a
        # relationship): the request's fault, a 422, not a 500.
        from rest_framework.serializers import as_serializer_error

        exc = exceptions.ValidationError(as_serializer_error(exc))

    response = drf_exception_handler(exc, context)
    if response is None:
        # Not an API exception: a bug. Log it with its traceback, answer without one.
        logger.exception("Unhandled exception in %s", context.get("view"), exc_info=exc)
        from rest_framework.response import Response

        return Response(
            error_document([error_object(500, "An unexpected error occurred.", "server_error")]),
            status=500,
        )

    view = context.get("view")
    if isinstance(exc, ParameterError):
        errors = [error_object(exc.status_code, exc.detail, exc.detail.code,
                               {"parameter": exc.parameter})]
    elif isinstance(exc, (InvalidAttribute, RelatedNotFound)):
        errors = [error_object(exc.status_code, exc.detail, exc.detail.code,
                               {"pointer": exc.pointer})]
    elif isinstance(exc, InvalidMembers):
        errors = exc.errors
    elif isinstance(exc, exceptions.ValidationError):
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        errors = _validation_errors(exc.detail, "/data", _relationship_names(view))
    else:
        detail = exc.detail
        if isinstance(detail, (list, dict)):
            detail = "; ".join(str(d) for d in (detail.values() if isinstance(detail, dict)
                                                else detail))
        code = getattr(exc.detail, "code", None) or exc.default_code
        source = {"pointer": getattr(exc, "pointer", "/data")} \
            if isinstance(exc, exceptions.ParseError) else None
        errors = [error_object(response.status_code, detail, code, source)]
    response.data = error_document(errors)
    return response


# --- Django-level handlers: URLs that never reach a DRF view (unknown paths, crashes) ------

def _json_error(request: HttpRequest, status_code: int, detail: str,
                code: str | None = None) -> HttpResponse:
    body = {"jsonapi": {"version": JSONAPI_VERSION},
            **error_document([error_object(status_code, detail, code)])}
    return HttpResponse(orjson.dumps(body), status=status_code, content_type=MEDIA_TYPE)


def json_error(status_code: int, detail: str, code: str | None = None,
               headers: dict[str, str] | None = None) -> HttpResponse:
    """A JSON:API error document answered outside DRF (middleware, plain views)."""
    response = _json_error(None, status_code, detail, code)  # type: ignore[arg-type]
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _wants_html(request: HttpRequest) -> bool:
    return request.path.startswith("/admin/")


def handler400(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE read outside DRF (a form, a middleware).
        return _json_error(request, 413, too_large_detail(), "payload_too_large")
    if _wants_html(request):
        from django.views.defaults import bad_request

        return bad_request(request, exception)
    return _json_error(request, 400, "Bad request.")


def handler403(request, exception=None):
    if _wants_html(request):
        from django.views.defaults import permission_denied

        return permission_denied(request, exception)
    return _json_error(request, 403, "You do not have permission to perform this action.")


def handler404(request, exception=None):
    if _wants_html(request):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception)
    return _json_error(request, 404, f"No resource at {request.path}.")


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Catch-all route: unknown paths outside the admin are JSON:API 404s, also with DEBUG
    (where Django would otherwise render its technical HTML page). CSRF-exempt: it changes
    nothing, and an unknown path must be a 404 for every method, not Django's HTML CSRF 403."""
    return _json_error(request, 404, f"No resource at {request.path}.")


def handler500(request):
    if _wants_html(request):
        from django.views.defaults import server_error

        return server_error(request)
    return _json_error(request, 500, "An unexpected error occurred.")
