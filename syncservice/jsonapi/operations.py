"""The JSON:API Atomic Operations extension (https://jsonapi.org/ext/atomic): ``POST
/api/v1/operations`` runs ``add`` / ``update`` / ``remove`` operations in one database
transaction, all or none.

Each operation is handed to the resource's own endpoint (its viewset's ``create``,
``partial_update`` or ``destroy``) as an internal request carrying the operation's resource
object, authenticated as the outer request: the rules, validation, tenancy, write scope and
status codes are exactly those of the single-resource endpoints (there is no second copy of
them). ``lid`` (local ids) of created resources are replaced by their ids in later
operations' identifiers and relationships. The first failing operation rolls every earlier
one back and answers with its errors, each ``source.pointer`` under
``/atomic:operations/<n>``.

Which types the endpoint takes is filled by the apps (``operation_types.register_type``,
in ``AppConfig.ready``): this package imports no app.
"""

from __future__ import annotations

import io
from typing import Any

import orjson
from django.db import transaction
from django.http import HttpRequest, QueryDict
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from syncservice.jsonapi import MEDIA_TYPE
from syncservice.jsonapi.operation_types import (  # noqa: F401 - the extension's names
    ATOMIC_EXT,
    ATOMIC_MEDIA_TYPE,
    MAX_OPERATIONS,
    OperationType,
    registered_types,
)
from syncservice.jsonapi.parsers import read_json_body
from syncservice.openapi.operations import ATOMIC_OPERATIONS, document_operations

OPERATIONS = "atomic:operations"
RESULTS = "atomic:results"
OPS = ("add", "update", "remove")
OPERATION_MEMBERS = frozenset({"op", "ref", "href", "data", "meta"})


class OperationError(Exception):
    """A malformed operation: 400 with ``source.pointer`` into the request document."""

    def __init__(self, pointer: str, detail: str, status_code: int = 400,
                 code: str = "invalid_operation") -> None:
        super().__init__(detail)
        self.pointer, self.detail, self.status_code, self.code = pointer, detail, \
            status_code, code


class AtomicParser(BaseParser):
    """The extension's request document: ``{"atomic:operations": [...]}`` (and optionally
    ``jsonapi``/``meta``/``links``); each operation's own shape is checked as it runs."""

    media_type = MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        document = read_json_body(stream)
        if not isinstance(document, dict) or not isinstance(document.get(OPERATIONS), list):
            raise _parse_error(f"The request document needs `{OPERATIONS}`: an array of "
                               "operations.", "")
        for name in document:
            if name not in (OPERATIONS, "jsonapi", "meta", "links"):
                raise _parse_error(f"Unknown top-level member {name[:100]!r}.",
                                   f"/{name[:100]}")
        operations = document[OPERATIONS]
        if not operations:
            raise _parse_error("`atomic:operations` needs at least one operation.",
                               f"/{OPERATIONS}")
        if len(operations) > MAX_OPERATIONS:
            raise _parse_error(f"At most {MAX_OPERATIONS} operations per request, not "
                               f"{len(operations)}.", f"/{OPERATIONS}")
        return document


def _parse_error(detail: str, pointer: str) -> ParseError:
    error = ParseError(detail)
    error.pointer = pointer
    return error


