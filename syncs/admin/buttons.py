"""Buttons on an object's change page that run one of its admin's bulk operations."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path

from syncs.admin.formatting import admin_url, url_name


class ObjectButtonsMixin:
    """Buttons on the change page (rendered by ``admin/syncs/change_form.html``), each a POST
    to ``<object_id>/do/<name>/`` that runs one of the admin's bulk operations on the object
    and comes back to its page with the messages.

    ``object_buttons`` maps a name to (label, method name, permission name, predicate):
    the button shows when the user has the permission and ``predicate(obj)`` holds."""

    object_buttons: dict[str, tuple[str, str, str, Callable]] = {}

    def url_name(self, view: str) -> str:
        return url_name(self.model, view)

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
                (label, name, admin_url(self.admin_site, self.model, "button", quote(obj.pk),
                                        name))
                for name, (label, _, permission, shown) in self.object_buttons.items()
                if shown(obj) and self.allowed(request, permission, obj)]}
        return super().change_view(request, object_id, form_url, extra_context)
