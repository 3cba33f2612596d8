"""The operators' view of syncs: connections (secrets write-only), syncs with their table
bindings, runs with their per-entity results and attempt chain, and a browsable provider
catalog.

As in the jobs and exports admins, state changes go through ``syncs.services`` (trigger,
cancel, retry, check, update) and refusals are reported, never raised. Secret values are
never rendered: a connection's page lists the *names* of its stored secrets and offers a
write-only field to replace them (what is typed there is not echoed back, even when the form
has errors).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from rest_framework.exceptions import APIException

from jobs.admin import BADGE_STYLE, ReadOnlyInline, id_list, plural, pretty_json
from syncs import secrets as secret_store
from syncs import services
from syncs.freshness import EXPECTED_TO_RUN, stale_of, with_stale
from syncs.models import Connection, Sync, SyncRun, TableBinding
from syncs.providers import base as catalog
from syncservice.events.admin import EventsTableMixin
from syncservice.jsonapi.errors import Conflict, InvalidAttribute

GREY, BLUE, GREEN, RED, ORANGE, DARK = ("#6c757d", "#0d6efd", "#198754", "#dc3545", "#b35c00",
                                        "#495057")
SYNC_COLOURS = {Sync.Status.DRAFT: GREY, Sync.Status.ACTIVE: GREEN, Sync.Status.PAUSED: ORANGE,
                Sync.Status.ERROR: RED, Sync.Status.ARCHIVED: DARK}
RUN_COLOURS = {SyncRun.Status.PENDING: GREY, SyncRun.Status.RUNNING: BLUE,
               SyncRun.Status.SUCCEEDED: GREEN, SyncRun.Status.FAILED: RED,
               SyncRun.Status.CANCELLED: ORANGE,
               # per-entity and per-task states of a run's summary
               "skipped": DARK, "queued": GREY}
CHECK_COLOURS = {"ok": GREEN, "failed": RED}
JSON_TEXTAREA = {"rows": 14, "cols": 90, "style": "font-family:monospace;font-size:12px"}
ACTIVE_RUN_STATUSES = (SyncRun.Status.PENDING, SyncRun.Status.RUNNING)


def badge(label: str, colour: str, title: str | None = None) -> str:
    return format_html('<span style="{}" title="{}">{}</span>', BADGE_STYLE.format(colour),
                       title or label, label)


def actor_of(request) -> str:
    return f"user:{request.user.pk}"[:64]


def admin_url(admin_site, model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args,
                   current_app=admin_site.name)


def change_link(admin_site, obj, label: str | None = None) -> str:
    if obj is None:
        return "-"
    return format_html('<a href="{}">{}</a>',
                       admin_url(admin_site, type(obj), "change", quote(obj.pk)),
                       label or str(obj))


def short_run_id(run: SyncRun | None) -> str:
    return str(run.pk)[:8] if run is not None else "-"


def field_of_error(exc: InvalidAttribute, fields: dict[str, str]) -> tuple[str | None, str]:
    """The form field an API validation error is about, and its message: the pointer
    ``/data/attributes/config/base_url`` is about ``config`` and names ``base_url``."""
    parts = (getattr(exc, "pointer", "") or "").split("/")
    attribute = parts[3] if len(parts) > 3 else ""
    where = "/".join(parts[4:])
    message = str(exc.detail)
    if where:
        message = f"{where}: {message}"
    return fields.get(attribute), message


def report(model_admin, request, done: list[str], refused: dict[str, list[str]],
           done_text: str, refused_text: str, word: str) -> None:
    """One success message naming what was done, one message per refusal reason (a warning
    when something was done, an error when nothing was)."""
    if done:
        model_admin.message_user(request, done_text.format(
            f"{plural(len(done), word)} ({id_list(done)})"), messages.SUCCESS)
    level = messages.WARNING if done else messages.ERROR
    for reason, names in refused.items():
        model_admin.message_user(request, f"{refused_text} {plural(len(names), word)} "
                                          f"({id_list(names)}): {reason}", level)


class PrettyJSONField(forms.JSONField):
    """A JSON object edited as indented JSON (Django's own is one long line)."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, cls=self.encoder)

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object, e.g. {\"key\": \"value\"}.")
        return value


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: secrets typed in are not sent back."""

    def format_value(self, value):
        return None


class ObjectButtonsMixin:
    """Buttons on the change page (rendered by ``admin/syncs/change_form.html``), each a POST
    to ``<object_id>/do/<name>/`` that runs one of the admin's bulk operations on the object
    and comes back to its page with the messages.

    ``object_buttons`` maps a name to (label, method name, permission name, predicate):
    the button shows when the user has the permission and ``predicate(obj)`` holds."""

    object_buttons: dict[str, tuple[str, str, str, Callable]] = {}

    def url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_urls(self):
        return [path("<path:object_id>/do/<str:name>/",
                     self.admin_site.admin_view(self.button_view),
                     name=self.url_name("button")),
                *super().get_urls()]

    def change_url(self, obj) -> str:
        return admin_url(self.admin_site, self.model, "change", quote(obj.pk))

    def allowed(self, request, permission: str, obj) -> bool:
        return getattr(self, f"has_{permission}_permission")(request, obj)

    def button_view(self, request, object_id, name):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if name not in self.object_buttons:
            raise Http404(f"No operation {name!r}.")
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        _, method, permission, _ = self.object_buttons[name]
        if not self.allowed(request, permission, obj):
            raise PermissionDenied
        after = getattr(self, method)(request, [obj])
        target = after[0] if isinstance(after, list) and after else obj
        return HttpResponseRedirect(self.change_url(target))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context = {**(extra_context or {}), "object_buttons": [
                (label, name, reverse(f"admin:{self.url_name('button')}",
                                      args=[quote(obj.pk), name],
                                      current_app=self.admin_site.name))
                for name, (label, _, permission, shown) in self.object_buttons.items()
                if shown(obj) and self.allowed(request, permission, obj)]}
        return super().change_view(request, object_id, form_url, extra_context)


# --- connections ----------------------------------------------------------------------------

class ConnectionForm(forms.ModelForm):
    config = PrettyJSONField(required=False, widget=forms.Textarea(attrs=JSON_TEXTAREA),
                             help_text="The provider's connection settings (no secrets here): "
                                       "a JSON object, checked against the provider's config "
                                       "schema (see the provider catalog).")
    new_secrets = forms.CharField(
        label="new secrets", required=False, strip=True,
        widget=WriteOnlyTextarea(attrs={**JSON_TEXTAREA, "rows": 5, "autocomplete": "off"}),
        help_text="Replace the secrets: a JSON object, e.g. {\"token\": \"…\"}; leave empty "
                  "to keep them. They are stored encrypted and never shown again.")

    class Meta:
        model = Connection
        fields = ["project", "provider", "name", "config"]

    FIELDS = {"provider": "provider", "config": "config", "secrets": "new_secrets",
              "name": "name"}

    def clean(self):
        cleaned = super().clean()
        adding = self.instance._state.adding
        provider = cleaned.get("provider") if adding else self.instance.provider
        config = cleaned.get("config") or {}
        self.secrets_to_store = self.parse_secrets(cleaned.get("new_secrets"))
        if adding and self.secrets_to_store is None and "new_secrets" not in self.errors:
            self.secrets_to_store = {}
        if provider and not {"config", "new_secrets", "provider"} & set(self.errors):
            try:
                services.validate_connection(provider, config, self.secrets_to_store)
            except InvalidAttribute as exc:
                field, message = field_of_error(exc, self.FIELDS)
                self.add_error(field, message)
        name = cleaned.get("name")
        if not adding and name and Connection.objects.filter(
                project_id=self.instance.project_id, name=name).exclude(
                pk=self.instance.pk).exists():
            self.add_error("name", f"A connection named {name!r} already exists in this "
                                   "project.")
        cleaned["config"] = config
        return cleaned

    def parse_secrets(self, raw: str | None) -> dict | None:
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            # The decoder's message gives a position, never the text.
            self.add_error("new_secrets", f"Not valid JSON ({exc.msg} at line {exc.lineno}, "
                                          f"column {exc.colno}); the stored secrets are "
                                          "unchanged.")
            return None
        if not isinstance(value, dict):
            self.add_error("new_secrets", "Enter a JSON object of secret names and values.")
            return None
        return value


@admin.register(Connection)
class ConnectionAdmin(ObjectButtonsMixin, admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["name", "provider", "project", "check_badge", "last_check_at", "created_at"]
    list_filter = ["provider", "project", "last_check_status"]
    search_fields = ["name"]
    list_select_related = ["project"]
    ordering = ["name"]
    actions = ["check_connections", "delete_selected"]
    object_buttons = {"check": ("Check connection", "do_check", "change", lambda c: True)}

    details = ["stored_secrets", "check_badge", "last_check_at", "last_check_error",
               "sync_links", "provider_link", "created_by", "created_at", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["project", "provider", "name"]}),
                    ("Configuration", {"fields": ["config"]}),
                    ("Secrets", {"fields": ["new_secrets"]})]
        return [
            (None, {"fields": ["name", "project", "provider_link", "created_by", "created_at",
                               "updated_at"]}),
            ("Configuration", {"fields": ["config"]}),
            ("Secrets", {"fields": ["stored_secrets", "new_secrets"]}),
            ("Last check", {"fields": ["check_badge", "last_check_at", "last_check_error"]}),
            ("Syncs", {"fields": ["sync_links"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.details
        # A connection's project and provider never change (its config, secrets and syncs
        # are the provider's).
        return [*self.details, "project", "provider"]

    # --- columns and fields ------------------------------------------------------------------

    @admin.display(description="last check", ordering="last_check_status")
    def check_badge(self, connection: Connection) -> str:
        status = connection.last_check_status or "never"
        return badge(status, CHECK_COLOURS.get(status, GREY),
                     connection.last_check_error or status)

    @admin.display(description="stored secrets")
    def stored_secrets(self, connection: Connection) -> str:
        try:
            names = services.secret_names(connection)
        except secret_store.SecretsError as exc:
            return str(exc)
        if not names:
            return "none"
        return format_html_join(", ", "<code>{}</code>", ((name,) for name in names))

    @admin.display(description="provider")
    def provider_link(self, connection: Connection) -> str:
        return format_html('{} (<a href="{}">catalog</a>)', connection.provider,
                           reverse(f"admin:{self.url_name('catalog_provider')}",
                                   args=[connection.provider],
                                   current_app=self.admin_site.name))

    @admin.display(description="syncs")
    def sync_links(self, connection: Connection) -> str:
        syncs = list(connection.syncs.order_by("name"))
        if not syncs:
            return "none"
        return format_html_join(mark_safe("<br>"), "{} {}", (
            (change_link(self.admin_site, s, f"{s.name} ({s.slug})"),
             badge(s.status, SYNC_COLOURS.get(s.status, GREY))) for s in syncs))

    # --- saving: through the services --------------------------------------------------------

    def save_model(self, request, obj, form, change):
        secrets = form.secrets_to_store
        if not change:
            created = services.create_connection(
                obj.project, provider=obj.provider, name=obj.name, config=obj.config,
                secrets=secrets or {}, created_by=actor_of(request))
            obj.pk = created.pk
            obj._state.adding = False
            obj.refresh_from_db()
            return
        with transaction.atomic():
            services.update_connection(obj, name=obj.name, config=obj.config)
            if secrets is not None:
                # A replacement, not a merge: update_connection(secrets=...) would keep the
                # names left out. Validated whole (services.validate_connection) in the form.
                obj.secrets_encrypted = secret_store.encrypt(secrets)
                obj.save(update_fields=["secrets_encrypted", "updated_at"])

    # --- check -------------------------------------------------------------------------------

    @admin.action(description="Check connection", permissions=["change"])
    def check_connections(self, request, queryset):
        self.do_check(request, queryset)

    def do_check(self, request, connections: Iterable[Connection]) -> None:
        passed: list[str] = []
        failed: list[tuple[str, str]] = []
        for connection in connections:
            ok, message = services.check_connection(connection)
            if ok:
                passed.append(connection.name)
            else:
                failed.append((connection.name, message))
            self.log_change(request, connection, "Checked: ok." if ok else
                            "Checked: failed.")
        if passed:
            self.message_user(request, f"Check ok: {plural(len(passed), 'connection')} "
                                       f"({id_list(passed)}).", messages.SUCCESS)
        for name, message in failed:
            self.message_user(request, f"Check failed: {name}: {message}", messages.ERROR)

    # --- deletion: through services.delete_connection, never one a sync uses ----------------
    # A sync (archived ones included) keeps its runs as history; deleting its connection
    # would take them along, so a connection in use is refused with the syncs named.

    def delete_model(self, request, obj):
        services.delete_connection(obj)  # SyncStateError rolls the log entry back

    def delete_view(self, request, object_id, extra_context=None):
        connection = self.get_object(request, unquote(object_id))
        if connection is not None and self.has_delete_permission(request, connection):
            users = services.connection_users(connection)
            if users:
                return self.refuse_delete(request, connection,
                                          services.ConnectionInUse(connection, users))
        try:
            return super().delete_view(request, object_id, extra_context)
        except services.SyncStateError as exc:  # a sync was created since the confirmation
            return self.refuse_delete(request, connection, exc)

    def refuse_delete(self, request, connection: Connection, exc: Exception):
        self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(self.change_url(connection))

    @admin.action(description="Delete selected connections (except those syncs use)",
                  permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's delete action (confirmation page and all), without the connections a
        sync uses: each of those is reported with the syncs that use it."""
        users: dict = defaultdict(list)
        for connection_id, slug, pk, status in Sync.objects.filter(
                connection__in=queryset).order_by("slug").values_list(
                "connection_id", "slug", "pk", "status"):
            users[connection_id].append((slug, str(pk), status))
        for connection in queryset.filter(pk__in=list(users)):
            refusal = services.ConnectionInUse(connection, users[connection.pk])
            self.message_user(request, f"Not deleted: {refusal}", messages.WARNING)
        deletable = queryset.exclude(pk__in=list(users))
        if not deletable.exists():
            return None
        return django_delete_selected(self, request, deletable)

    def delete_queryset(self, request, queryset):
        refused: dict[str, list[str]] = defaultdict(list)
        for connection in queryset:
            try:
                services.delete_connection(connection)
            except services.SyncStateError as exc:
                refused[str(exc)].append(connection.name)
        for reason, names in refused.items():
            self.message_user(request, f"Not deleted: {plural(len(names), 'connection')} "
                                       f"({id_list(names)}): {reason}", messages.WARNING)

    # --- the provider catalog ----------------------------------------------------------------

    def get_urls(self):
        return [path("catalog/", self.admin_site.admin_view(self.catalog_view),
                     name=self.url_name("catalog")),
                path("catalog/<str:provider>/", self.admin_site.admin_view(self.catalog_view),
                     name=self.url_name("catalog_provider")),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}),
                         "catalog_url": reverse(f"admin:{self.url_name('catalog')}",
                                                current_app=self.admin_site.name)}
        return super().changelist_view(request, extra_context)

    def catalog_view(self, request, provider: str | None = None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        index_url = reverse(f"admin:{self.url_name('catalog')}",
                            current_app=self.admin_site.name)
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "catalog_url": index_url,
                   "changelist_url": admin_url(self.admin_site, Connection, "changelist")}
        if provider is None:
            counts = dict(Connection.objects.values_list("provider").annotate(n=Count("pk"))
                          .order_by())
            context.update(title="Provider catalog", providers=[{
                **spec.to_catalog(), "connections": counts.get(spec.key, 0),
                "url": reverse(f"admin:{self.url_name('catalog_provider')}", args=[spec.key],
                               current_app=self.admin_site.name)}
                for spec in catalog.all_providers()])
            return TemplateResponse(request, "admin/syncs/catalog/index.html", context)
        spec = catalog.get_provider(provider)
        if spec is None:
            raise Http404(f"No provider {provider!r}.")
        entry = spec.to_catalog()
        context.update(
            title=f"{spec.display_name} ({spec.key})", provider=entry,
            config_schema=pretty_json(entry["config_schema"]),
            secrets_schema=pretty_json(entry["secrets_schema"]),
            defaults=pretty_json(entry["defaults"]),
            connections_url=admin_url(self.admin_site, Connection, "changelist")
            + f"?provider__exact={spec.key}")
        return TemplateResponse(request, "admin/syncs/catalog/provider.html", context)


