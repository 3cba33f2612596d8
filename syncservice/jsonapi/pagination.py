"""Page-number pagination without a COUNT unless ``count=true`` asks for one.

Without ``count`` the page fetches ``size + 1`` rows: the extra row only tells whether
``links.next`` exists. With ``count=true`` it adds ``meta.record_count``,
``meta.page_count`` and ``links.last``.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

PAGE_NUMBER = "page[number]"
PAGE_SIZE = "page[size]"


class JsonApiPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        query = view.jsonapi_query
        self.request = request
        self.number = query.page_number
        self.size = query.page_size
        self.record_count = queryset.count() if query.count else None
        offset = query.offset if query.offset is not None else (self.number - 1) * self.size
        rows = list(queryset[offset: offset + self.size + 1])
        self.has_next = len(rows) > self.size
        return rows[: self.size]

    def _link(self, number: int) -> str:
        scheme, netloc, path, query, fragment = urlsplit(self.request.build_absolute_uri())
        params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                  if k not in (PAGE_NUMBER, PAGE_SIZE)]
        params += [(PAGE_NUMBER, str(number)), (PAGE_SIZE, str(self.size))]
        # Brackets and commas stay readable, as the reference writes its links.
        return urlunsplit((scheme, netloc, path, urlencode(params, safe="[],"), fragment))

    def get_paginated_response(self, data):
        links = {"self": self.request.build_absolute_uri(), "first": self._link(1)}
        if self.number > 1:
            links["prev"] = self._link(self.number - 1)
        if self.has_next:
            links["next"] = self._link(self.number + 1)
        meta = {}
        if self.record_count is not None:
            page_count = math.ceil(self.record_count / self.size)
            meta = {"record_count": self.record_count, "page_count": page_count}
            links["last"] = self._link(max(page_count, 1))
        return Response({"results": data, "links": links, "meta": meta})
