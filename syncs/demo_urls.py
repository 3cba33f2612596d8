"""The demo API's URL (``DEMO_API=true``), included by the root URLconf."""

from django.urls import path

from syncs.demo import demo_orders
from syncservice.allowed_methods import read_only

urlpatterns = [
    path("demo-api/orders", read_only(demo_orders), name="demo-api-orders"),
]
