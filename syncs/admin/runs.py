"""The runs admin: a run's per-entity results, its attempt chain and events; cancel and retry
(as a next attempt); deletion of finished runs only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from jobs.admin import id_list, plural
from syncs import services
from syncs.admin.actions import actor_of, report
from syncs.admin.buttons import ObjectButtonsMixin
from syncs.admin.deletion import delete_selected_of
from syncs.admin.formatting import GREY, RUN_COLOURS, badge, change_link, json_display, short_run_id
from syncs.models import SyncRun
from syncservice.events.admin import EventsTableMixin

ACTIVE_RUN_STATUSES = (SyncRun.Status.PENDING, SyncRun.Status.RUNNING)


@admin.register(SyncRun)
class SyncRunAdmin(EventsTableMixin, ObjectButtonsMixin, admin.ModelAdmin):
    list_display = ["short_id", "sync", "status_badge", "result_class", "run_mode",
                    "triggered_by", "attempt_number", "started_at", "completed_at",
                    "last_heartbeat_at", "rows_written"]
    list_display_links = ["short_id"]
    list_filter = ["status", "result_class", "triggered_by", "sync__project"]
    search_fields = ["id", "sync__slug", "sync__name", "error"]
    search_help_text = "Search by id (or its first characters), sync slug or name, or error."
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["sync"]
    show_full_result_count = False
    actions = ["cancel_runs", "retry_runs", "delete_selected"]
    object_buttons = {
        "cancel": ("Cancel", "do_cancel", "signal", lambda r: r.is_active),
        "retry": ("Retry", "do_retry", "signal",
                  lambda r: r.status in (SyncRun.Status.FAILED, SyncRun.Status.CANCELLED)
                  and r.next_attempt_run_id is None),
    }

    fieldsets = [
        (None, {"fields": ["id", "sync_link", "project", "status_badge", "result_class",
                           "result_reason_code", "run_mode", "triggered_by", "trigger_ref",
                           "job_link"]}),
        ("Entities", {"fields": ["entities_table"]}),
        ("Attempts", {"fields": ["attempt_number", "attempt_chain", "attempt_root_link",
                                 "previous_attempt_link", "next_attempt_link",
                                 "max_auto_resume_attempts"]}),
        ("Timeline", {"fields": ["created_at", "started_at", "last_heartbeat_at",
                                 "completed_at", "cancel_requested_at", "cancel_requested_by",
                                 "cancel_reason", "updated_at"]}),
        ("Execution", {"fields": ["execution_backend", "execution_mode", "executor_id",
                                  "backend_run_ref", "backend_run_url", "backend_status_json",
                                  "backend_heartbeat_at"]}),
        ("Error", {"fields": ["error"]}),
        ("Summary", {"fields": ["summary_json"]}),
        ("Events", {"fields": ["events_table"]}),
    ]
    readonly_fields = [f for _, options in fieldsets for f in options["fields"]]

    # --- permissions: runs are made by triggers; cancel / retry need "change sync run" -------

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_signal_permission(self, request, obj=None):
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_active:
            return False
        return super().has_delete_permission(request, obj)

    # --- columns -----------------------------------------------------------------------------

    @admin.display(description="ID", ordering="id")
    def short_id(self, run: SyncRun) -> str:
        return short_run_id(run)

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: SyncRun) -> str:
        label = run.status
        if run.status == SyncRun.Status.RUNNING and run.cancel_requested_at:
            label = f"{label} (cancelling)"
        return badge(label, RUN_COLOURS.get(run.status, GREY), run.error or label)

    @admin.display(description="rows written")
    def rows_written(self, run: SyncRun) -> int:
        return (run.summary or {}).get("rows_written", 0)

    # --- detail ------------------------------------------------------------------------------

    @admin.display(description="sync")
    def sync_link(self, run: SyncRun) -> str:
        return change_link(self.admin_site, run.sync, f"{run.sync.name} ({run.sync.slug})")

    @admin.display(description="job")
    def job_link(self, run: SyncRun) -> str:
        if run.job_id is None:
            return self.get_empty_value_display()
        return format_html('<a href="{}">{}</a>', reverse(
            "admin:jobs_job_change", args=[quote(run.job_id)], current_app=self.admin_site.name),
            run.job_id)

    @admin.display(description="per entity")
    def entities_table(self, run: SyncRun) -> str:
        entities = (run.summary or {}).get("entities") or {}
        if not entities:
            return self.get_empty_value_display()
        rows = format_html_join(
            "", '<tr class="entity-{}"><td><code>{}</code></td><td>{}</td><td>{}</td>'
                '<td>{}</td><td>{}</td><td>{}</td></tr>',
            ((entity, entity, badge(info.get("status") or "?",
                                    RUN_COLOURS.get(info.get("status"), GREY)),
              info.get("rows_read", 0), info.get("rows_written", 0),
              "-" if info.get("cursor") is None else info.get("cursor"),
              info.get("error") or "")
             for entity, info in entities.items()))
        return format_html('<table class="run-entities"><thead><tr><th>entity</th>'
                           "<th>status</th><th>rows read</th><th>rows written</th>"
                           "<th>cursor</th><th>error</th></tr></thead><tbody>{}</tbody>"
                           "</table>", rows)

    @admin.display(description="attempt chain")
    def attempt_chain(self, run: SyncRun) -> str:
        root = run.attempt_root_run_id or run.pk
        chain = SyncRun.objects.filter(Q(pk=root) | Q(attempt_root_run_id=root)).order_by(
            "attempt_number", "created_at")
        return format_html_join(mark_safe(" → "), "{}{}{} {}", (
            (mark_safe("<strong>") if a.pk == run.pk else "",
             change_link(self.admin_site, a, f"#{a.attempt_number} {short_run_id(a)}"),
             mark_safe("</strong>") if a.pk == run.pk else "",
             badge(a.status, RUN_COLOURS.get(a.status, GREY))) for a in chain))

    def _attempt_link(self, run_id) -> str:
        if run_id is None:
            return self.get_empty_value_display()
        other = SyncRun.objects.filter(pk=run_id).only("pk", "attempt_number").first()
        if other is None:
            return str(run_id)
        return change_link(self.admin_site, other,
                           f"#{other.attempt_number} {short_run_id(other)}")

    @admin.display(description="first attempt")
    def attempt_root_link(self, run: SyncRun) -> str:
        return self._attempt_link(run.attempt_root_run_id)

    @admin.display(description="previous attempt")
    def previous_attempt_link(self, run: SyncRun) -> str:
        return self._attempt_link(run.previous_attempt_run_id)

    @admin.display(description="next attempt")
    def next_attempt_link(self, run: SyncRun) -> str:
        return self._attempt_link(run.next_attempt_run_id)

    backend_status_json = json_display("backend_status", "backend status")
    summary_json = json_display("summary", "summary")

    # --- cancel / retry ----------------------------------------------------------------------

    @admin.action(description="Cancel selected runs", permissions=["signal"])
    def cancel_runs(self, request, queryset):
        self.do_cancel(request, queryset)

    @admin.action(description="Retry selected runs (as a next attempt)", permissions=["signal"])
    def retry_runs(self, request, queryset):
        self.do_retry(request, queryset.select_related("sync"))

    def do_cancel(self, request, runs: Iterable[SyncRun]) -> None:
        done: list[str] = []
        requested: list[str] = []
        refused: dict[str, list[str]] = defaultdict(list)
        for run in runs:
            try:
                after = services.cancel_run(run, reason="cancelled from the admin",
                                            actor=actor_of(request))
            except services.SyncStateError as exc:
                refused[str(exc)].append(short_run_id(run))
                continue
            if after.status == SyncRun.Status.CANCELLED:
                done.append(short_run_id(run))
                self.log_change(request, run, "Cancelled.")
            else:
                requested.append(short_run_id(run))
                self.log_change(request, run, "Cancellation requested.")
        report(self, request, done, refused, "Cancelled {}.", "Not cancelled:", "run")
        if requested:
            self.message_user(request, f"Requested the cancellation of "
                                       f"{plural(len(requested), 'running run')} "
                                       f"({id_list(requested)}): a run stops at its next "
                                       "batch.", messages.SUCCESS)

    def do_retry(self, request, runs: Iterable[SyncRun]) -> list[SyncRun]:
        created: list[SyncRun] = []
        done: list[str] = []
        refused: dict[str, list[str]] = defaultdict(list)
        for run in runs:
            try:
                new = services.retry_run(run, actor=actor_of(request))
            except services.SyncStateError as exc:
                refused[str(exc)].append(short_run_id(run))
                continue
            created.append(new)
            done.append(f"{short_run_id(run)} as attempt #{new.attempt_number} "
                        f"{short_run_id(new)}")
            self.log_change(request, run, f"Retried as run {new.pk}.")
        report(self, request, done, refused, "Retried {}.", "Not retried:", "run")
        return created

    # --- deletion: never an active run -------------------------------------------------------

    @admin.action(description="Delete selected runs (except pending or running ones)",
                  permissions=["delete"])
    def delete_selected(self, request, queryset):
        active = [short_run_id(r) for r in queryset.filter(status__in=ACTIVE_RUN_STATUSES)]
        if active:
            self.message_user(request, f"Skipped {plural(len(active), 'active run')} "
                                       f"({id_list(active)}): cancel before deleting.",
                              messages.WARNING)
        return delete_selected_of(self, request,
                                  queryset.exclude(status__in=ACTIVE_RUN_STATUSES))

    def delete_queryset(self, request, queryset):
        queryset.exclude(status__in=ACTIVE_RUN_STATUSES).delete()
