"""The syncs admin: edits of a sync's name, status and trigger (validated and saved by
services.validate_sync / update_sync, as the API's PATCH is), trigger / pause / resume, its
freshness, and deletion of a sync without runs only (one with runs is archived instead)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db.models import OuterRef, Subquery
from django.utils.html import format_html, format_html_join
from rest_framework.exceptions import APIException

from jobs.admin import id_list, plural
from syncs import services
from syncs.admin.actions import actor_of, report
from syncs.admin.bindings import TableBindingInline
from syncs.admin.buttons import ObjectButtonsMixin
from syncs.admin.deletion import GuardedDeleteMixin, delete_selected_of
from syncs.admin.formatting import (
    GREEN,
    GREY,
    RED,
    RUN_COLOURS,
    SYNC_COLOURS,
    admin_url,
    badge,
    change_link,
    json_display,
    short_run_id,
)
from syncs.admin.widgets import JSON_TEXTAREA, PrettyJSONField, field_of_error
from syncs.freshness import EXPECTED_TO_RUN, stale_of, with_stale
from syncs.models import Sync, SyncRun
from syncservice.jsonapi.errors import Conflict, InvalidAttribute


class SyncForm(forms.ModelForm):
    """The fields an operator may change here; every change is validated and saved by
    services.validate_sync / update_sync, as the API's PATCH is."""

    schedule = PrettyJSONField(required=False, widget=forms.Textarea(
        attrs={**JSON_TEXTAREA, "rows": 5}),
        help_text='{"cron": "0 * * * *", "timezone": "UTC"}; needed when the trigger mode is '
                  "scheduled.")

    class Meta:
        model = Sync
        fields = ["name", "status", "trigger_mode", "schedule"]

    FIELDS = {"name": "name", "status": "status", "trigger_mode": "trigger_mode",
              "schedule": "schedule"}

    def clean(self):
        cleaned = super().clean()
        self.changes = {name: cleaned[name] for name in self.changed_data if name in cleaned}
        if "schedule" in self.changes and self.changes["schedule"] is None:
            self.changes["schedule"] = {}
        if self.errors:
            return cleaned
        try:
            services.validate_sync(self.instance.project, self.changes, instance=self.instance)
        except InvalidAttribute as exc:
            field, message = field_of_error(exc, self.FIELDS)
            self.add_error(field, message)
        except Conflict as exc:
            self.add_error(None, str(exc.detail))
        if cleaned.get("schedule") is None:
            cleaned["schedule"] = {}
        return cleaned


PAUSABLE = (Sync.Status.ACTIVE, Sync.Status.ERROR)
RESUMABLE = (Sync.Status.PAUSED, Sync.Status.DRAFT, Sync.Status.ERROR)


class StaleFilter(admin.SimpleListFilter):
    """Syncs whose data is older than their freshness SLA (``syncs.freshness``)."""

    title = "freshness"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [("true", "stale"), ("false", "fresh or no SLA")]

    def queryset(self, request, queryset):
        if self.value() in ("true", "false"):
            return queryset.filter(stale=self.value() == "true")
        return queryset


def last_run_subquery(field: str):
    return Subquery(SyncRun.objects.filter(sync=OuterRef("pk")).order_by("-created_at")
                    .values(field)[:1])


