"""The connections admin: a connection's config and its secrets (write-only: their names are
listed, their values never rendered), its check, and deletion refused while a sync uses it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from jobs.admin import id_list, plural
from syncs import secrets as secret_store
from syncs import services
from syncs.admin.actions import actor_of
from syncs.admin.buttons import ObjectButtonsMixin
from syncs.admin.catalog import ProviderCatalogMixin
from syncs.admin.deletion import GuardedDeleteMixin, delete_selected_of
from syncs.admin.formatting import CHECK_COLOURS, GREY, SYNC_COLOURS, admin_url, badge, change_link
from syncs.admin.widgets import JSON_TEXTAREA, PrettyJSONField, WriteOnlyTextarea, field_of_error
from syncs.models import Connection, Sync
from syncservice.jsonapi.errors import Conflict, InvalidAttribute


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
        if not adding and name:
            try:
                services.check_name_free(self.instance.project_id, name,
                                         exclude=self.instance.pk)
            except Conflict as exc:
                self.add_error("name", str(exc.detail))
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
class ConnectionAdmin(ProviderCatalogMixin, GuardedDeleteMixin, ObjectButtonsMixin,
                      admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["name", "provider", "project", "check_badge", "last_check_at", "created_at"]
    list_filter = ["provider", "project", "last_check_status"]
    search_fields = ["name"]
    list_select_related = ["project"]
    ordering = ["name"]
    actions = ["check_connections", "delete_selected"]
    deleted_word = "connection"
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
                           admin_url(self.admin_site, Connection, "catalog_provider",
                                     connection.provider))

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

    def why_kept(self, connection: Connection) -> str | None:
        users = services.connection_users(connection)
        return str(services.ConnectionInUse(connection, users)) if users else None

    def label_of(self, connection: Connection) -> str:
        return connection.name

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
        return delete_selected_of(self, request, deletable)
