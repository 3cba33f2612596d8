"""Deletion through a service that refuses what must be kept (a connection a sync uses, a sync
with runs): the refusal is reported on the object's page or in the bulk action's messages,
never raised."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect

from jobs.admin import id_list, plural
from syncs import services


class GuardedDeleteMixin:
    """``why_kept(obj)`` says why ``obj`` must be kept (None: it may go), before the
    confirmation page; the service's ``SyncStateError`` says it at the deletion itself (the
    object changed since). ``delete_model`` is the service's delete; ``change_url`` comes
    from ``ObjectButtonsMixin``."""

    deleted_word = "object"  # what the bulk messages count, e.g. "connection"

    def why_kept(self, obj) -> str | None:
        return None

    def refusal(self, obj, reason: str) -> str:
        """The message of a refused deletion of ``obj`` on its page."""
        return reason

    def label_of(self, obj) -> str:
        """How the bulk messages name ``obj``."""
        return str(obj)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_delete_permission(request, obj):
            reason = self.why_kept(obj)
            if reason:
                return self.refuse_delete(request, obj, reason)
        try:
            return super().delete_view(request, object_id, extra_context)
        except services.SyncStateError as exc:  # changed since the confirmation page
            return self.refuse_delete(request, obj, str(exc))

    def refuse_delete(self, request, obj, reason: str):
        self.message_user(request, self.refusal(obj, reason), messages.ERROR)
        return HttpResponseRedirect(self.change_url(obj))

    def delete_queryset(self, request, queryset):
        refused: dict[str, list[str]] = defaultdict(list)
        for obj in queryset:
            try:
                self.delete_model(request, obj)
            except services.SyncStateError as exc:
                refused[str(exc)].append(self.label_of(obj))
        for reason, labels in refused.items():
            self.message_user(request, f"Not deleted: {plural(len(labels), self.deleted_word)} "
                                       f"({id_list(labels)}): {reason}", messages.WARNING)


def delete_selected_of(model_admin, request, deletable):
    """Django's delete action (its confirmation page and all) on ``deletable``; nothing when
    nothing is left to delete."""
    if not deletable.exists():
        return None
    return django_delete_selected(model_admin, request, deletable)
