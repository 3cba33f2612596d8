import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Prefetch
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from syncs import services
from syncs.api import openapi
from syncs.api.serializers import (
    CancelSerializer,
    ConnectionSerializer,
    ConnectionWriteSerializer,
    RetrySerializer,
    SyncRunSerializer,
    SyncSerializer,
    SyncWriteSerializer,
    TableBindingSerializer,
    TableBindingWriteSerializer,
    TriggerSerializer,
)
from syncs.filters import ConnectionFilterSet, SyncFilterSet, SyncRunFilterSet
from syncs.freshness import with_stale
from syncs.models import Connection, Sync, SyncRun, TableBinding
from syncs.providers import base as catalog
from syncservice.events.api.views import AttachEventsMixin
from syncservice.jsonapi.errors import Conflict, InvalidAttribute, ParameterError, RelatedNotFound
from syncservice.jsonapi.pagination import CursorPages, LimitOffsetFamily, PageNumberFamily
from syncservice.jsonapi.views import JsonApiViewSet
from syncservice.openapi.operations import document_operations

UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def _conflict(exc: Exception) -> Conflict:
    return Conflict(str(exc))


def _required(data: dict, *names: str) -> None:
    for name in names:
        if not data.get(name):
            raise InvalidAttribute(name, f"`{name}` is required.")


