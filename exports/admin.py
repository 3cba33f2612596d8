"""The operators' view of exports: list, filter and search them, read everything about one
export and its files, download a file with the admin session, re-run an export, delete one.

As in the jobs admin, nothing here writes an Export's fields directly: the change page is
read-only (the build job updates the row concurrently), a re-run goes through
``services.create_export`` (the same validation and one-active-export rule as the API) and a
deletion through ``services.delete_export``, which refuses pending or processing exports and
removes the files from the storage too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from rest_framework.exceptions import APIException

from exports import services
from exports.downloads import file_response
from exports.models import ACTIVE_EXPORT_STATUSES, Export, ExportFile, ExportStatus
from jobs.admin import BADGE_STYLE, ReadOnlyInline, id_list, plural, pretty_json
from syncservice.events.admin import EventsTableMixin

STATUS_COLOURS = {
    ExportStatus.PENDING: "#6c757d",
    ExportStatus.PROCESSING: "#0d6efd",
    ExportStatus.SUCCESS: "#198754",
    ExportStatus.FAILED: "#dc3545",
    ExportStatus.CANCELLED: "#b35c00",
    ExportStatus.EXPIRED: "#495057",
}


def short_id_of(export: Export) -> str:
    return str(export.pk)[:8]


def human_size(size: int | None) -> str | None:
    return None if size is None else filesizeformat(size)


def request_of(export: Export) -> services.ExportRequest:
    """The options of ``export``, as a request for a new export of the same data."""
    return services.ExportRequest(
        resource_type=export.resource_type, format=export.format, filters=export.filters,
        fields=export.fields, includes=export.includes, dry_data=export.dry_data,
        compress=export.compress, reference=export.reference,
        reference_origin=export.reference_origin, metadata=export.metadata)


class ExportFileInline(ReadOnlyInline):
    """The export's files, read-only, each with its download link."""

    model = ExportFile
    fields = ["index", "filename", "size_display", "records_count", "sha256", "download"]
    ordering = ["index"]

    @admin.display(description="size")
    def size_display(self, export_file: ExportFile) -> str:
        return human_size(export_file.size)

    @admin.display(description="download")
    def download(self, export_file: ExportFile) -> str:
        if export_file.export.status != ExportStatus.SUCCESS:
            return self.get_empty_value_display()
        return format_html('<a href="{}">Download</a>',
                           download_url(self.admin_site, export_file.export_id,
                                        export_file.index))


def download_url(admin_site, export_id, index: int) -> str:
    opts = Export._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_download",
                   args=[quote(export_id), index], current_app=admin_site.name)


