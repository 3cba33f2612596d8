"""Events in the admin: a read-only list with filters, and a read-only table of a subject's
events on the change pages of runs, exports and jobs (``EventsTableMixin``)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from syncservice.events.models import Event
from syncservice.events.services import events_of

# The change page shows a subject's newest events, oldest first; the list has them all.
ADMIN_TABLE_ROWS = 200


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "subject_type", "subject_id", "kind", "message", "project"]
    list_filter = ["kind", "subject_type", "project"]
    search_fields = ["message"]
    search_help_text = "Search the messages (a subject's events: its page's link, or "\
                       "?subject_id=<id> in the address)."
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_select_related = ["project"]
    show_full_result_count = False
    fields = ["id", "created_at", "project", "subject_type", "subject_id", "kind", "message",
              "data"]
    readonly_fields = fields

    # Events are written by the service only; operators read (and may delete) them.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EventsTableMixin:
    """Add ``"events_table"`` to a ModelAdmin's (read-only) fields."""

    @admin.display(description="Events")
    def events_table(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "–"
        subject_type = obj.JSONAPIMeta.resource_name
        newest = list(events_of(subject_type, [obj.pk]).order_by("-created_at", "-id")
                      [:ADMIN_TABLE_ROWS])
        if not newest:
            return "No events yet."
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((event.created_at.isoformat(timespec="milliseconds"), event.kind, event.message)
             for event in reversed(newest)))
        url = reverse("admin:events_event_changelist") + f"?subject_type={subject_type}" \
            f"&subject_id={obj.pk}"
        return format_html('<table><thead><tr><th>at</th><th>kind</th><th>what</th></tr>'
                           '</thead><tbody>{}</tbody></table><p><a href="{}">All events of '
                           'this {} ({} shown at most)</a></p>', rows, url,
                           subject_type.rstrip("s"), ADMIN_TABLE_ROWS)