# --- syncs ----------------------------------------------------------------------------------

class TableBindingInline(ReadOnlyInline):
    model = TableBinding
    fields = ["entity_key", "physical_table_name", "logical_table_name", "table_name",
              "load_mode", "cursor_field", "primary_key_columns", "table_naming_version",
              "source_instance_key"]
    ordering = ["entity_key"]


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
class SyncAdmin(ObjectButtonsMixin, admin.ModelAdmin):
    form = SyncForm
    list_display = ["name", "slug", "project", "provider", "status_badge", "freshness_badge",
                    "trigger_mode", "last_success_at", "last_run_badge", "next_run_at"]
    list_filter = ["status", StaleFilter, "trigger_mode", "execution_mode", "project"]
    search_fields = ["name", "slug"]
    list_select_related = ["project", "connection"]
    ordering = ["name"]
    actions = ["trigger_syncs", "pause_syncs", "resume_syncs", "delete_selected"]
    inlines = [TableBindingInline]
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

    @admin.display(description="execution config")
    def execution_config_json(self, sync: Sync) -> str:
        return pretty_json(sync.execution_config)

    @admin.display(description="source config")
    def source_config_json(self, sync: Sync) -> str:
        return pretty_json(sync.source_config)

    @admin.display(description="destination config")
    def destination_config_json(self, sync: Sync) -> str:
        return pretty_json(sync.destination_config)

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

    def delete_view(self, request, object_id, extra_context=None):
        sync = self.get_object(request, unquote(object_id))
        if sync is not None and self.has_delete_permission(request, sync):
            reason = self.why_kept(sync)
            if reason:
                return self.refuse_delete(request, sync, reason)
        try:
            return super().delete_view(request, object_id, extra_context)
        except services.SyncStateError as exc:  # a run started since the confirmation page
            return self.refuse_delete(request, sync, str(exc))

    @staticmethod
    def why_kept(sync: Sync) -> str | None:
        if sync.runs.filter(status__in=ACTIVE_RUN_STATUSES).exists():
            return "A run of this sync is pending or running; cancel it first."
        runs = sync.runs.count()
        if runs:
            return (f"it has {plural(runs, 'run')}, kept as history: archive it instead (status "
                    "archived), or delete its runs explicitly first.")
        return None

    def refuse_delete(self, request, sync: Sync, reason: str):
        self.message_user(request, f"Sync {sync.slug} cannot be deleted: {reason}",
                          messages.ERROR)
        return HttpResponseRedirect(self.change_url(sync))

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
        deletable = queryset.filter(runs__isnull=True)
        if not deletable.exists():
            return None
        return django_delete_selected(self, request, deletable)

    def delete_queryset(self, request, queryset):
        refused: dict[str, list[str]] = defaultdict(list)
        for sync in queryset:
            try:
                services.delete_sync(sync)
            except services.SyncStateError as exc:
                refused[str(exc)].append(sync.slug)
        for reason, slugs in refused.items():
            self.message_user(request, f"Not deleted: {plural(len(slugs), 'sync')} "
                                       f"({id_list(slugs)}): {reason}", messages.WARNING)


# --- runs -----------------------------------------------------------------------------------

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

    @admin.display(description="backend status")
    def backend_status_json(self, run: SyncRun) -> str:
        return pretty_json(run.backend_status)

    @admin.display(description="summary")
    def summary_json(self, run: SyncRun) -> str:
        return pretty_json(run.summary)

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
        deletable = queryset.exclude(status__in=ACTIVE_RUN_STATUSES)
        if not deletable.exists():
            return None
        return django_delete_selected(self, request, deletable)

    def delete_queryset(self, request, queryset):
        queryset.exclude(status__in=ACTIVE_RUN_STATUSES).delete()
