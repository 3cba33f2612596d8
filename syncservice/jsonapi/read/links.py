"""Resource links for one request: DRF's public ``reverse()`` once per route, then a template.

``reverse(view, kwargs={kwarg: value}, request=request)`` of a one-argument route is a fixed
prefix, the value's text, a fixed suffix, whenever the text has no character a URL would quote
(ids are UUIDs): the first such value of a route gives the template, later ones are string
concatenation. Any other value goes through ``reverse()`` itself.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.reverse import reverse

_SAFE_TEXT = re.compile(r"[A-Za-z0-9_.~-]+")
_NO_TEMPLATE = ("", None)


class Links:
    def __init__(self, request) -> None:
        self.request = request
        self.templates: dict[tuple[str, str], tuple[str, str | None]] = {}

    def url(self, view_name: str, kwarg: str, value: Any) -> str:
        text = str(value)
        key = (view_name, kwarg)
        template = self.templates.get(key)
        safe = _SAFE_TEXT.fullmatch(text) is not None
        if template is not None and template[1] is not None and safe:
            return template[0] + text + template[1]
        url = reverse(view_name, kwargs={kwarg: value}, request=self.request)
        if template is None and safe:
            position = url.rfind(text)
            self.templates[key] = _NO_TEMPLATE if position < 0 else (
                url[:position], url[position + len(text):])
        return url
