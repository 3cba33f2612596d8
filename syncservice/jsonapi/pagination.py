"""Pagination families and the one paginator that serves them.

A *family* is a set of query parameters that select a window of a collection and the links
that walk it: ``page[number]``/``page[size]`` (the references' grammar, on every collection)
and ``limit``/``offset`` (seed 001's, on the views that list ``LimitOffsetFamily`` in
``pagination_families``). Each family is one small class: it parses its parameters into a
``PageRequest`` (400 naming the parameter on bad input) and builds the links of a page in its
own parameters, so a client keeps paging in the family it started with. Another family (e.g.
cursors) is one more class beside these.

Without ``count`` the page fetches ``size + 1`` rows: the extra row only tells whether
``links.next`` exists. With ``count=true`` it adds ``meta.record_count``,
``meta.page_count`` and ``links.last``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from syncservice.jsonapi.errors import ParameterError

PAGE_NUMBER = "page[number]"
PAGE_SIZE = "page[size]"
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
    """The window asked for, in the one family whose parameters the request uses (the first
    family when none); parameters of two families are a 400 naming the later one."""
    used: PaginationFamily | None = None
    for name in params.keys():
        family = next((f for f in families if name in f.parameters), None)
        if family is None:
            continue
        if used is not None and family is not used:
            other = next(n for n in params.keys() if n in used.parameters)
            raise ParameterError(name, f"`{name}` cannot be combined with `{other}`: use one "
                                       "pagination family, "
                                       f"{' / '.join(used.parameters)} or "
                                       f"{' / '.join(family.parameters)}.")
        used = family
    return (used or families[0]).parse(params)


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
