"""Pagination families and the one paginator that serves them.

A *family* is a set of query parameters that select a window of a collection and the links
that walk it: ``page[number]``/``page[size]`` (the references' grammar, on every collection)
and ``limit``/``offset`` (seed 001's, on the views that list ``LimitOffsetFamily`` in
``pagination_families``). Each family is one small class: it parses its parameters into a
``PageRequest`` (400 naming the parameter on bad input) and builds the links of a page in its
own parameters, so a client keeps paging in the family it started with.

``CursorPages`` (the JSON:API cursor pagination profile: ``page[after]``, ``page[before]``,
``page[size]``; on every collection) seeks over the sort keys + id, so a page deep in the
collection costs what the first costs (no OFFSET). Cursors are opaque tokens holding the
boundary row's sort values; its links carry cursors. It overrides ``window`` and ``links``.

A parameter may belong to more than one family (``page[size]``); the request is served by the
first family that has all of the pagination parameters it sent.

Without ``count`` the page fetches ``size + 1`` rows: the extra row only tells whether
``links.next`` exists. With ``count=true`` it adds ``meta.record_count``,
``meta.page_count`` and ``links.last``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, Q
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from syncservice.jsonapi.errors import ParameterError

PAGE_NUMBER = "page[number]"
PAGE_SIZE = "page[size]"
PAGE_AFTER = "page[after]"
PAGE_BEFORE = "page[before]"
# The profile's URL, in the `profile` media type parameter of clients that announce it.
CURSOR_PROFILE = "https://jsonapi.org/profiles/ethanresnick/cursor-pagination/"
MAX_CURSOR_LENGTH = 4096
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
MAX_PAGE_NUMBER = 1_000_000  # keeps OFFSET within what every database takes
MAX_OFFSET = MAX_PAGE_NUMBER * MAX_PAGE_SIZE

_DIGITS = re.compile(r"^[0-9]{1,12}$")


def _single(params, name: str) -> str:
    values = params.getlist(name)
    if len(values) > 1:
        raise ParameterError(name, f"`{name}` may be given only once.")
    return values[0]


def integer_parameter(params, name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within [minimum, maximum], else a 400 naming it."""
    if name not in params:
        return default
    raw = _single(params, name).strip()
    if not _DIGITS.match(raw) or not minimum <= int(raw) <= maximum:
        raise ParameterError(name, f"`{name}` is an integer from {minimum} to {maximum}, "
                                   f"not {raw[:40]!r}.")
    return int(raw)


@dataclass(frozen=True)
class PageRequest:
    """The window a request asked for, in the family it used."""

    family: PaginationFamily
    offset: int
    size: int


class PaginationFamily:
    """One way of asking for a page: its parameters, their parsing and its links."""

    parameters: tuple[str, ...] = ()

    def parse(self, params) -> PageRequest:
        raise NotImplementedError

    def link_params(self, page: PageRequest, offset: int) -> list[tuple[str, str]]:
        """The family's parameters of the page of ``page.size`` rows starting at ``offset``."""
        raise NotImplementedError

    def last_offset(self, page: PageRequest, record_count: int) -> int:
        raise NotImplementedError

    def openapi_parameters(self) -> list[tuple[str, dict, str]]:
        """(name, schema, description) of each parameter, for the OpenAPI document."""
        raise NotImplementedError

    # The offset families share these two; a keyset family (cursors) overrides both.
    def window(self, queryset, page: PageRequest) -> tuple[list, bool]:
        """The page's rows and whether another page follows (one row more is read)."""
        rows = list(queryset[page.offset: page.offset + page.size + 1])
        return rows[: page.size], len(rows) > page.size

    def links(self, page: PageRequest, has_next: bool, record_count: int | None,
              link: Callable[[list[tuple[str, str]]], str]) -> dict[str, str]:
        """first/prev/next (and last with a count), each built by ``link`` from the
        family's parameters."""
        links = {"first": link(self.link_params(page, 0))}
        if page.offset > 0:
            links["prev"] = link(self.link_params(page, max(page.offset - page.size, 0)))
        if has_next:
            links["next"] = link(self.link_params(page, page.offset + page.size))
        if record_count is not None:
            links["last"] = link(self.link_params(page, self.last_offset(page, record_count)))
        return links


