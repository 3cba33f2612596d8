import django_filters
from django.db.models import Q

from syncs.models import PROVIDERS, Connection, Sync, SyncRun
from syncservice.jsonapi.filters import BooleanFilter, JsonApiFilterSet


class ConnectionFilterSet(JsonApiFilterSet):
    class Meta:
        model = Connection
        fields = {"id": ["exact", "in"], "provider": ["exact", "in"], "name": ["exact", "in"],
                  "created_at": ["exact", "gte", "lte"], "updated_at": ["exact", "gte", "lte"]}


class UUIDInFilter(django_filters.BaseInFilter, django_filters.UUIDFilter):
    pass


class ProviderInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    pass


class SyncFilterSet(JsonApiFilterSet):
    q = django_filters.CharFilter(method="search", help_text="Search in name and slug")
    provider = django_filters.ChoiceFilter(field_name="connection__provider",
                                           choices=[(p, p) for p in PROVIDERS])
    provider__in = ProviderInFilter(field_name="connection__provider", lookup_expr="in",
                                    choices=[(p, p) for p in PROVIDERS])
    connection_id = django_filters.UUIDFilter(field_name="connection_id")
    connection_id__in = UUIDInFilter(field_name="connection_id", lookup_expr="in")
    # The `stale` annotation (syncs.freshness.with_stale) of the view's queryset.
    stale = BooleanFilter(field_name="stale",
                          help_text="Whether the sync's data is older than its freshness SLA")

    class Meta:
        model = Sync
        fields = {"id": ["exact", "in"], "slug": ["exact", "in"], "status": ["exact", "in"],
                  "trigger_mode": ["exact", "in"], "execution_mode": ["exact", "in"],
                  "last_success_at": ["exact", "gte", "lte"],
                  "created_at": ["exact", "gte", "lte"], "updated_at": ["exact", "gte", "lte"]}

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class SyncRunFilterSet(JsonApiFilterSet):
    sync = django_filters.UUIDFilter(field_name="sync_id")
    sync_id = django_filters.UUIDFilter(field_name="sync_id")
    sync_id__in = UUIDInFilter(field_name="sync_id", lookup_expr="in")

    class Meta:
        model = SyncRun
        fields = {"id": ["exact", "in"], "status": ["exact", "in"],
                  "run_mode": ["exact", "in"], "triggered_by": ["exact", "in"],
                  "result_class": ["exact", "in"], "attempt_number": ["exact", "gte", "lte"],
                  "started_at": ["exact", "gte", "lte"], "completed_at": ["exact", "gte", "lte"],
                  "created_at": ["exact", "gte", "lte"], "updated_at": ["exact", "gte", "lte"]}