@admin.register(Sync)
class SyncAdmin(GuardedDeleteMixin, ObjectButtonsMixin, admin.ModelAdmin):
    form = SyncForm
    list_display = ["name", "slug", "project", "provider", "status_badge", "freshness_badge",
                    "trigger_mode", "last_success_at", "last_run_badge", "next_run_at"]
    list_filter = ["status", StaleFilter, "trigger_mode", "execution_mode", "project"]
    search_fields = ["name", "slug"]
    list_select_related = ["project", "connection"]
    ordering = ["name"]
    actions = ["trigger_syncs", "pause_syncs", "resume_syncs", "delete_selected"]
    inlines = [TableBindingInline]
    deleted_word = "sync"
    object_buttons = {
        "trigger": ("Trigger", "do_trigger", "change",
                    lambda s: s.status in services.TRIGGERABLE),
        "pause": ("Pause", "do_pause", "change", lambda s: s.status in PAUSABLE),
        "resume": ("Resume", "do_resume", "change", lambda s: s.status in RESUMABLE),
    }

    fieldsets = [
        (None, {"fields": ["name", "slug", "project", "connection_link", "provider",
                           "status", "last_error"]}),
        ("Trigger", {"fields": ["trigger_mode", "schedule", "next_run_at",
                                "freshness_sla_seconds", "freshness_badge"]}),
        ("What and how", {"fields": ["entities_list", "execution_backend", "execution_mode",
                                     "execution_config_json", "source_config_json",
                                     "destination_config_json"]}),
        ("Runs", {"fields": ["last_success_at", "last_run_link", "runs_link"]}),
        ("History", {"fields": ["created_by", "updated_by", "created_at", "updated_at"]}),
    ]
    readonly_fields = [f for _, options in fieldsets for f in options["fields"]
                       if f not in SyncForm.Meta.fields]

    def get_queryset(self, request):
        return with_stale(super().get_queryset(request)).annotate(
            last_run_status=last_run_subquery("status"), last_run_id=last_run_subquery("id"))

    def has_add_permission(self, request):
        return False  # created through the API, which picks entities from the catalog

    # --- columns and fields ------------------------------------------------------------------

    @admin.display(description="provider", ordering="connection__provider")
    def provider(self, sync: Sync) -> str:
        return sync.connection.provider

    @admin.display(description="status", ordering="status")
    def status_badge(self, sync: Sync) -> str:
        return badge(sync.status, SYNC_COLOURS.get(sync.status, GREY),
                     sync.last_error or sync.status)

    @admin.display(description="freshness", ordering="stale")
    def freshness_badge(self, sync: Sync) -> str:
        sla = sync.freshness_sla_seconds
        if sla is None:
            return self.get_empty_value_display()
        since = "last success" if sync.last_success_at else "creation (never succeeded)"
        if stale_of(sync):
            return badge("stale", RED, f"No success within the SLA of {sla} s since {since}")
        if sync.status not in EXPECTED_TO_RUN:
            return badge("not running", GREY, f"SLA {sla} s; a {sync.status} sync is not "
                                              "expected to run")
        return badge("fresh", GREEN, f"Within the SLA of {sla} s since {since}")

    @admin.display(description="last run", ordering="last_run_status")
    def last_run_badge(self, sync: Sync) -> str:
        status = getattr(sync, "last_run_status", None)
        if not status:
            return self.get_empty_value_display()
        return format_html('<a href="{}">{}</a>', admin_url(
            self.admin_site, SyncRun, "change", quote(sync.last_run_id)),
            badge(status, RUN_COLOURS.get(status, GREY)))

    @admin.display(description="connection")
    def connection_link(self, sync: Sync) -> str:
        return change_link(self.admin_site, sync.connection)

    @admin.display(description="entities")
    def entities_list(self, sync: Sync) -> str:
        return format_html_join(", ", "<code>{}</code>", ((e,) for e in sync.entities)) \
            or "none"

    execution_config_json = json_display("execution_config", "execution config")
    source_config_json = json_display("source_config", "source config")
    destination_config_json = json_display("destination_config", "destination config")

    @admin.display(description="last run")
    def last_run_link(self, sync: Sync) -> str:
        run = sync.runs.order_by("-created_at").first()
        if run is None:
            return self.get_empty_value_display()
        return format_html("{} {}", change_link(self.admin_site, run, short_run_id(run)),
                           badge(run.status, RUN_COLOURS.get(run.status, GREY)))

    @admin.display(description="runs")
    def runs_link(self, sync: Sync) -> str:
        url = admin_url(self.admin_site, SyncRun, "changelist") + f"?sync__id__exact={sync.pk}"
        return format_html('<a href="{}">{}</a>', url, plural(sync.runs.count(), "run"))

    # --- saving: through services.update_sync ------------------------------------------------

    def save_model(self, request, obj, form, change):
        services.update_sync(obj, form.changes, actor=actor_of(request))

    # --- actions -----------------------------------------------------------------------------

    @admin.action(description="Trigger selected syncs (incremental)", permissions=["change"])
    def trigger_syncs(self, request, queryset):
        self.do_trigger(request, queryset)

    @admin.action(description="Pause selected syncs", permissions=["change"])
    def pause_syncs(self, request, queryset):
        self.do_pause(request, queryset)

    @admin.action(description="Resume selected syncs (status active)", permissions=["change"])
    def resume_syncs(self, request, queryset):
        self.do_resume(request, queryset)

    def do_trigger(self, request, syncs: Iterable[Sync]) -> list[SyncRun]:
        runs: list[SyncRun] = []
        refused: dict[str, list[str]] = defaultdict(list)
        for sync in syncs:
            try:
                run = services.trigger(sync, SyncRun.RunMode.INCREMENTAL,
                                       triggered_by=SyncRun.TriggeredBy.MANUAL,
                                       actor=actor_of(request))
            except services.SyncStateError as exc:
                refused[str(exc)].append(sync.slug)
                continue
            runs.append(run)
            self.log_change(request, sync, f"Triggered run {run.pk}.")
        report(self, request, [f"{r.sync.slug}: run {short_run_id(r)}" for r in runs],
               refused, "Triggered {}.", "Not triggered:", "sync")
        return []  # the button comes back to the sync's page

    def do_pause(self, request, syncs: Iterable[Sync]) -> None:
        self.set_status(request, syncs, Sync.Status.PAUSED, PAUSABLE, "Paused {}.",
                        "Not paused:")

    def do_resume(self, request, syncs: Iterable[Sync]) -> None:
        self.set_status(request, syncs, Sync.Status.ACTIVE, RESUMABLE, "Resumed {}.",
                        "Not resumed:")

    def set_status(self, request, syncs: Iterable[Sync], status: str, allowed: tuple,
                   done_text: str, refused_text: str) -> None:
        done: list[str] = []
        refused: dict[str, list[str]] = defaultdict(list)
        for sync in syncs:
            if sync.status not in allowed:
                refused[f"a {sync.status} sync cannot be "
                        f"{'paused' if status == Sync.Status.PAUSED else 'resumed'} "
                        f"(only {' or '.join(allowed)} ones can)."].append(sync.slug)
                continue
            try:
                services.update_sync(sync, {"status": status}, actor=actor_of(request))
            except APIException as exc:
                refused[str(exc.detail)].append(sync.slug)
                continue
            done.append(sync.slug)
            self.log_change(request, sync, f"Status: {status}.")
        report(self, request, done, refused, done_text, refused_text, "sync")

    # --- deletion: through services.delete_sync, only a sync without runs -------------------
    # A sync's runs are its history: a sync that has any is archived (status archived, as
    # the API's DELETE does), not deleted; its runs are deleted only explicitly (runs admin),
    # after which the sync itself can be.

    def delete_model(self, request, obj):
        services.delete_sync(obj)

    def why_kept(self, sync: Sync) -> str | None:
        return services.why_sync_kept(sync)

    def refusal(self, sync: Sync, reason: str) -> str:
        return f"Sync {sync.slug} cannot be deleted: {reason}"

    def label_of(self, sync: Sync) -> str:
        return sync.slug

    @admin.action(description="Delete selected syncs (only those without runs)",
                  permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's delete action (confirmation page and all), without the syncs that have
        runs (history): those are reported, to be archived instead."""
        kept = list(queryset.filter(runs__isnull=False).distinct().order_by("slug")
                    .values_list("slug", flat=True))
        if kept:
            self.message_user(request, f"Not deleted: {plural(len(kept), 'sync')} "
                                       f"({id_list(kept)}) with runs, kept as history: archive "
                                       "them instead (status archived), or delete their runs "
                                       "explicitly first.", messages.WARNING)
        return delete_selected_of(self, request, queryset.filter(runs__isnull=True))
