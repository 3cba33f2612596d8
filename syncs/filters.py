import django_filters
from django.db.models import Q

from syncs.models import PROVIDERS, Connection, Sync, SyncRun
from syncservice.jsonapi.filters import BooleanFilter, JsonApiFilterSet


class ConnectionFilterSet(JsonApiFilterSet):
    class Meta:
        model = Connection
        fields = {"id": ["exact", "in"], "provider": ["exact", "in"], "name": ["exact"],
                  "created_at": ["gte", "lte"], "updated_at": ["gte", "lte"]}


class ProviderInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    pass


class SyncFilterSet(JsonApiFilterSet):
    q = django_filters.CharFilter(method="search", help_text="Search in name and slug")
    provider = django_filters.ChoiceFilter(field_name="connection__provider",
                                           choices=[(p, p) for p in PROVIDERS])
    provider__in = ProviderInFilter(field_name="connection__provider", lookup_expr="in",
                                    choices=[(p, p) for p in PROVIDERS])
    connection_id = django_filters.UUIDFilter(field_name="connection_id")
    # The `stale` annotation (syncs.freshness.with_stale) of the view's queryset.
    stale = BooleanFilter(field_name="stale",
                          help_text="Whether the sync's data is older than its freshness SLA")

    class Meta:
        model = Sync
        fields = {"id": ["exact", "in"], "slug": ["exact", "in"], "status": ["exact", "in"],
                  "trigger_mode": ["exact"], "execution_mode": ["exact"],
                  "created_at": ["exact", "gte", "lte"], "updated_at": ["exact", "gte", "lte"]}

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class SyncRunFilterSet(JsonApiFilterSet):
    sync = django_filters.UUIDFilter(field_name="sync_id")
    sync_id = django_filters.UUIDFilter(field_name="sync_id")

    class Meta:
        model = SyncRun
        fields = {"id": ["exact", "in"], "status": ["exact", "in"], "run_mode": ["exact"],
                  "triggered_by": ["exact", "in"], "result_class": ["exact", "in"],
                  "created_at": ["exact", "gte", "lte"], "updated_at": ["gte", "lte"]}