@document_operations(**openapi.CONNECTIONS)
class ConnectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.DestroyModelMixin, JsonApiViewSet):
    queryset = Connection.objects.all()
    serializer_class = ConnectionSerializer
    filterset_class = ConnectionFilterSet
    ordering_fields = ["id", "name", "provider", "created_at", "updated_at"]
    ordering = ["name"]
    lookup_value_regex = UUID_PATTERN
    bodyless_actions = ("check",)

    def get_serializer_class(self):
        if self.action in ("create", "partial_update"):
            return ConnectionWriteSerializer
        return ConnectionSerializer

    def _respond(self, connection, code=status.HTTP_200_OK):
        self.resource_name = "connections"
        data = ConnectionSerializer(connection, context=self.get_serializer_context()).data
        return Response(data, status=code)

    def create(self, request):
        attributes = ConnectionWriteSerializer(data=request.data)
        attributes.is_valid(raise_exception=True)
        data = attributes.validated_data
        _required(data, "provider", "name")
        connection = services.create_connection(
            self.owning_project(), provider=data["provider"], name=data["name"],
            config=data.get("config"), secrets=data.get("secrets"),
            created_by=request.auth.actor_id or "")
        return self._respond(connection, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        connection = self.get_object()
        attributes = ConnectionWriteSerializer(data=request.data, partial=True)
        attributes.is_valid(raise_exception=True)
        data = attributes.validated_data
        if "provider" in data and data["provider"] != connection.provider:
            raise InvalidAttribute("provider", "The provider of a connection cannot change; "
                                               "create another connection.")
        connection = services.update_connection(connection, name=data.get("name"),
                                                config=data.get("config"),
                                                secrets=data.get("secrets"))
        return self._respond(connection)

    def perform_destroy(self, instance):
        """409 while any sync uses the connection, archived ones included (their runs are
        history); the error names them."""
        try:
            services.delete_connection(instance)
        except services.ConnectionInUse as exc:
            raise Conflict(str(exc), code="connection_in_use") from exc
        except services.SyncStateError as exc:
            raise _conflict(exc) from exc

    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Run the provider's connection check; the result is recorded on the connection
        (last_check_status, last_check_error)."""
        connection = self.get_object()
        services.check_connection(connection)
        return self._respond(connection)


def sync_prefetches(prefix: str = "") -> list:
    """What a serialized sync reads besides its row: bindings and its latest run."""
    latest = SyncRun.objects.select_related("job", "project").order_by("-created_at")
    return [f"{prefix}table_bindings",
            Prefetch(f"{prefix}runs", queryset=latest[:1], to_attr="latest_runs")]


@document_operations(**openapi.SYNCS)
class SyncViewSet(AttachEventsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  JsonApiViewSet):
    queryset = Sync.objects.all()
    serializer_class = SyncSerializer
    filterset_class = SyncFilterSet
    ordering_fields = ["id", "name", "slug", "status", "last_success_at", "created_at",
                       "updated_at"]
    ordering = ["name"]
    lookup_value_regex = UUID_PATTERN
    select_always = ["connection"]
    custom_includes = ["last_run"]
    # The reference's compatibility parameters of GET /syncs.
    extra_query_params = {"list": ["q", "status", "provider"]}
    pagination_families = (PageNumberFamily(), LimitOffsetFamily(default_limit=50),
                           CursorPages())
    write_relationships = {"create": {"connection": "connections"},
                           "partial_update": {"connection": "connections"}}
    optional_document_actions = ("trigger",)

    def get_queryset(self):
        # `stale` is computed by the database (one expression per row): filterable, cheap.
        return with_stale(super().get_queryset().prefetch_related(*sync_prefetches()))

    def get_serializer_class(self):
        if self.action in ("create", "partial_update"):
            return SyncWriteSerializer
        if self.action == "trigger":
            return TriggerSerializer
        return SyncSerializer

    def translate_query(self, request, query) -> None:
        params = request.query_params
        if "q" in params:
            query.filters["q"] = params["q"]
        for name, target in (("status", "status__in"), ("provider", "provider__in")):
            values = [v for value in params.getlist(name) for v in value.split(",") if v]
            if values:
                if target in query.filters:
                    raise ParameterError(name, f"`{name}` and `filter[{target}]` ask the "
                                               "same thing: give one.")
                query.filters[target] = ",".join(values)
                # A bad value is reported under the parameter the client sent.
                query.filter_parameters[target] = name

    def _respond(self, sync, code=status.HTTP_200_OK):
        self.resource_name = "syncs"
        sync = self.get_queryset().get(pk=sync.pk)
        return Response(SyncSerializer(sync, context=self.get_serializer_context()).data,
                        status=code)

    def _cleaned(self, request, partial: bool) -> dict:
        attributes = SyncWriteSerializer(data=request.data, partial=partial)
        attributes.is_valid(raise_exception=True)
        data = dict(attributes.validated_data)
        connection_id = data.pop("connection_id", None)
        relationship = request.data.get("connection")
        if isinstance(relationship, dict) and relationship.get("id"):
            connection_id = relationship["id"]
        if connection_id is not None:
            data["connection"] = self._visible_connection(connection_id)
        return data

    def _visible_connection(self, connection_id):
        access = self.request.auth
        connections = Connection.objects.filter(pk=connection_id)
        if access.project_ids is not None:
            connections = connections.filter(project_id__in=access.project_ids)
        connection = connections.first()
        if connection is None:
            raise RelatedNotFound("connection", f"No connection {connection_id}.")
        return connection

    def create(self, request):
        data = self._cleaned(request, partial=False)
        _required(data, "name")
        project = self.owning_project()
        if data.get("connection") is not None and data["connection"].project_id != project.pk:
            raise InvalidAttribute("connection", "The connection belongs to another project.",
                                   pointer="/data/relationships/connection")
        sync = services.create_sync(project, data, actor=request.auth.actor_id or "")
        return self._respond(sync, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        sync = self.get_object()
        data = self._cleaned(request, partial=True)
        if "connection" in data and data["connection"].pk != sync.connection_id:
            raise InvalidAttribute("connection", "A sync's connection cannot change.",
                                   pointer="/data/relationships/connection")
        data.pop("connection", None)
        sync = services.update_sync(sync, data, actor=request.auth.actor_id or "")
        return self._respond(sync)

    def destroy(self, request, pk=None):
        """Archive the sync (kept with its runs for history); 409 while a run is active."""
        sync = self.get_object()
        if sync.runs.filter(status__in=["pending", "running"]).exists():
            raise Conflict("A run of this sync is pending or running; cancel it first.")
        Sync.objects.filter(pk=sync.pk).update(status=Sync.Status.ARCHIVED, next_run_at=None)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def trigger(self, request, pk=None):
        sync = self.get_object()
        attributes = TriggerSerializer(data=request.data)
        attributes.is_valid(raise_exception=True)
        try:
            run = services.trigger(sync, attributes.validated_data["run_mode"],
                                   actor=request.auth.actor_id or "")
        except services.SyncStateError as exc:
            raise _conflict(exc) from exc
        self.resource_name = "sync-runs"
        return Response(SyncRunSerializer(run, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)


# Where a sync update's errors point, seen from a binding's own document.
_BINDING_POINTERS = [
    (re.compile(r"^/data/attributes/table_bindings(/\d+)?"), "/data/attributes"),
    (re.compile(r"^/data/attributes/entities(/.*)?$"), "/data/attributes/entity_key"),
    (re.compile(r"^/data/relationships/connection"), "/data/relationships/sync"),
]


@contextmanager
def _binding_pointers() -> Iterator[None]:
    """A binding's write is its sync's update (services.add_binding …): its errors point at
    the binding document's own members."""
    try:
        yield
    except InvalidAttribute as exc:
        for pattern, replacement in _BINDING_POINTERS:
            if pattern.match(exc.pointer):
                exc.pointer = pattern.sub(replacement, exc.pointer, count=1)
                break
        raise


@document_operations(**openapi.TABLE_BINDINGS)
class TableBindingViewSet(mixins.RetrieveModelMixin, JsonApiViewSet):
    """One entity of a sync bound to its warehouse table. Each write is the sync's own
    update (its ``entities`` and ``table_bindings``), with the sync's rules."""

    queryset = TableBinding.objects.select_related("sync")
    serializer_class = TableBindingSerializer
    project_field = "sync__project_id"
    ordering = ["entity_key"]
    lookup_value_regex = UUID_PATTERN
    write_relationships = {"create": {"sync": "syncs"}}

    def get_serializer_class(self):
        if self.action in ("create", "partial_update"):
            return TableBindingWriteSerializer
        return TableBindingSerializer

    def _respond(self, binding, code=status.HTTP_200_OK):
        self.resource_name = "table-bindings"
        return Response(TableBindingSerializer(binding, context=self.get_serializer_context())
                        .data, status=code)

    def _attributes(self, request, partial: bool) -> dict:
        attributes = TableBindingWriteSerializer(data=request.data, partial=partial)
        attributes.is_valid(raise_exception=True)
        return dict(attributes.validated_data)

    def create(self, request):
        data = self._attributes(request, partial=False)
        _required(data, "entity_key")
        relationship = request.data.get("sync")
        if not isinstance(relationship, dict) or not relationship.get("id"):
            raise InvalidAttribute("sync", "A binding needs its sync: relationships.sync.",
                                   pointer="/data/relationships/sync")
        syncs = Sync.objects.filter(pk=relationship["id"]).select_related("connection")
        project_ids = self.request.auth.project_ids
        if project_ids is not None:  # None: operators see every project
            syncs = syncs.filter(project_id__in=project_ids)
        sync = syncs.first()
        if sync is None:
            raise RelatedNotFound("sync", f"No sync {relationship['id']}.")
        with _binding_pointers():
            binding = services.add_binding(sync, data, actor=request.auth.actor_id or "")
        return self._respond(binding, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        binding = self.get_object()
        data = self._attributes(request, partial=True)
        if data.pop("entity_key", binding.entity_key) != binding.entity_key:
            raise InvalidAttribute("entity_key", "A binding's entity cannot change; add a "
                                                 "binding of the other entity.")
        with _binding_pointers():
            binding = services.update_binding(binding, data, actor=request.auth.actor_id or "")
        return self._respond(binding)

    def destroy(self, request, pk=None):
        """Unbind the entity: it leaves the sync's entities (its synced table stays)."""
        binding = self.get_object()
        try:
            services.remove_binding(binding, actor=request.auth.actor_id or "")
        except InvalidAttribute as exc:
            # The sync's rules refuse it without the entity (another depends on it): the
            # sync's state forbids the delete.
            raise Conflict(f"The sync needs {binding.entity_key!r}: {exc.detail}") from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


@document_operations(**openapi.SYNC_RUNS)
class SyncRunViewSet(AttachEventsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     JsonApiViewSet):
    queryset = SyncRun.objects.all()
    serializer_class = SyncRunSerializer
    filterset_class = SyncRunFilterSet
    ordering_fields = ["id", "status", "attempt_number", "started_at", "completed_at",
                       "created_at", "updated_at"]
    ordering = ["-created_at"]
    lookup_value_regex = UUID_PATTERN
    # 001's `GET /syncs/{id}/runs` pages by limit (default 25) and offset.
    pagination_families = (PageNumberFamily(), LimitOffsetFamily(default_limit=25),
                           CursorPages())
    optional_document_actions = ("cancel", "retry")

    def get_queryset(self):
        queryset = super().get_queryset()
        query = getattr(self, "jsonapi_query", None)
        if query and any(path.split(".")[0] == "sync" for path in query.include):
            queryset = queryset.select_related("sync__connection").prefetch_related(
                *sync_prefetches("sync__"))
        sync_pk = self.kwargs.get("sync_pk")
        if sync_pk is not None:
            if not self.scope_queryset(Sync.objects.filter(pk=sync_pk)).exists():
                raise NotFound()
            queryset = queryset.filter(sync_id=sync_pk)
        return queryset

    def get_serializer_class(self):
        return {"cancel": CancelSerializer, "retry": RetrySerializer}.get(self.action,
                                                                          SyncRunSerializer)

    def _respond(self, run, code=status.HTTP_200_OK):
        self.resource_name = "sync-runs"
        return Response(SyncRunSerializer(run, context=self.get_serializer_context()).data,
                        status=code)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Pending: cancelled at once. Running: stops cooperatively at its next batch."""
        run = self.get_object()
        attributes = CancelSerializer(data=request.data)
        attributes.is_valid(raise_exception=True)
        try:
            run = services.cancel_run(run, reason=attributes.validated_data["reason"],
                                      actor=request.auth.actor_id or "")
        except services.SyncStateError as exc:
            raise _conflict(exc) from exc
        return self._respond(run)

    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """A next attempt of a failed or cancelled run, linked by previous/next ids."""
        run = self.get_object()
        attributes = RetrySerializer(data=request.data)
        attributes.is_valid(raise_exception=True)
        try:
            new_run = services.retry_run(run, attributes.validated_data.get("run_mode"),
                                         actor=request.auth.actor_id or "")
        except services.SyncStateError as exc:
            raise _conflict(exc) from exc
        return self._respond(new_run, status.HTTP_202_ACCEPTED)


class _CatalogView(APIView):
    """The provider catalog (not a database resource): takes no query parameters."""

    resource_name = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        for name in request.query_params:
            raise ParameterError(name, f"Unknown query parameter {name!r}.")


@document_operations(get=openapi.PROVIDER_LIST)
class ProviderListView(_CatalogView):
    def get(self, request):
        data = [{"type": "providers", "id": spec.key,
                 "attributes": {"display_name": spec.display_name,
                                "description": spec.description,
                                "dynamic_resources": spec.dynamic_resources,
                                "available_resources": spec.available_resources,
                                "default_resources": spec.default_resources},
                 "links": {"catalog": request.build_absolute_uri(
                     f"/api/v1/syncs/providers/{spec.key}/catalog")}}
                for spec in catalog.all_providers()]
        return Response({"data": data})


@document_operations(get=openapi.provider_catalog)
class ProviderCatalogView(_CatalogView):
    def get(self, request, provider: str):
        spec = catalog.get_provider(provider)
        if spec is None:
            raise NotFound(f"No provider {provider!r}.")
        return Response({"data": {"type": "provider-catalogs", "id": spec.key,
                                  "attributes": spec.to_catalog()}})
