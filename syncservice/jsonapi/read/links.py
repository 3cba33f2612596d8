"""Resource links for one request: one real reverse per route, then a template.

``reverse(view, kwargs={kwarg: value}, request=request)`` of a one-argument route is a fixed
prefix, the value's text, a fixed suffix, whenever the text has no character a URL would quote
(ids are UUIDs): the first such value of a route gives the template, later ones are string
concatenation. Any other value is reversed itself.

``TemplatedReverse`` lends the templates to the links serializer methods build with DRF's
``reverse(..., request=request)`` (download URLs): DRF hands every reverse to the request's
versioning scheme, and while a document is built (in an API without one) this object is that
scheme; anything but a one-keyword reverse it answers ``NoReverseMatch``, on which DRF reverses
as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.urls import NoReverseMatch
from django.urls import reverse as django_reverse
from rest_framework.reverse import reverse

_SAFE_TEXT = re.compile(r"[A-Za-z0-9_.~-]+")
_NO_TEMPLATE = ("", None)


class Links:
    def __init__(self, request) -> None:
        self.request = request
        # Without a versioning scheme DRF's reverse is Django's, made absolute.
        self.plain = getattr(request, "versioning_scheme", None) is None
        self.templates: dict[tuple[str, str], tuple[str, str | None]] = {}

    def url(self, view_name: str, kwarg: str, value: Any, text: str | None = None) -> str:
        """The URL; ``text`` is ``str(value)`` when the caller has it already."""
        if text is None:
            text = str(value)
        key = (view_name, kwarg)
        template = self.templates.get(key)
        safe = value.__class__ is UUID or _SAFE_TEXT.fullmatch(text) is not None
        if template is not None and template[1] is not None and safe:
            return template[0] + text + template[1]
        url = self.reverse(view_name, kwarg, value)
        if template is None and safe:
            position = url.rfind(text)
            self.templates[key] = _NO_TEMPLATE if position < 0 else (
                url[:position], url[position + len(text):])
        return url

    def linker(self, view_name: str, kwarg: str, uuid_texts: bool = False
               ) -> Callable[[Any, str], str]:
        """``url`` of one route, as a function of (value, its text): once the route's template
        is known, a UUID's URL is a concatenation without a lookup per call. ``uuid_texts``:
        the caller's values are UUIDs' canonical text (``text.uuid_read``), safe in a URL."""
        url = self.url
        template: tuple[str, str | None] | None = None

        def link(value: Any, text: str) -> str:
            nonlocal template
            if template is not None and (uuid_texts or value.__class__ is UUID):
                return template[0] + text + template[1]
            result = url(view_name, kwarg, value, text)
            known = self.templates.get((view_name, kwarg))
            if known is not None and known[1] is not None:
                template = known
            return result

        return link

    def reverse(self, view_name: str, kwarg: str, value: Any) -> str:
        if self.plain:
            return self.request.build_absolute_uri(
                django_reverse(view_name, kwargs={kwarg: value}))
        return reverse(view_name, kwargs={kwarg: value}, request=self.request)


class TemplatedReverse:
    """A versioning scheme's ``reverse`` answering one-keyword reverses from ``Links``."""

    def __init__(self, links: Links) -> None:
        self.links = links

    def reverse(self, viewname, args=None, kwargs=None, request=None, format=None, **extra):
        if args or format is not None or extra or not kwargs or len(kwargs) != 1 \
                or request is not self.links.request or not isinstance(viewname, str):
            raise NoReverseMatch("not a one-keyword reverse: DRF reverses it itself")
        ((kwarg, value),) = kwargs.items()
        return self.links.url(viewname, kwarg, value)