class _Run:
    """One request's operations: the lids seen so far and the internal requests."""

    def __init__(self, request) -> None:
        self.request = request
        self.lids: dict[str, tuple[str, str]] = {}  # lid -> (type, id)

    # --- local ids --------------------------------------------------------------------------
    def _resolve_identifier(self, identifier: Any, pointer: str) -> Any:
        if not isinstance(identifier, dict) or "lid" not in identifier:
            return identifier
        lid = identifier["lid"]
        if "id" in identifier:
            raise OperationError(pointer, "An identifier has an `id` or a `lid`, not both.")
        if not isinstance(lid, str) or lid not in self.lids:
            raise OperationError(f"{pointer}/lid", f"Unknown lid {str(lid)[:100]!r}: a lid "
                                                   "names a resource added by an earlier "
                                                   "operation of this request.")
        type_name, pk = self.lids[lid]
        if identifier.get("type") != type_name:
            raise OperationError(f"{pointer}/type", f"lid {lid!r} is a {type_name} resource.")
        resolved = {k: v for k, v in identifier.items() if k != "lid"}
        resolved["id"] = pk
        return resolved

    def _resolve_relationships(self, data: dict, pointer: str) -> dict:
        relationships = data.get("relationships")
        if not isinstance(relationships, dict):
            return data
        resolved = {}
        for name, relationship in relationships.items():
            if isinstance(relationship, dict) and "data" in relationship:
                linkage = relationship["data"]
                where = f"{pointer}/relationships/{name}/data"
                if isinstance(linkage, list):
                    linkage = [self._resolve_identifier(item, f"{where}/{index}")
                               for index, item in enumerate(linkage)]
                else:
                    linkage = self._resolve_identifier(linkage, where)
                relationship = {**relationship, "data": linkage}
            resolved[name] = relationship
        return {**data, "relationships": resolved}

    # --- one operation ----------------------------------------------------------------------
    def run(self, index: int, operation: Any) -> tuple[int, dict]:
        """(status, body) of the operation's internal request."""
        here = f"/{OPERATIONS}/{index}"
        if not isinstance(operation, dict):
            raise OperationError(here, "An operation is an object.")
        for name in operation:
            if name not in OPERATION_MEMBERS:
                raise OperationError(f"{here}/{name[:100]}",
                                     f"Unknown member {name[:100]!r} of an operation.")
        op = operation.get("op")
        if op not in OPS:
            raise OperationError(f"{here}/op", "`op` is one of add, update, remove.")
        if "href" in operation:
            raise OperationError(f"{here}/href", "`href` is not supported: identify the "
                                                 "target by `ref` or `data`.")
        ref = operation.get("ref")
        if ref is not None:
            if not isinstance(ref, dict):
                raise OperationError(f"{here}/ref", "`ref` is an object.")
            if "relationship" in ref:
                raise OperationError(f"{here}/ref/relationship",
                                     "Relationship operations are not supported: update the "
                                     "resource with its relationships instead.")
            ref = self._resolve_identifier(ref, f"{here}/ref")
        data = operation.get("data")
        added_lid = None
        if op == "remove":
            if ref is None:
                raise OperationError(here, "A remove operation needs `ref`: "
                                           '{"type": ..., "id": ...}.')
            target = ref
        else:
            if not isinstance(data, dict):
                raise OperationError(f"{here}/data", f"An {op} operation needs `data`: a "
                                                     "resource object.")
            if op == "add" and ref is not None:
                raise OperationError(f"{here}/ref", "An add operation takes no `ref`.")
            lid = data.get("lid")
            if op == "add" and lid is not None:
                added_lid = lid
                if not isinstance(lid, str) or not lid:
                    raise OperationError(f"{here}/data/lid", "`lid` is a non-empty string.")
                if lid in self.lids:
                    raise OperationError(f"{here}/data/lid", f"lid {lid!r} is already used "
                                                             "in this request.")
                data = {k: v for k, v in data.items() if k != "lid"}
            elif lid is not None:
                data = self._resolve_identifier(data, f"{here}/data")
            data = self._resolve_relationships(data, f"{here}/data")
            target = ref or data
            if ref is not None and (ref.get("type") != data.get("type")
                                    or ref.get("id") != data.get("id")):
                raise OperationError(f"{here}/ref", "`ref` and `data` identify different "
                                                    "resources.", 409, "conflict")
        type_name = target.get("type") if isinstance(target, dict) else None
        target_pointer = f"{here}/ref" if op == "remove" or ref is not None else f"{here}/data"
        types = registered_types()
        kind = types.get(type_name) if isinstance(type_name, str) else None
        if kind is None:
            raise OperationError(f"{target_pointer}/type",
                                 f"Operations write {', '.join(sorted(types))} resources, "
                                 f"not {str(type_name)[:100]!r}.", 422, "unsupported_type")
        pk = target.get("id")
        if op != "add" and not isinstance(pk, str):
            raise OperationError(target_pointer, f"An {op} operation identifies its resource "
                                                 "by `id` (or the `lid` of an added one).")
        method, action = {"add": ("POST", "create"), "update": ("PATCH", "partial_update"),
                          "remove": ("DELETE", "destroy")}[op]
        body = orjson.dumps({"data": data}) if op != "remove" else b""
        # An add goes to the collection: an `id` it carries is the endpoint's to judge (a
        # client-generated id), not a path.
        response = self._dispatch(kind, method, action, None if op == "add" else pk, body)
        result = orjson.loads(response.content) if response.content else {}
        if op == "add" and added_lid is not None and response.status_code < 400 \
                and isinstance(result.get("data"), dict):
            self.lids[added_lid] = (type_name, result["data"]["id"])
        return response.status_code, result

    def _dispatch(self, kind: OperationType, method: str, action: str, pk: str | None,
                  body: bytes):
        outer = self.request._request
        inner = HttpRequest()
        inner.method = method
        path = f"/api/v1/{kind.path}" + (f"/{pk}" if pk is not None else "")
        inner.path = inner.path_info = path
        inner.META = {key: value for key, value in outer.META.items()
                      if not key.startswith(("wsgi.", "CONTENT_", "HTTP_CONTENT_"))}
        inner.META.update({"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
                           "CONTENT_TYPE": MEDIA_TYPE, "CONTENT_LENGTH": str(len(body)),
                           "HTTP_ACCEPT": MEDIA_TYPE})
        inner.GET = QueryDict()
        inner.COOKIES = outer.COOKIES
        inner._stream = io.BytesIO(body)
        inner._read_started = False
        # Authenticated as the outer request (DRF's forced authentication): the same
        # principal, scope and projects, checked again by the endpoint's permissions.
        inner._force_auth_user = self.request.user
        inner._force_auth_token = self.request.auth
        view = kind.viewset.as_view({method.lower(): action})
        response = view(inner, **({"pk": pk} if pk is not None else {}))
        response.render()
        return response


