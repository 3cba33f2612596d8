"""Base serializers: DRF-JSONAPI model serializers with a ``self`` link per resource."""

from __future__ import annotations

from rest_framework_json_api import serializers


class ResourceSerializer(serializers.ModelSerializer):
    """List ``url`` in ``Meta.fields`` for ``links.self`` (route name ``<model>-detail``)."""
