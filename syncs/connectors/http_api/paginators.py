"""Paginators: one small class per ``pagination.type``, chosen by the ``PAGINATORS`` mapping.

Each has one interface (modelled on dlt's ``rest_client.paginators``): ``params(request)``
gives the query of the page about to be fetched, ``advance(request, response, document,
records)`` updates ``request`` for the next page and answers whether there is one. The
``has_more_path``/``last_page_path`` flags of any paginator stop paging first.

Config keys (unchanged from the single-function engine): ``page_number`` {page_param: "page",
size_param: "per_page", page_size: 100, start_page: 1}; ``offset`` {offset_param: "offset",
limit_param: "limit", page_size}; ``cursor`` {cursor_path, cursor_param: "cursor", cursor_in:
query | body, continue_path, cursor_only}; ``next_url`` {next_url_path: "next", body_once}
(relative URLs resolve against the current page); ``link_header``; ``header_cursor``
{response_header: "X-Page-Next", request_header | request_param: "cursor"}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urljoin

import httpx

from syncs.connectors.http_api.values import fill, select, select_one


@dataclass
class PageRequest:
    """What the next page's request is made of; paginators update it between pages."""

    url: str
    params: dict
    body: Any = None
    headers: dict | None = None


class Paginator:
    """No pagination: one request."""

    kind: ClassVar[str] = "none"

    def __init__(self, config: dict, values: dict | None = None,
                 resolve: Callable[[str], str] = str) -> None:
        self.config = config
        self.values = values or {}
        self.resolve = resolve  # a path from the config -> an absolute URL
        self.has_more_path = config.get("has_more_path")
        self.last_page_path = config.get("last_page_path")

    def params(self, request: PageRequest) -> dict:
        """The query parameters of the page about to be requested."""
        return dict(request.params)

    def advance(self, request: PageRequest, response: httpx.Response, document: Any,
                records: list) -> bool:
        """Point ``request`` at the next page; False when this page was the last."""
        if self.has_more_path and not select_one(document, self.has_more_path):
            return False
        if self.last_page_path and select_one(document, self.last_page_path):
            return False
        return self.next_page(request, response, document, records)

    def next_page(self, request: PageRequest, response: httpx.Response, document: Any,
                  records: list) -> bool:
        return False

    @property
    def flagged(self) -> bool:
        """The API says whether more pages follow (a short page is not the end then)."""
        return bool(self.has_more_path or self.last_page_path)


class _CountingPaginator(Paginator):
    """Pages counted by the client; a short or empty page is the last unless flagged."""

    def __init__(self, config: dict, values: dict | None = None,
                 resolve: Callable[[str], str] = str) -> None:
        super().__init__(config, values, resolve)
        self.size = int(fill(config.get("page_size", 100), self.values))

    def next_page(self, request: PageRequest, response: httpx.Response, document: Any,
                  records: list) -> bool:
        if not records:
            return False
        self.step(len(records))
        return self.flagged or len(records) >= self.size

    def step(self, count: int) -> None:
        raise NotImplementedError


class PageNumberPaginator(_CountingPaginator):
    kind = "page_number"

    def __init__(self, config: dict, values: dict | None = None,
                 resolve: Callable[[str], str] = str) -> None:
        super().__init__(config, values, resolve)
        self.page = int(config.get("start_page", 1))

    def params(self, request: PageRequest) -> dict:
        params = {**request.params, self.config.get("page_param", "page"): self.page}
        size_param = self.config.get("size_param", "per_page")
        if size_param:
            params[size_param] = self.size
        return params

    def step(self, count: int) -> None:
        self.page += 1


class OffsetPaginator(_CountingPaginator):
    kind = "offset"
    offset = 0

    def params(self, request: PageRequest) -> dict:
        return {**request.params, self.config.get("offset_param", "offset"): self.offset,
                self.config.get("limit_param", "limit"): self.size}

    def step(self, count: int) -> None:
        self.offset += count


class _TokenPaginator(Paginator):
    """A token from each answer asks for the next page; a repeated token ends paging (an API
    answering the same cursor again would loop forever)."""

    last_token: Any = None

    def fresh(self, token: Any) -> bool:
        if not token or token == self.last_token:
            return False
        self.last_token = token
        return True


class CursorPaginator(_TokenPaginator):
    """A cursor field of the body, sent back as a query parameter or a body field."""

    kind = "cursor"

    def next_page(self, request: PageRequest, response: httpx.Response, document: Any,
                  records: list) -> bool:
        token = select_one(document, self.config.get("cursor_path"))
        if not self.fresh(token):
            return False
        param = self.config.get("cursor_param", "cursor")
        continue_path = self.config.get("continue_path")
        if continue_path:  # the next pages come from another endpoint (a "scroll" URL)
            request.url = self.resolve(fill(continue_path, self.values))
        if self.config.get("cursor_in") == "body":
            request.body = {param: token} if continue_path else {**(request.body or {}),
                                                                 param: token}
        else:
            keep = not (continue_path or self.config.get("cursor_only"))
            request.params = {**(request.params if keep else {}), param: token}
        return True


class NextUrlPaginator(Paginator):
    """The next page's URL in the body: "links.next", "nextRecordsUrl", "@odata.nextLink" or a
    list of {rel, href} links."""

    kind = "next_url"

    def next_page(self, request: PageRequest, response: httpx.Response, document: Any,
                  records: list) -> bool:
        links = select(document, self.config.get("next_url_path", "next"))
        if links and isinstance(links[0], dict):  # [{"rel": "next", "href": ...}]
            found = next((link.get("href") for link in links if link.get("rel") == "next"),
                         None)
        else:
            found = links[0] if links else None
        if not found or urljoin(request.url, found) == request.url:
            return False
        request.url = urljoin(request.url, found)
        request.params = {}  # the link carries the whole query
        if self.config.get("body_once"):
            request.body = None
        return True


class LinkHeaderPaginator(Paginator):
    """RFC 8288 ``Link: <...>; rel="next"`` (GitHub, Shopify)."""

    kind = "link_header"

    def next_page(self, request: PageRequest, response: httpx.Response, document: Any,
                  records: list) -> bool:
        link = response.links.get("next", {}).get("url")
        if not link:
            return False
        request.url = urljoin(request.url, link)
        request.params = {}
        return True


class HeaderCursorPaginator(_TokenPaginator):
    """A cursor in a response header, sent back as a request header or query parameter."""

    kind = "header_cursor"

    def next_page(self, request: PageRequest, response: httpx.Response, document: Any,
                  records: list) -> bool:
        token = response.headers.get(self.config.get("response_header", "X-Page-Next"))
        if not self.fresh(token):
            return False
        if self.config.get("request_header"):
            request.headers = {**(request.headers or {}), self.config["request_header"]: token}
        else:
            request.params = {**request.params, self.config.get("request_param", "cursor"): token}
        return True


PAGINATORS: dict[str, type[Paginator]] = {cls.kind: cls for cls in (
    Paginator, PageNumberPaginator, OffsetPaginator, CursorPaginator, NextUrlPaginator,
    LinkHeaderPaginator, HeaderCursorPaginator)}


def paginator_for(config: dict | None, values: dict | None = None,
                  resolve: Callable[[str], str] = str) -> Paginator:
    """The paginator a ``pagination`` config describes (a fresh one per stream read)."""
    config = config or {"type": "none"}
    kind = config.get("type", "none")
    cls = PAGINATORS.get(kind)
    if cls is None:
        raise ValueError(f"unknown pagination type {kind!r}; known: {sorted(PAGINATORS)}")
    return cls(config, values, resolve)
