"""The read path's to-many queries (``syncservice.jsonapi.read.rows``): rows grouped by
parent drop the ordering terms that sort by the parent itself only when what remains orders
each parent's rows totally, so the rows come in the related manager's order."""

import pytest

from exports.models import ExportFile
from syncservice.events.models import Event
from syncservice.jsonapi.read.rows import within_parent_order


def test_ordering_by_the_parent_is_dropped_when_the_rest_is_unique():
    # ("export", "index") is unique: within one export, "index" alone orders the files.
    queryset = within_parent_order(ExportFile.objects.all(), "export_id")
    assert queryset.query.order_by == ("index",)
    assert "JOIN" not in str(queryset.query)


def test_other_orderings_are_kept():
    # Not led by the FK grouped on: unchanged.
    assert within_parent_order(Event.objects.all(), "project_id").query.order_by == ()
    # An explicit order_by is the caller's: unchanged.
    ordered = ExportFile.objects.order_by("-size")
    assert within_parent_order(ordered, "export_id").query.order_by == ("-size",)


@pytest.mark.django_db
def test_files_come_in_the_related_managers_order(project, make_job):
    from exports.models import Export

    job = make_job(project)
    exports = [Export.objects.create(project=project, job=job, resource_type=resource_type,
                                     format="csv") for resource_type in ("jobs", "exports")]
    for export in exports:
        for index in (3, 1, 2):
            ExportFile.objects.create(export=export, index=index, storage_name=f"s{index}",
                                      filename=f"f{index}", size=index, records_count=1,
                                      sha256="0" * 64, mime_type="text/csv")
    for export in exports:
        expected = list(export.files.values_list("pk", flat=True))
        rows = within_parent_order(ExportFile.objects.filter(export__in=exports), "export_id")
        assert [row.pk for row in rows if row.export_id == export.pk] == expected
        assert len(expected) == 3