class PageNumberFamily(PaginationFamily):
    """``page[number]`` (1-based) and ``page[size]``: every collection."""

    parameters = (PAGE_NUMBER, PAGE_SIZE)

    def __init__(self, default_size: int = DEFAULT_PAGE_SIZE, max_size: int = MAX_PAGE_SIZE):
        self.default_size = default_size
        self.max_size = max_size

    def parse(self, params) -> PageRequest:
        number = integer_parameter(params, PAGE_NUMBER, 1, 1, MAX_PAGE_NUMBER)
        size = integer_parameter(params, PAGE_SIZE, self.default_size, 1, self.max_size)
        return PageRequest(self, (number - 1) * size, size)

    def link_params(self, page: PageRequest, offset: int) -> list[tuple[str, str]]:
        return [(PAGE_NUMBER, str(offset // page.size + 1)), (PAGE_SIZE, str(page.size))]

    def last_offset(self, page: PageRequest, record_count: int) -> int:
        return max(math.ceil(record_count / page.size) - 1, 0) * page.size

    def openapi_parameters(self) -> list[tuple[str, dict, str]]:
        return [
            (PAGE_NUMBER, {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER,
                           "default": 1},
             "The page (1-based); a page past the end has empty `data`."),
            (PAGE_SIZE, {"type": "integer", "minimum": 1, "maximum": self.max_size,
                         "default": self.default_size}, "Resources per page."),
        ]


class LimitOffsetFamily(PaginationFamily):
    """Seed 001's ``limit`` (1–100) and ``offset`` (0 or more): its links keep ``limit`` and
    step ``offset`` by it."""

    parameters = ("limit", "offset")

    def __init__(self, default_limit: int = 50, max_limit: int = 100):
        self.default_limit = default_limit
        self.max_limit = max_limit

    def parse(self, params) -> PageRequest:
        limit = integer_parameter(params, "limit", self.default_limit, 1, self.max_limit)
        offset = integer_parameter(params, "offset", 0, 0, MAX_OFFSET)
        return PageRequest(self, offset, limit)

    def link_params(self, page: PageRequest, offset: int) -> list[tuple[str, str]]:
        return [("limit", str(page.size)), ("offset", str(offset))]

    def last_offset(self, page: PageRequest, record_count: int) -> int:
        # On the grid of the offset the client started from, so `next` reaches `last`.
        start = page.offset % page.size
        if record_count <= start:
            return 0
        return start + (record_count - start - 1) // page.size * page.size

    def openapi_parameters(self) -> list[tuple[str, dict, str]]:
        return [
            ("limit", {"type": "integer", "minimum": 1, "maximum": self.max_limit,
                       "default": self.default_limit},
             "Resources per page (seed 001's pagination; links keep `limit`/`offset`). Not "
             "with `page[...]`."),
            ("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
             "Resources to skip (with `limit`)."),
        ]


def parse_page(params, families: Sequence[PaginationFamily]) -> PageRequest:
    """The window asked for, in the first family that has every pagination parameter the
    request uses (the first family when none); parameters no one family has together are a
    400 naming the first that does not fit the ones before it."""
    candidates = list(families)
    seen: list[str] = []
    for name in params.keys():
        owners = [f for f in families if name in f.parameters]
        if not owners:
            continue
        remaining = [f for f in candidates if f in owners]
        if not remaining:
            other = next((n for n in seen if not any(n in f.parameters for f in owners)),
                         seen[-1])
            family = owners[0]
            used = next((f for f in candidates if other in f.parameters), candidates[0])
            raise ParameterError(name, f"`{name}` cannot be combined with `{other}`: use one "
                                       "pagination family, "
                                       f"{' / '.join(used.parameters)} or "
                                       f"{' / '.join(family.parameters)}.")
        candidates = remaining
        seen.append(name)
    return candidates[0].parse(params)


class JsonApiPagination(BasePagination):
    """Serves a page in the family the request used (``view.jsonapi_query.page``)."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page: PageRequest = view.jsonapi_query.page
        self.record_count = queryset.count() if view.jsonapi_query.count else None
        rows, self.has_next = self.page.family.window(queryset, self.page)
        return rows

    def _link(self, family_params: list[tuple[str, str]]) -> str:
        """This request's URL with the family's parameters replaced by ``family_params``."""
        scheme, netloc, path, query, fragment = urlsplit(self.request.build_absolute_uri())
        params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                  if k not in self.page.family.parameters]
        params += family_params
        # Brackets and commas stay readable, as the reference writes its links.
        return urlunsplit((scheme, netloc, path, urlencode(params, safe="[],"), fragment))

    def get_paginated_response(self, data):
        page = self.page
        links = {"self": self.request.build_absolute_uri(),
                 **page.family.links(page, self.has_next, self.record_count, self._link)}
        meta = {}
        if self.record_count is not None:
            meta = {"record_count": self.record_count,
                    "page_count": math.ceil(self.record_count / page.size)}
        return Response({"results": data, "links": links, "meta": meta})


# --- cursor pages ---------------------------------------------------------------------------

class _Key:
    """One term of the ordering: its ORM path, direction, and model field (or, for a
    computed sort key, the field its expression outputs)."""

    def __init__(self, model, term: str, annotations: dict | None = None) -> None:
        self.descending = term.startswith("-")
        path = term.lstrip("-")
        self.path = model._meta.pk.name if path == "pk" else path
        annotation = (annotations or {}).get(self.path)
        if annotation is not None:  # e.g. exports' attachment_url (queryset.alias)
            self.field = annotation.output_field
            self.nullable = True  # an expression may be NULL whatever its field says
            return
        field, current = None, model
        for part in self.path.split("__"):
            field = current._meta.get_field(part)
            current = field.related_model or current
        if field.is_relation:  # ordering by a foreign key orders by its target's key
            field = field.target_field
        self.field = field
        self.nullable = bool(field.null)

    def order(self):
        # NULL sorts as the largest value on every database (PostgreSQL's default, which its
        # indexes follow), so the seek conditions below hold on SQLite too.
        expression = F(self.path)
        return expression.desc(nulls_first=True) if self.descending \
            else expression.asc(nulls_last=True)

    def value_of(self, row) -> Any:
        if isinstance(row, dict):  # a `.values()` row (the read path): keyed by the path
            return row[self.path]
        value = row
        for part in self.path.split("__"):
            if value is None:
                return None
            value = getattr(value, part)
        return getattr(value, "pk", value)  # a related row orders by its key

    @staticmethod
    def encode(value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        # Datetimes (with their offset and microseconds), dates, UUIDs, decimals: the text
        # the field's to_python reads back exactly.
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    def decode(self, raw: Any) -> Any:
        if raw is None:
            return None
        if isinstance(raw, (dict, list)) or (isinstance(raw, str) and "\x00" in raw):
            raise ValueError("not a value of this key")  # (PostgreSQL refuses NUL in text)
        value = self.field.to_python(raw)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("a cursor's datetimes carry their offset")
            value = value.astimezone(UTC)  # OverflowError at the range's edges: refused
        return value

    def after(self, value: Any, forward: bool) -> Q:
        """Rows strictly after ``value`` on this key, walking ``forward`` (or backwards)."""
        larger = forward != self.descending  # toward larger values (NULL is the largest)
        if value is None:
            return Q(**{f"{self.path}__isnull": False}) if not larger else Q(pk__in=[])
        lookup = "gt" if larger else "lt"
        condition = Q(**{f"{self.path}__{lookup}": value})
        if self.nullable and larger:
            condition |= Q(**{f"{self.path}__isnull": True})
        return condition

    def at_or_after(self, value: Any, forward: bool) -> Q:
        """Rows at or after ``value``: the leading key's range, which lets the database
        seek its index to the boundary instead of walking from the start."""
        larger = forward != self.descending
        if value is None:
            return Q(**{f"{self.path}__isnull": True}) if larger else Q()
        # One range comparison (not "< OR ="): the form an index condition takes.
        condition = Q(**{f"{self.path}__{'gte' if larger else 'lte'}": value})
        if self.nullable and larger:
            condition |= Q(**{f"{self.path}__isnull": True})
        return condition

    def equal(self, value: Any) -> Q:
        if value is None:
            return Q(**{f"{self.path}__isnull": True})
        return Q(**{self.path: value})


@dataclass(frozen=True)
class CursorPageRequest(PageRequest):
    """A cursor page: the raw (opaque) tokens, None when absent, "" for the collection's
    start (``page[after]``) or end (``page[before]``); decoded by the window, which knows the
    sort. ``state`` carries what the window found to the links (one request's)."""

    after: str | None = None
    before: str | None = None
    state: dict = field(default_factory=dict, compare=False, repr=False)


class CursorPages(PaginationFamily):
    """The cursor pagination profile. ``page[after]=<cursor>`` pages forward from a row,
    ``page[before]=<cursor>`` backward, both together a range; an empty ``page[after]`` is
    the collection's start (the ``first`` link), an empty ``page[before]`` its end (``last``).
    ``prev``/``next`` are always present, null where there is no such page (the profile).
    The sort is the queryset's ordering (``order_by_terms``, applied by the view)."""

    parameters = (PAGE_AFTER, PAGE_BEFORE, PAGE_SIZE)

    def __init__(self, default_size: int = DEFAULT_PAGE_SIZE, max_size: int = MAX_PAGE_SIZE):
        self.default_size = default_size
        self.max_size = max_size

    def parse(self, params) -> CursorPageRequest:
        tokens: dict[str, str | None] = {}
        for name in (PAGE_AFTER, PAGE_BEFORE):
            tokens[name] = None
            if name in params:
                raw = _single(params, name).strip()
                if len(raw) > MAX_CURSOR_LENGTH:
                    raise ParameterError(name, f"`{name}` is not a cursor of this collection.",
                                         "invalid_cursor")
                tokens[name] = raw
        size = integer_parameter(params, PAGE_SIZE, self.default_size, 1, self.max_size)
        return CursorPageRequest(self, 0, size, after=tokens[PAGE_AFTER],
                                 before=tokens[PAGE_BEFORE])

    def openapi_parameters(self) -> list[tuple[str, dict, str]]:
        return [
            (PAGE_AFTER, {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
             "Cursor pages (the JSON:API cursor pagination profile): the rows after this "
             "cursor, in the sort's order; empty for the first page. Cursors are opaque: take "
             "them from `links`. A deep page costs what the first costs. Not with "
             "`page[number]`."),
            (PAGE_BEFORE, {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
             "Cursor pages: the rows before this cursor (the nearest `page[size]` of them); "
             "empty for the last page. With `page[after]`, the rows between the two."),
        ]

    def window(self, queryset, page: CursorPageRequest) -> tuple[list, bool]:
        # The view's ordering (``order_by_terms``: the sort + the id); the id alone without one.
        terms = [str(term) for term in queryset.query.order_by] or ["pk"]
        annotations = queryset.query.annotations
        keys = [_Key(queryset.model, term, annotations) for term in terms]
        computed = [key.path for key in keys if key.path in annotations]
        if computed:  # an alias sorts but is not loaded: the cursors read it from the rows
            queryset = queryset.all()
            queryset.query.append_annotation_mask(computed)
        # The sort the cursors were made for: a cursor of another sort is refused.
        signature = ",".join(terms)
        after = _decode(keys, signature, PAGE_AFTER, page.after)
        before = _decode(keys, signature, PAGE_BEFORE, page.before)
        after_given, before_given = bool(page.after), bool(page.before)
        # Backward only when the client pages from a `before` bound alone: the rows nearest
        # to it are the page.
        forward = not (page.before is not None and page.after is None)
        if after is not None:
            queryset = queryset.filter(_seek(keys, after, forward=True))
        if before is not None:
            queryset = queryset.filter(_seek(keys, before, forward=False))
        queryset = _load_keys(queryset, keys)
        ordering = [key.order() for key in keys]
        if not forward:
            ordering = [term.copy() for term in ordering]
            for term in ordering:
                term.reverse_ordering()
        rows = list(queryset.order_by(*ordering)[: page.size + 1])
        more = len(rows) > page.size
        rows = rows[: page.size]
        if forward:
            has_next = more or before_given
            has_prev = after_given
        else:
            rows.reverse()
            has_prev = more
            has_next = before_given
        page.state.update(keys=keys, signature=signature, rows=rows, has_prev=has_prev)
        return rows, has_next

    def links(self, page: CursorPageRequest, has_next: bool, record_count: int | None,
              link: Callable[[list[tuple[str, str]]], str]) -> dict[str, str | None]:
        def cursor_link(parameter: str, cursor: str) -> str:
            return link([(PAGE_SIZE, str(page.size)), (parameter, cursor)])

        links: dict[str, str | None] = {"first": cursor_link(PAGE_AFTER, ""),
                                        "last": cursor_link(PAGE_BEFORE, ""),
                                        "prev": None, "next": None}
        state = page.state
        rows = state["rows"]
        if rows:
            if state["has_prev"]:
                links["prev"] = cursor_link(
                    PAGE_BEFORE, _cursor_of(state["keys"], state["signature"], rows[0]))
            if has_next:
                links["next"] = cursor_link(
                    PAGE_AFTER, _cursor_of(state["keys"], state["signature"], rows[-1]))
        else:
            # An empty page between bounds: the pages on either side start at the bounds.
            if page.after:
                links["prev"] = cursor_link(PAGE_BEFORE, page.after)
            if page.before:
                links["next"] = cursor_link(PAGE_AFTER, page.before)
        return links


def _load_keys(queryset, keys: list[_Key]):
    """The sort keys' columns loaded with the rows (a sparse fieldset's page defers the
    columns it does not render): the cursors read them without a query per row."""
    names, deferring = queryset.query.deferred_loading
    own = {key.path for key in keys if "__" not in key.path}
    if deferring and names & own:
        return queryset.defer(None).defer(*(set(names) - own))
    if not deferring and names and own - set(names):
        return queryset.only(*names, *own)
    return queryset


def _seek(keys: list[_Key], values: list, *, forward: bool) -> Q:
    """Rows strictly after the boundary row (with these key values) in the walking
    direction: (k0 > v0) or (k0 = v0 and k1 > v1) or ..., led by k0's own range."""
    condition = Q(pk__in=[])
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        condition |= equal & key.after(value, forward)
        equal &= key.equal(value)
    return keys[0].at_or_after(values[0], forward) & condition


def _decode(keys: list[_Key], signature: str, parameter: str, token: str | None) -> list | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(payload, dict) or payload.get("s") != signature:
            raise ValueError("made for another sort")
        raw = payload.get("v")
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        return [key.decode(value) for key, value in zip(keys, raw, strict=True)]
    except (ValueError, TypeError, UnicodeError, binascii.Error, ValidationError,
            orjson.JSONDecodeError, FieldDoesNotExist, OverflowError):
        raise ParameterError(parameter, f"`{parameter}` is not a cursor of this collection "
                                        "with this sort; use the cursors of its links.",
                             "invalid_cursor") from None


def _cursor_of(keys: list[_Key], signature: str, row) -> str:
    values = [key.encode(key.value_of(row)) for key in keys]
    payload = orjson.dumps({"s": signature, "v": values})
    return base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


def cursor_for(model, terms: Sequence[str], row) -> str:
    """The cursor of ``row`` under the ORM ordering ``terms`` (as ``order_by_terms`` gives
    them): what a page's links carry (benchmarks and tests start deep with it)."""
    return _cursor_of([_Key(model, term) for term in terms], ",".join(terms), row)