@admin.register(Export)
class ExportAdmin(EventsTableMixin, admin.ModelAdmin):
    list_display = ["short_id", "resource_type", "format", "project", "status_badge",
                    "records_count", "size_display", "download_links", "created_at",
                    "completed_at", "expires_at"]
    list_display_links = ["short_id"]
    list_filter = ["status", "resource_type", "format", "project"]
    search_fields = ["id", "resource_type", "reference", "reference_origin", "filename"]
    search_help_text = "Search by id (or its first characters), resource type, reference or " \
                       "file name."
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["project"]
    show_full_result_count = False
    actions = ["rerun_exports", "delete_selected"]
    inlines = [ExportFileInline]

    fieldsets = [
        (None, {"fields": ["id", "project", "resource_type", "format", "status_badge", "job_link",
                           "created_by_id", "reference", "reference_origin"]}),
        ("Options", {"fields": ["filters_json", "fields_json", "includes_json", "dry_data",
                                "compress"]}),
        ("Result", {"fields": ["records_count", "size_display", "filename", "mime_type",
                               "download_links"]}),
        ("Timeline", {"fields": ["created_at", "started_at", "completed_at", "interrupted_at",
                                 "expires_at", "updated_at"]}),
        ("Errors", {"fields": ["errors_log_json"]}),
        ("Metadata", {"fields": ["metadata_json"]}),
        ("Events", {"fields": ["events_table"]}),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    def get_queryset(self, request):
        services.expire_due_once(request)  # past expires_at reads expired, sweep or not
        return super().get_queryset(request).prefetch_related("files")

    # --- permissions -------------------------------------------------------------------------
    # Exports are created by the API (and re-run here), never typed in; no field is edited by
    # hand. A re-run creates an export, so it takes the "add export" permission.

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_rerun_permission(self, request, obj=None):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status in ACTIVE_EXPORT_STATUSES:
            return False
        return super().has_delete_permission(request, obj)

    # --- columns and fields ------------------------------------------------------------------

    @admin.display(description="ID", ordering="id")
    def short_id(self, export: Export) -> str:
        return short_id_of(export)

    @admin.display(description="status", ordering="status")
    def status_badge(self, export: Export) -> str:
        label = export.get_status_display()
        title = label
        if export.errors_log:
            title = "; ".join(f"{key}: {value}" for key, value in export.errors_log.items()) \
                if isinstance(export.errors_log, dict) else str(export.errors_log)
        return format_html('<span style="{}" title="{}">{}</span>',
                           BADGE_STYLE.format(STATUS_COLOURS.get(export.status, "#6c757d")),
                           title, label)

    @admin.display(description="size", ordering="size")
    def size_display(self, export: Export) -> str:
        return human_size(export.size) or self.get_empty_value_display()

    @admin.display(description="files")
    def download_links(self, export: Export) -> str:
        files = list(export.files.all())
        if export.status != ExportStatus.SUCCESS or not files:
            return self.get_empty_value_display()
        return format_html_join(
            mark_safe("<br>"), '<a href="{}" title="{} · {}">{}</a>',
            ((download_url(self.admin_site, export.pk, f.index), human_size(f.size),
              plural(f.records_count, "record"), f.filename) for f in files))

    @admin.display(description="job")
    def job_link(self, export: Export) -> str:
        if export.job_id is None:
            return self.get_empty_value_display()
        url = reverse("admin:jobs_job_change", args=[quote(export.job_id)],
                      current_app=self.admin_site.name)
        return format_html('<a href="{}">{}</a>', url, export.job_id)

    @admin.display(description="filters")
    def filters_json(self, export: Export) -> str:
        return pretty_json(export.filters)

    @admin.display(description="fields")
    def fields_json(self, export: Export) -> str:
        return pretty_json(export.fields)

    @admin.display(description="includes")
    def includes_json(self, export: Export) -> str:
        return pretty_json(export.includes)

    @admin.display(description="errors log")
    def errors_log_json(self, export: Export) -> str:
        if export.errors_log is None:
            return self.get_empty_value_display()
        return pretty_json(export.errors_log)

    @admin.display(description="metadata")
    def metadata_json(self, export: Export) -> str:
        return pretty_json(export.metadata)

    # --- re-run ------------------------------------------------------------------------------

    @admin.action(description="Re-run selected exports (as new exports)",
                  permissions=["rerun"])
    def rerun_exports(self, request, queryset):
        self.rerun(request, queryset.select_related("project"))

    def rerun(self, request, exports: Iterable[Export]) -> list[Export]:
        """Create a new export with the options of each one; report the new ones and, grouped
        by reason, the refusals (unknown resource type, an export already running, …)."""
        created: list[Export] = []
        refused: dict[str, list[str]] = defaultdict(list)
        for export in exports:
            try:
                new = services.create_export(export.project, request_of(export),
                                             created_by_id=f"user:{request.user.pk}")
            except APIException as exc:
                refused[str(exc.detail)].append(short_id_of(export))
                continue
            created.append(new)
            self.log_addition(request, new, f"Re-run of export {export.pk}.")
        if created:
            self.message_user(request, f"Started {plural(len(created), 'new export')} "
                                       f"({id_list([short_id_of(e) for e in created])}).",
                              messages.SUCCESS)
        level = messages.WARNING if created else messages.ERROR
        for reason, ids in refused.items():
            self.message_user(request, f"Not re-run: {plural(len(ids), 'export')} "
                                       f"({id_list(ids)}): {reason}", level)
        return created

    # --- extra views: download, re-run button ------------------------------------------------

    def url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_urls(self):
        return [
            path("<path:object_id>/download/<int:index>/",
                 self.admin_site.admin_view(self.download_view), name=self.url_name("download")),
            path("<path:object_id>/rerun/",
                 self.admin_site.admin_view(self.rerun_view), name=self.url_name("rerun")),
            *super().get_urls(),
        ]

    def change_url(self, export: Export) -> str:
        return reverse(f"admin:{self.url_name('change')}", args=[quote(export.pk)],
                       current_app=self.admin_site.name)

    def download_view(self, request, object_id, index):
        """One file of a successful export: streamed from a local storage, or a redirect to
        the storage's (signed, expiring) URL elsewhere."""
        export = self.get_object(request, unquote(object_id))
        if export is None:
            raise Http404("No such export.")
        if not self.has_view_permission(request, export):
            raise PermissionDenied
        if export.status != ExportStatus.SUCCESS:
            reason = "its files were deleted" if export.status == ExportStatus.EXPIRED \
                else "files can be downloaded once it succeeds"
            self.message_user(request, f"Export {short_id_of(export)} is {export.status}: "
                                       f"{reason}.", messages.ERROR)
            return HttpResponseRedirect(self.change_url(export))
        export_file = next((f for f in export.files.all() if f.index == index), None)
        if export_file is None or not default_storage.exists(export_file.storage_name):
            raise Http404("No such file.")
        return file_response(export_file)

    def rerun_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        export = self.get_object(request, unquote(object_id))
        if export is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_rerun_permission(request, export):
            raise PermissionDenied
        created = self.rerun(request, [export])
        return HttpResponseRedirect(self.change_url(created[0] if created else export))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        export = self.get_object(request, unquote(object_id))
        if export is not None and self.has_rerun_permission(request, export):
            extra_context = {
                **(extra_context or {}),
                "export_rerun_url": reverse(f"admin:{self.url_name('rerun')}",
                                            args=[quote(export.pk)],
                                            current_app=self.admin_site.name),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- deletion: through services.delete_export (files too; never an active export) -------

    def delete_view(self, request, object_id, extra_context=None):
        export = self.get_object(request, unquote(object_id))
        if export is not None and export.status in ACTIVE_EXPORT_STATUSES \
                and super().has_delete_permission(request, export):
            return self.refuse_delete(request, export)
        try:
            return super().delete_view(request, object_id, extra_context)
        except services.ExportStateError:  # it became active between the page and the POST
            return self.refuse_delete(request, export)

    def refuse_delete(self, request, export: Export):
        self.message_user(request, f"Export {short_id_of(export)} is {export.status} and "
                                   "cannot be deleted; cancel its job first.", messages.ERROR)
        return HttpResponseRedirect(self.change_url(export))

    def delete_model(self, request, obj):
        # Raises ExportStateError (rolling back the log entry) for an active export.
        services.delete_export(obj)

    @admin.action(description="Delete selected exports and their files (except pending or "
                              "processing ones)", permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's delete action (confirmation page and all), without the active exports."""
        active = [str(pk)[:8] for pk in
                  queryset.filter(status__in=ACTIVE_EXPORT_STATUSES).values_list("pk", flat=True)]
        if active:
            skipped = plural(len(active), "pending or processing export")
            self.message_user(request, f"Skipped {skipped} ({id_list(active)}): cancel their "
                                       "jobs before deleting.", messages.WARNING)
        deletable = queryset.exclude(status__in=ACTIVE_EXPORT_STATUSES)
        if not deletable.exists():
            return None
        return django_delete_selected(self, request, deletable)

    def delete_queryset(self, request, queryset):
        """Each export through services.delete_export, re-read so a status that changed since
        the confirmation page counts."""
        skipped = 0
        for export in queryset.all():
            try:
                services.delete_export(export)
            except services.ExportStateError:
                skipped += 1
        if skipped:
            self.message_user(request, f"Not deleted: {plural(skipped, 'export')} became "
                                       "pending or processing meanwhile.", messages.WARNING)
