"""The operators' view of the job queue: list, filter and search jobs, read everything about
one job, and signal it (cancel / retry / run now) through the same services as the API.

Nothing here writes a Job's fields directly: the change page is read-only (a save would
overwrite the worker's concurrent updates), every state change goes through ``jobs.services``
and its conditional updates, and a running job is never deleted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from jobs import events as job_events
from jobs import services
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.services import JobStateError
from syncservice.events.admin import EventsTableMixin

STATUS_COLOURS = {
    JobStatus.PENDING: "#6c757d",
    JobStatus.RUNNING: "#0d6efd",
    JobStatus.SUCCEEDED: "#198754",
    JobStatus.FAILED: "#dc3545",
    JobStatus.CANCELLED: "#b35c00",
}
BADGE_STYLE = ("display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;"
               "font-size:11px;font-weight:600;white-space:nowrap;background:{}")
PRE_STYLE = ("margin:0;padding:8px;max-height:40em;overflow:auto;white-space:pre-wrap;"
             "word-break:break-word;font-size:12px;background:var(--darkened-bg);"
             "border:1px solid var(--hairline-color)")
# A JSON document longer than this is cut on the change page (the API serves it whole).
MAX_JSON_CHARS = 100_000
# How many job ids a refusal message names before "and N more".
MAX_IDS_IN_MESSAGE = 10

# Which signals apply to which statuses: the change page only offers the buttons that can
# succeed (the services still decide, so a stale page gets a clear refusal).
SIGNAL_STATUSES = {
    "cancel": ACTIVE_STATUSES,
    "retry": (JobStatus.FAILED, JobStatus.CANCELLED),
    "run_now": (JobStatus.PENDING,),
}
SIGNAL_LABELS = {"cancel": "Cancel", "retry": "Retry", "run_now": "Run now"}
# What the job's history (the admin's LogEntry) says of each signal sent from the admin.
SIGNAL_LOG = {"cancel": "Cancelled.", "cancel_requested": "Cancellation requested.",
              "retry": "Retried.", "run_now": "Run now."}


def short_id_of(job: Job) -> str:
    return str(job.pk)[:8]


def plural(count: int, word: str = "job") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def id_list(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS_IN_MESSAGE])
    if len(ids) > MAX_IDS_IN_MESSAGE:
        shown += f" and {len(ids) - MAX_IDS_IN_MESSAGE} more"
    return shown


def pretty_json(value) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > MAX_JSON_CHARS:
        text = f"{text[:MAX_JSON_CHARS]}\n… (cut: {len(text):,} characters in all)"
    return format_html('<pre style="{}">{}</pre>', PRE_STYLE, text)


class ReadOnlyInline(admin.TabularInline):
    """Rows that belong to their parent and are shown, never edited, beside it: whoever may
    view the parent sees them."""

    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return self.admin_site.get_model_admin(self.parent_model).has_view_permission(
            request, obj)


class JobClassFilter(admin.SimpleListFilter):
    """The job classes present in the table (not only the registered ones: a job of a
    handler since removed must still be findable)."""

    title = "job class"
    parameter_name = "job_class"

    def lookups(self, request, model_admin):
        classes = (Job.objects.order_by("job_class").values_list("job_class", flat=True)
                   .distinct())
        return [(name, name) for name in classes]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(job_class=self.value())
        return queryset


@admin.register(Job)
class JobAdmin(EventsTableMixin, admin.ModelAdmin):
    list_display = ["short_id", "job_class", "project", "status_badge", "progress_bar",
                    "priority", "retries", "queue", "scheduled_at", "started_at",
                    "finished_at", "created_at"]
    list_display_links = ["short_id"]
    list_filter = ["status", JobClassFilter, "queue", "project"]
    search_fields = ["id", "job_class", "unicity", "error", "worker_id"]
    search_help_text = "Search by id (or its first characters), job class, unicity key, " \
                       "error or worker id."
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["project"]
    show_full_result_count = False  # no second COUNT(*) over the whole table
    actions = ["cancel_jobs", "retry_jobs", "run_jobs_now", "delete_selected"]

    fieldsets = [
        (None, {"fields": ["id", "job_class", "project", "queue", "status_badge",
                           "progress_bar", "priority", "retries", "unicity",
                           "created_by_id"]}),
        ("Timeline", {"fields": ["created_at", "scheduled_at", "started_at", "heartbeat_at",
                                 "cancel_requested_at", "finished_at", "updated_at",
                                 "worker_id"]}),
        ("Payload", {"fields": ["payload_json"]}),
        ("Result", {"fields": ["result_json", "checkpoint_json"]}),
        ("Error", {"fields": ["error", "error_details_json", "traceback"]}),
        ("Events", {"fields": ["events_table"]}),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    # --- permissions -------------------------------------------------------------------------
    # Jobs are created by the API and the schedulers, never typed in; and no field is edited
    # by hand. Without the change permission the admin shows its read-only "view" page; the
    # signals need their own permission (granted with "change job").

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_signal_permission(self, request, obj=None):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status == JobStatus.RUNNING:
            return False
        return super().has_delete_permission(request, obj)

    # --- list columns ------------------------------------------------------------------------

    @admin.display(description="ID", ordering="id")
    def short_id(self, job: Job) -> str:
        return short_id_of(job)

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        label = job.get_status_display()
        title = job.error or label
        if job.status == JobStatus.RUNNING and job.started_at is None:
            # Claimed ahead by a worker, waiting behind its current job: if that worker stops,
            # the job goes back to pending without a retry charged.
            label = f"{label} (claimed)"
            title = f"Claimed by {job.worker_id}, not started yet"
        if job.status == JobStatus.RUNNING and job.cancel_requested_at:
            label = f"{label} (cancelling)"
        return format_html('<span style="{}" title="{}">{}</span>',
                           BADGE_STYLE.format(STATUS_COLOURS.get(job.status, "#6c757d")),
                           title, label)

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, job: Job) -> str:
        return format_html('<progress value="{}" max="100" style="width:80px" title="{}%">'
                           '{}%</progress> <small>{}%</small>',
                           job.progress, job.progress, job.progress, job.progress)

    @admin.display(description="retries", ordering="retry_count")
    def retries(self, job: Job) -> str:
        return f"{job.retry_count}/{job.max_retries}"

    # --- detail fields -----------------------------------------------------------------------

    @admin.display(description="payload")
    def payload_json(self, job: Job) -> str:
        return pretty_json(job.payload)

    @admin.display(description="result")
    def result_json(self, job: Job) -> str:
        return self.get_empty_value_display() if job.result is None else pretty_json(job.result)

    @admin.display(description="checkpoint")
    def checkpoint_json(self, job: Job) -> str:
        if job.checkpoint is None:
            return self.get_empty_value_display()
        return pretty_json(job.checkpoint)

    @admin.display(description="error details")
    def error_details_json(self, job: Job) -> str:
        details = job.error_details
        if details is None:
            return self.get_empty_value_display()
        if isinstance(details, dict) and "traceback" in details:
            # Shown on its own below, with its line breaks, rather than as one JSON string.
            details = {key: value for key, value in details.items() if key != "traceback"}
        return pretty_json(details)

    @admin.display(description="traceback")
    def traceback(self, job: Job) -> str:
        details = job.error_details
        # error_traceback; in error_details for rows written before it existed.
        text = job.error_traceback or (
            details.get("traceback") if isinstance(details, dict) else None)
        if not text:
            return self.get_empty_value_display()
        return format_html('<pre style="{}">{}</pre>', PRE_STYLE, str(text))

    # --- signals: actions --------------------------------------------------------------------

    @admin.action(description="Cancel selected jobs", permissions=["signal"])
    def cancel_jobs(self, request, queryset):
        self.send_signal(request, self.light(queryset), "cancel")

    @admin.action(description="Retry selected jobs", permissions=["signal"])
    def retry_jobs(self, request, queryset):
        self.send_signal(request, self.light(queryset), "retry")

    @admin.action(description="Run selected jobs now", permissions=["signal"])
    def run_jobs_now(self, request, queryset):
        self.send_signal(request, self.light(queryset), "run_now")

    @staticmethod
    def light(queryset):
        """The selection without its JSON documents: the services need only the pk."""
        return queryset.select_related(None).only("pk", "status")

    def send_signal(self, request, jobs: Iterable[Job], name: str) -> None:
        """Signal each job through the services; report what was done and, grouped by
        reason, which jobs were refused."""
        done: dict[str, int] = defaultdict(int)
        refused: dict[str, list[str]] = defaultdict(list)
        for job in jobs:
            try:
                job = services.signal(job, name)
            except JobStateError as exc:
                refused[str(exc)].append(short_id_of(job))
                continue
            job_events.signalled(job, name, f"user:{request.user.pk}")
            requested = name == "cancel" and job.status == JobStatus.RUNNING
            done["requested" if requested else "done"] += 1
            self.log_change(request, job, SIGNAL_LOG["cancel_requested" if requested else name])
        if done["done"]:
            text = {"cancel": "Cancelled {}.", "retry": "Queued {} again.",
                    "run_now": "Scheduled {} to run now."}[name]
            self.message_user(request, text.format(plural(done["done"])), messages.SUCCESS)
        if done["requested"]:
            self.message_user(request, f"Requested the cancellation of "
                                       f"{plural(done['requested'], 'running job')}: a running "
                                       "job stops at its handler's next check.",
                              messages.SUCCESS)
        level = messages.WARNING if sum(done.values()) else messages.ERROR
        for reason, ids in refused.items():
            self.message_user(request, f"Refused for {plural(len(ids))} ({id_list(ids)}): "
                                       f"{reason}", level)

    # --- signals: buttons on the change page -------------------------------------------------

    def url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_urls(self):
        return [
            path("<path:object_id>/signal/<str:name>/",
                 self.admin_site.admin_view(self.signal_view), name=self.url_name("signal")),
            *super().get_urls(),
        ]

    def signal_view(self, request, object_id, name):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if name not in services.SIGNALS:
            raise Http404(f"No signal {name!r}.")
        job = self.get_object(request, unquote(object_id))
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_signal_permission(request, job):
            raise PermissionDenied
        self.send_signal(request, [job], name)
        return HttpResponseRedirect(self.change_url(job))

    def change_url(self, job: Job) -> str:
        return reverse(f"admin:{self.url_name('change')}", args=[quote(job.pk)],
                       current_app=self.admin_site.name)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, unquote(object_id))
        if job is not None and self.has_signal_permission(request, job):
            extra_context = {
                **(extra_context or {}),
                "job_signals": [
                    (SIGNAL_LABELS[name], name,
                     reverse(f"admin:{self.url_name('signal')}", args=[quote(job.pk), name],
                             current_app=self.admin_site.name))
                    for name in services.SIGNALS if job.status in SIGNAL_STATUSES[name]],
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- deletion: never a running job (services.delete semantics) ---------------------------

    def delete_view(self, request, object_id, extra_context=None):
        job = self.get_object(request, unquote(object_id))
        if job is not None and job.status == JobStatus.RUNNING \
                and super().has_delete_permission(request, job):
            return self.refuse_delete(request, job)
        try:
            return super().delete_view(request, object_id, extra_context)
        except JobStateError:  # it started running between the page and the confirmation
            return self.refuse_delete(request, job)

    def refuse_delete(self, request, job: Job):
        self.message_user(request, f"Job {short_id_of(job)} is running and cannot be deleted; "
                                   "cancel it first.", messages.ERROR)
        return HttpResponseRedirect(self.change_url(job))

    def delete_model(self, request, obj):
        services.delete(obj)  # raises JobStateError (rolling back the log entry) if running

    @admin.action(description="Delete selected jobs (except running ones)",
                  permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's delete action (confirmation page and all), without the running jobs."""
        running = [str(pk)[:8] for pk in
                   queryset.filter(status=JobStatus.RUNNING).values_list("pk", flat=True)]
        if running:
            self.message_user(request, f"Skipped {plural(len(running), 'running job')} "
                                       f"({id_list(running)}): cancel before deleting.",
                              messages.WARNING)
        deletable = queryset.exclude(status=JobStatus.RUNNING)
        if not deletable.exists():
            return None
        return django_delete_selected(self, request, deletable)

    def delete_queryset(self, request, queryset):
        expected = len(queryset)
        _, counts = queryset.exclude(status=JobStatus.RUNNING).delete()
        skipped = expected - counts.get(Job._meta.label, 0)
        if skipped:
            self.message_user(request, f"Not deleted: {plural(skipped)} started running "
                                       "meanwhile.", messages.WARNING)
