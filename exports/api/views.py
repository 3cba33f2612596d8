from django.db.models import Case, CharField, Value, When
from django.db.models.functions import Cast, Concat
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from exports import services
from exports.api import openapi
from exports.api.serializers import ExportCreateSerializer, ExportSerializer
from exports.downloads import file_response
from exports.filters import ExportFilterSet
from exports.formats import MODALITIES, formats_for
from exports.models import Export, ExportStatus
from syncservice.events.api.views import AttachEventsMixin
from syncservice.jsonapi.errors import Conflict, ParameterError
from syncservice.jsonapi.views import JsonApiViewSet
from syncservice.openapi.operations import document_operations


@document_operations(destroy=openapi.DESTROY, export=openapi.CREATE, create=openapi.CREATE,
                     download=openapi.DOWNLOAD, formats=openapi.FORMATS_LIST)
class ExportViewSet(AttachEventsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    mixins.DestroyModelMixin, JsonApiViewSet):
    queryset = Export.objects.all()
    serializer_class = ExportSerializer
    filterset_class = ExportFilterSet
    # Commerce Layer's sortable fields (and size); attachment_url sorts as its URL does: the
    # exports without one (not successful) first, then by id (the URL's only variable part).
    ordering_fields = {**{name: name for name in (
        "id", "resource_type", "format", "status", "started_at", "completed_at",
        "interrupted_at", "records_count", "size", "created_at", "updated_at", "reference",
        "reference_origin")}, "attachment_url": "attachment_sort_key"}
    ordering = ["-created_at"]
    prefetch_always = ["files"]
    extra_query_params = {"download": ["file"], "formats": ["modalities"]}

    def get_queryset(self):
        # Exports past expires_at become expired before anything reads them (status,
        # filter[status], sort, attachment_url, download): see services.expire_due.
        services.expire_due_once(self.request)
        queryset = super().get_queryset()
        query = getattr(self, "jsonapi_query", None)
        if query is not None and any(term.lstrip("-") == "attachment_url"
                                     for term in query.sort):
            # Never NULL, so both databases order it alike (they place NULLs differently).
            queryset = queryset.alias(attachment_sort_key=Case(
                When(status=ExportStatus.SUCCESS,
                     then=Concat(Value("1"), Cast("id", CharField()))),
                default=Value("0"), output_field=CharField()))
        return queryset

    def get_serializer_class(self):
        if self.action in ("export", "create"):
            return ExportCreateSerializer
        return ExportSerializer

    def perform_destroy(self, instance: Export) -> None:
        try:
            services.delete_export(instance)
        except services.ExportStateError as exc:
            raise Conflict(str(exc)) from exc

    def create(self, request):
        """Start an export (the standard JSON:API create, as ``POST /exports/export``): 202
        with the pending export and its ``Location``; its job builds the files."""
        return self._start_export(request)

    @action(detail=False, methods=["post"])
    def export(self, request):
        """Start an export: 202 with the pending export; its job builds the files."""
        return self._start_export(request)

    def _start_export(self, request):
        attributes = ExportCreateSerializer(data=request.data)
        attributes.is_valid(raise_exception=True)
        export = services.create_export(
            self.owning_project(), services.ExportRequest(**attributes.validated_data),
            created_by_id=request.auth.actor_id)
        self.resource_name = "exports"
        export = self.get_queryset().get(pk=export.pk)
        return Response(ExportSerializer(export, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """One file of a successful export: streamed from local storage, or a redirect to a
        signed, expiring URL on object storage. ``file=N`` picks one of several files."""
        export = self.get_object()
        raw = request.query_params.get("file")
        index = None
        if raw is not None:
            if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
                raise ParameterError("file", "`file` is a file number, 1 or more.")
            index = int(raw)
        try:
            export_file = services.file_for_download(export, index)
        except services.ExportStateError as exc:
            raise Conflict(str(exc)) from exc
        return file_response(export_file)

    @action(detail=False, methods=["get"])
    def formats(self, request):
        """The formats for the given ``modalities`` (required; comma list)."""
        raw = request.query_params.get("modalities")
        if raw is None or not raw.strip():
            raise ParameterError("modalities", "`modalities` is required, e.g. "
                                               f"modalities=tabular; known: "
                                               f"{', '.join(sorted(MODALITIES))}.")
        wanted = [m.strip() for m in raw.split(",")]
        unknown = [m for m in wanted if m not in MODALITIES]
        if unknown:
            raise ParameterError("modalities", f"Unknown modalities {unknown}; known: "
                                               f"{', '.join(sorted(MODALITIES))}.")
        self.resource_name = False  # a hand-built document
        data = [{"type": "export-formats", "id": f.name,
                 "attributes": {"name": f.name, "mime_type": f.mime_type,
                                "extension": f.extension, "modalities": sorted(f.modalities),
                                "available": f.available, "notes": f.notes,
                                "compressible": True}}
                for f in formats_for(wanted)]
        return Response({"data": data})

