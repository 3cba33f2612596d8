"""``GET /metrics``: the Prometheus text exposition (OpenMetrics when the scraper asks).

No authentication by default (keep the port private, or let the proxy guard it); with
``METRICS_TOKEN`` set, ``Authorization: Bearer <token>`` is required (401 otherwise).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.exposition import choose_encoder

from syncservice.observability.metrics import registry


def _authorized(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    if not token:
        return True
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(),
                                                              token.encode())


@require_GET
def metrics_view(request):
    if not _authorized(request):
        response = HttpResponse("Unauthorized: a bearer token is required.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encoder(registry()), content_type=content_type)
