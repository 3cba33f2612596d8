"""How the syncs admin shows things: status colours and badges, links to other admin pages,
short run ids, JSON fields."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import format_html

from jobs.admin import BADGE_STYLE, pretty_json
from syncs.models import Sync, SyncRun

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


def badge(label: str, colour: str, title: str | None = None) -> str:
    return format_html('<span style="{}" title="{}">{}</span>', BADGE_STYLE.format(colour),
                       title or label, label)


def url_name(model, view: str) -> str:
    """The name of an admin URL of ``model`` (without the ``admin:`` namespace)."""
    opts = model._meta
    return f"{opts.app_label}_{opts.model_name}_{view}"


def admin_url(admin_site, model, view: str, *args) -> str:
    return reverse(f"admin:{url_name(model, view)}", args=args, current_app=admin_site.name)


def change_link(admin_site, obj, label: str | None = None) -> str:
    if obj is None:
        return "-"
    return format_html('<a href="{}">{}</a>',
                       admin_url(admin_site, type(obj), "change", quote(obj.pk)),
                       label or str(obj))


def short_run_id(run: SyncRun | None) -> str:
    return str(run.pk)[:8] if run is not None else "-"


def json_display(field: str, description: str):
    """A read-only admin field (a method of the model admin) showing the object's ``field``
    as indented JSON."""
    @admin.display(description=description)
    def show(model_admin, obj) -> str:
        return pretty_json(getattr(obj, field))
    return show