def _error_pointers(errors: list[dict], here: str) -> list[dict]:
    """The endpoint's errors, pointing into the operation (``/data/...`` becomes
    ``/atomic:operations/<n>/data/...``); errors without a source point at the operation."""
    moved = []
    for error in errors:
        error = dict(error)
        source = dict(error.get("source") or {})
        pointer = source.pop("pointer", None)
        source.pop("parameter", None)
        source["pointer"] = here + (pointer or "")
        error["source"] = source
        moved.append(error)
    return moved


@document_operations(post=ATOMIC_OPERATIONS)
class OperationsView(APIView):
    """``POST /api/v1/operations`` (the Atomic Operations extension)."""

    parser_classes = [AtomicParser]
    resource_name = False
    # Content negotiation: the extensions this endpoint applies (see negotiation.py).
    supported_extensions = frozenset({ATOMIC_EXT})
    required_extensions = frozenset({ATOMIC_EXT})

    def post(self, request):
        document = request.data
        if not isinstance(document, dict) or OPERATIONS not in document:
            raise _parse_error(f"The request body must be a document with `{OPERATIONS}`.", "")
        run = _Run(request)
        results = []
        with transaction.atomic():
            for index, operation in enumerate(document[OPERATIONS]):
                here = f"/{OPERATIONS}/{index}"
                try:
                    code, body = run.run(index, operation)
                except OperationError as exc:
                    from syncservice.jsonapi.errors import error_object

                    transaction.set_rollback(True)
                    return self._answer({"errors": [error_object(
                        exc.status_code, exc.detail, exc.code, {"pointer": exc.pointer})]},
                        exc.status_code)
                if code >= 400:
                    transaction.set_rollback(True)
                    errors = _error_pointers(body.get("errors") or [], here)
                    return self._answer({"errors": errors}, code)
                result = {}
                if "data" in body:
                    result["data"] = body["data"]
                if body.get("meta"):
                    result["meta"] = body["meta"]
                results.append(result)
        return self._answer({RESULTS: results}, status.HTTP_200_OK)

    @staticmethod
    def _answer(data: dict, code: int) -> Response:
        # Results carry the extension's members (so its media type); error documents are
        # plain JSON:API ones.
        return Response(data, status=code,
                        content_type=ATOMIC_MEDIA_TYPE if RESULTS in data else MEDIA_TYPE)
