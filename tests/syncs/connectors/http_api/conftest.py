"""Helpers for the engine's unit tests: JSON answers for pytest-httpserver handlers."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response


def as_json(document, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(document), status=status, headers=headers or {},
                    content_type="application/json")


@pytest.fixture
def answer():
    return as_json
