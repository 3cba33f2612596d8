"""`make run`'s demo: a small paginated JSON API served by this server at /demo-api/
(DEMO_API=true), and a connection + active sync reading it, so a new user can trigger a
sync and query the loaded table at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import JsonResponse

from syncservice.demo import demo_seeder

DEMO_ORDERS = 250
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _order(number: int) -> dict:
    return {"id": number, "number": f"#{1000 + number}", "total": round(number * 7.35, 2),
            "currency": "EUR", "status": ("paid", "refunded", "open")[number % 3],
            "customer": {"email": f"customer{number % 40}@example.com"},
            "updated_at": (_EPOCH + timedelta(hours=number)).isoformat().replace("+00:00",
                                                                                   "Z")}


def demo_orders(request):
    """GET /demo-api/orders?page=1&per_page=100&updated_since=ISO — no authentication."""
    try:
        page = max(1, int(request.GET.get("page", 1)))
        per_page = min(500, max(1, int(request.GET.get("per_page", 100))))
    except ValueError:
        return JsonResponse({"error": "page and per_page are integers"}, status=400)
    since = request.GET.get("updated_since")
    orders = [_order(n) for n in range(1, DEMO_ORDERS + 1)]
    if since:
        orders = [o for o in orders if o["updated_at"] > since]
    chunk = orders[(page - 1) * per_page: page * per_page]
    return JsonResponse({"data": chunk, "meta": {"page": page, "total": len(orders)}})


@demo_seeder
def seed_demo_sync(project) -> None:
    if not settings.DEMO_API:
        return
    from syncs import services
    from syncs.models import Connection, Sync

    connection = Connection.objects.filter(project=project, name="demo-api").first()
    if connection is None:
        connection = services.create_connection(project, provider="http_api", name="demo-api",
                                                config=demo_connection_config())
    elif connection.config.get("base_url") != demo_connection_config()["base_url"]:
        # `make run PORT=…` on an existing database: the demo API moved with the server.
        services.update_connection(connection, config={
            **connection.config, "base_url": demo_connection_config()["base_url"]})
    if not Sync.objects.filter(project=project, slug="demo-orders").exists():
        services.create_sync(project, {"connection": connection, "name": "Demo orders",
                                       "slug": "demo-orders", "entities": ["orders"],
                                       "status": "active"}, actor="seed_demo")


def demo_connection_config() -> dict:
    return {
        "base_url": f"{settings.DEMO_API_BASE_URL.rstrip('/')}/demo-api/",
        "pagination": {"type": "page_number", "page_size": 100},
        "streams": [{"name": "orders", "path": "orders", "record_selector": "$.data",
                     "primary_key": ["id"], "cursor_field": "updated_at",
                     "cursor_param": "updated_since"}],
    }
