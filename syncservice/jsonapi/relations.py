"""Relationship fields with ``links.related`` pointing at the related resource itself."""

from __future__ import annotations

from rest_framework.reverse import reverse
from rest_framework_json_api.relations import ResourceRelatedField


class ToOneField(ResourceRelatedField):
    """A to-one relationship whose ``related`` link is the related resource's own URL
    (``related_view`` is its detail route name, e.g. ``project-detail``)."""

    def __init__(self, related_view: str, **kwargs):
        self.related_view = related_view
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def get_links(self, obj=None, lookup_field="pk"):
        if obj is None:
            return {}
        related_id = getattr(obj, f"{self.source}_id", None)
        if related_id is None:
            return {}
        request = self.context.get("request")
        return {"related": reverse(self.related_view, kwargs={"pk": related_id}, request=request)}
