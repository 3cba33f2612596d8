"""HTTP middlewares of the API's responses: conditional GET (ETag, 304) and gzip.

``ConditionalGetMiddleware`` is Django's ETag / If-None-Match / If-Modified-Since handling for
GET with the body hashed by BLAKE2b instead of MD5 (a third of the time on a 3 MB page);
``GZipMiddleware`` is Django's gzip for large JSON bodies only: never streamed responses
(export downloads keep their Content-Length, and their bytes are never compressed twice) nor
HTML (BREACH).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.middleware.http import ConditionalGetMiddleware as DjangoConditionalGetMiddleware
from django.utils.http import quote_etag

GZIP_CONTENT_TYPES = ("application/vnd.api+json", "application/json")


class ConditionalGetMiddleware(DjangoConditionalGetMiddleware):
    """Django's conditional GET, with a BLAKE2b ETag of the body."""

    def process_response(self, request: HttpRequest,
                         response: HttpResponseBase) -> HttpResponseBase:
        if request.method == "GET" and not response.streaming and response.content \
                and not response.has_header("ETag") and self.needs_etag(response) \
                and 200 <= response.status_code < 300:
            digest = hashlib.blake2b(response.content, digest_size=16).hexdigest()
            response.headers["ETag"] = quote_etag(digest)
        return super().process_response(request, response)


class GZipMiddleware(DjangoGZipMiddleware):
    """Django's gzip, only for JSON bodies of at least ``JSONAPI_GZIP_MIN_BYTES`` bytes."""

    def process_response(self, request: HttpRequest,
                         response: HttpResponseBase) -> HttpResponseBase:
        if response.streaming or response.has_header("Content-Encoding"):
            return response
        content_type = response.get("Content-Type", "").split(";")[0].strip()
        if content_type not in GZIP_CONTENT_TYPES:
            return response
        if len(response.content) < getattr(settings, "JSONAPI_GZIP_MIN_BYTES", 1024):
            return response
        return super().process_response(request, response)
