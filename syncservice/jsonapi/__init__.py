"""The one JSON:API grammar every collection of the service uses.

``query`` parses and validates the query string (page, count, sort, include/included,
fields, filter, unknown parameters); ``views`` gives the base viewset that applies it;
``errors`` turns every failure into a JSON:API error document.
"""

MEDIA_TYPE = "application/vnd.api+json"
JSONAPI_VERSION = "1.1"
