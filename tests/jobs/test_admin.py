"""The jobs admin: list, filters and search, signal actions and buttons, the read-only page,
and deletion that never takes a running job."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from jobs.admin import JobClassFilter
from jobs.models import Job
from tests.admin_pages import act, assert_delete_refused, notes, shown, staff

CHANGELIST = "/admin/jobs/job/"
TRACEBACK = ('Traceback (most recent call last):\n  File "handlers.py", line 3, in fail\n'
             "    raise RuntimeError(message)\nRuntimeError: <boom> & bang\n")


@pytest.fixture
def new_job(db):
    def make(status: str = "pending", job_class: str = "jobs.noop", **fields) -> Job:
        if status == "running":  # executing, unless the test says otherwise
            fields.setdefault("started_at", timezone.now())
        return Job.objects.create(job_class=job_class, status=status, **fields)

    return make


def change_url(job: Job) -> str:
    return f"{CHANGELIST}{job.pk}/change/"


def fresh(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


# --- the list ------------------------------------------------------------------------------

def test_changelist_shows_the_columns(admin_client, new_job, project):
    job = new_job("running", "jobs.sleep", project=project, progress=40, retry_count=1,
                  max_retries=5, queue="exports", priority=7)
    response = admin_client.get(CHANGELIST)
    assert shown(response) == {job.pk}
    html = response.content.decode()
    assert f'href="{change_url(job)}"' in html and str(job.pk)[:8] in html
    assert '<progress value="40" max="100"' in html
    assert ">running</span>" in html and "#0d6efd" in html  # the running badge
    assert "1/5" in html and "exports" in html and "acme" in html and "jobs.sleep" in html
    # Large tables: no "N total" count query, and the year drill-down of created_at.
    assert response.context["cl"].show_full_result_count is False
    assert f"?created_at__year={timezone.now().year}" in html


def test_changelist_badge_marks_a_requested_cancel(admin_client, new_job):
    new_job("running", cancel_requested_at=timezone.now())
    assert "running (cancelling)" in admin_client.get(CHANGELIST).content.decode()


def test_changelist_filters(admin_client, new_job, project, other_project):
    failed = new_job("failed", "syncs.run", project=project, queue="syncs")
    pending = new_job("pending", "exports.build", project=other_project)
    succeeded = new_job("succeeded", "exports.build", project=project)

    assert shown(admin_client.get(CHANGELIST)) == {failed.pk, pending.pk, succeeded.pk}
    assert shown(admin_client.get(f"{CHANGELIST}?status__exact=failed")) == {failed.pk}
    assert shown(admin_client.get(f"{CHANGELIST}?queue=syncs")) == {failed.pk}
    assert shown(admin_client.get(f"{CHANGELIST}?project__id__exact={other_project.pk}")) \
        == {pending.pk}
    response = admin_client.get(f"{CHANGELIST}?job_class=exports.build")
    assert shown(response) == {pending.pk, succeeded.pk}
    # The job class filter offers exactly the classes present in the table.
    (job_class_filter,) = [spec for spec in response.context["cl"].filter_specs
                           if isinstance(spec, JobClassFilter)]
    assert [value for value, _ in job_class_filter.lookup_choices] == [
        "exports.build", "syncs.run"]
    assert shown(admin_client.get(
        f"{CHANGELIST}?job_class=exports.build&status__exact=pending")) == {pending.pk}
    # With the counts of each filter's choices ("Show counts").
    html = admin_client.get(f"{CHANGELIST}?_facets=True&job_class=syncs.run").content.decode()
    assert "exports.build (2)" in html and "failed (1)" in html


def test_changelist_search(admin_client, new_job):
    sync = new_job("failed", "syncs.run", error="ValueError: no such column",
                   unicity="sync:acme", worker_id="host-1:4242")
    other = new_job("pending", "jobs.noop")

    def found(term: str) -> set:
        return shown(admin_client.get(CHANGELIST, {"q": term}))

    assert found("syncs.run") == {sync.pk}
    assert found("no such column") == {sync.pk}
    assert found("sync:acme") == {sync.pk}
    assert found("host-1") == {sync.pk}
    assert found(str(other.pk)) == {other.pk}
    assert found(str(other.pk)[:8]) == {other.pk}
    assert found("nothing-like-this") == set()


def test_changelist_date_hierarchy_and_sorting(admin_client, new_job):
    old, new = new_job(), new_job()
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    year = timezone.now().year
    assert shown(admin_client.get(f"{CHANGELIST}?created_at__year={year}")) == {new.pk}
    response = admin_client.get(CHANGELIST)
    assert [job.pk for job in response.context["cl"].result_list] == [new.pk, old.pk]
    for column in range(1, 13):  # every column sorts
        assert admin_client.get(f"{CHANGELIST}?o={column}").status_code == 200


# --- actions -------------------------------------------------------------------------------

def test_cancel_action(admin_client, new_job):
    pending, running, done = new_job("pending"), new_job("running"), new_job("succeeded")
    response = act(admin_client, CHANGELIST, "cancel_jobs", pending, running, done)
    assert response.status_code == 200
    assert fresh(pending).status == "cancelled"
    assert fresh(running).status == "running" and fresh(running).cancel_requested_at
    assert fresh(done).status == "succeeded"
    assert notes(response) == [
        ("success", "Cancelled 1 job."),
        ("success", "Requested the cancellation of 1 running job: a running job stops at its "
                    "handler's next check."),
        ("warning", f"Refused for 1 job ({str(done.pk)[:8]}): "
                    "A succeeded job cannot be cancelled."),
    ]


def test_retry_action(admin_client, new_job):
    failed = new_job("failed", retry_count=3, finished_at=timezone.now(), error="boom")
    cancelled = new_job("cancelled")
    running = new_job("running")
    response = act(admin_client, CHANGELIST, "retry_jobs", failed, cancelled, running)
    for job in (failed, cancelled):
        job = fresh(job)
        assert job.status == "pending" and job.retry_count == 0 and job.finished_at is None
    assert fresh(running).status == "running"
    assert notes(response) == [
        ("success", "Queued 2 jobs again."),
        ("warning", f"Refused for 1 job ({str(running.pk)[:8]}): A running job cannot be "
                    "retried; only failed or cancelled jobs can."),
    ]


def test_run_now_action(admin_client, new_job):
    later = new_job("pending", scheduled_at=timezone.now() + timedelta(hours=2))
    done = new_job("succeeded")
    before = timezone.now()
    response = act(admin_client, CHANGELIST, "run_jobs_now", later, done)
    assert before <= fresh(later).scheduled_at <= timezone.now()
    assert ("success", "Scheduled 1 job to run now.") in notes(response)


def test_an_action_refused_for_every_job_is_an_error_grouped_by_reason(admin_client, new_job):
    running = [new_job("running") for _ in range(12)]
    response = act(admin_client, CHANGELIST, "run_jobs_now", *running)
    ((level, text),) = notes(response)
    assert level == "error"
    assert text.startswith("Refused for 12 jobs (") and " and 2 more): " in text
    assert text.endswith("A running job cannot be run now; only pending jobs can.")


def test_actions_are_logged_in_the_history(admin_client, new_job):
    job = new_job("pending")
    act(admin_client, CHANGELIST, "cancel_jobs", job)
    history = admin_client.get(f"{CHANGELIST}{job.pk}/history/").content.decode()
    assert "Cancelled." in history


# --- the job's page ------------------------------------------------------------------------

def test_change_page_is_read_only_and_pretty_prints(admin_client, new_job, project):
    payload = {"table": "<script>alert(1)</script>", "rows": [1, 2], "nested": {"a": None}}
    details = {"reason": "RuntimeError: <boom>", "type": "builtins.RuntimeError",
               "traceback": TRACEBACK}
    job = new_job("failed", project=project, payload=payload, result={"rows": 2},
                  checkpoint={"cursor": "abc"}, error="RuntimeError: <boom>",
                  error_details=details)
    response = admin_client.get(change_url(job))
    assert response.status_code == 200
    html = response.content.decode()
    assert escape(json.dumps(payload, indent=2, sort_keys=True)) in html
    assert "<script>alert(1)</script>" not in html
    assert escape(json.dumps({"rows": 2}, indent=2)) in html
    assert escape(json.dumps({"cursor": "abc"}, indent=2)) in html
    without_traceback = {k: v for k, v in details.items() if k != "traceback"}
    assert escape(json.dumps(without_traceback, indent=2, sort_keys=True)) in html
    assert f">{escape(TRACEBACK)}</pre>" in html
    # Read-only: no form field, no save button; only the buttons of the allowed signals.
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert 'name="job_class"' not in html
    assert f'action="{change_url(job).removesuffix("change/")}signal/retry/"' in html
    assert "signal/cancel/" not in html and "signal/run_now/" not in html


def test_change_page_shows_the_traceback_the_api_never_serves(admin_client, new_job, api,
                                                              project):
    details = {"reason": "RuntimeError: <boom>", "type": "builtins.RuntimeError",
               "message": "<boom>"}
    job = new_job("failed", project=project, error="RuntimeError: <boom>",
                  error_details=details, error_traceback=TRACEBACK)
    html = admin_client.get(change_url(job)).content.decode()
    assert f">{escape(TRACEBACK)}</pre>" in html
    assert escape(json.dumps(details, indent=2, sort_keys=True)) in html
    assert "Traceback" not in api.get(f"/api/v1/jobs/{job.pk}").content.decode()


def test_changelist_marks_a_job_claimed_but_not_started(admin_client, new_job):
    new_job("running", worker_id="w-9", started_at=None)
    html = admin_client.get(CHANGELIST).content.decode()
    assert "running (claimed)</span>" in html
    assert 'title="Claimed by w-9, not started yet"' in html


def test_change_page_of_a_pending_job_offers_cancel_and_run_now(admin_client, new_job):
    html = admin_client.get(change_url(new_job("pending"))).content.decode()
    assert "signal/cancel/" in html and "signal/run_now/" in html
    assert "signal/retry/" not in html
    assert '<pre style="' in html and "{}" in html  # the empty payload


def test_a_change_cannot_be_saved(admin_client, new_job):
    job = new_job("pending", priority=1)
    response = admin_client.post(change_url(job), {"priority": 99, "_save": "Save"})
    assert response.status_code == 403
    assert fresh(job).priority == 1


def test_add_view_is_forbidden(admin_client, db):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.post(f"{CHANGELIST}add/", {"job_class": "jobs.noop"}).status_code == 403
    assert not Job.objects.exists()


def test_signal_buttons(admin_client, new_job):
    job = new_job("pending")
    base = change_url(job).removesuffix("change/")
    assert admin_client.get(f"{base}signal/cancel/").status_code == 405
    assert admin_client.post(f"{base}signal/explode/").status_code == 404

    response = admin_client.post(f"{base}signal/retry/", follow=True)
    assert response.redirect_chain == [(change_url(job), 302)]
    assert notes(response) == [("error", f"Refused for 1 job ({str(job.pk)[:8]}): A pending "
                                         "job cannot be retried; only failed or cancelled "
                                         "jobs can.")]
    response = admin_client.post(f"{base}signal/cancel/", follow=True)
    assert notes(response) == [("success", "Cancelled 1 job.")]
    assert fresh(job).status == "cancelled"
    response = admin_client.post(f"{base}signal/retry/", follow=True)
    assert fresh(job).status == "pending"


# --- deletion ------------------------------------------------------------------------------

def test_a_running_job_cannot_be_deleted(admin_client, new_job):
    job = new_job("running")
    assert_delete_refused(admin_client, CHANGELIST, job,
                          f"Job {str(job.pk)[:8]} is running and cannot be deleted; cancel it "
                          "first.")


def test_a_finished_job_can_be_deleted(admin_client, new_job):
    job = new_job("succeeded")
    delete_url = f"{CHANGELIST}{job.pk}/delete/"
    assert delete_url in admin_client.get(change_url(job)).content.decode()
    assert admin_client.get(delete_url).status_code == 200
    response = admin_client.post(delete_url, {"post": "yes"})
    assert response.status_code == 302
    assert not Job.objects.filter(pk=job.pk).exists()


def test_a_job_that_starts_while_being_deleted_is_kept(admin_client, new_job, monkeypatch):
    from django.contrib.admin.models import DELETION, LogEntry

    from jobs import services

    job = new_job("pending")
    real_delete = services.delete

    def claimed_first(obj):  # a worker claims the job between the check and the DELETE
        Job.objects.filter(pk=obj.pk).update(status="running")
        real_delete(obj)

    monkeypatch.setattr(services, "delete", claimed_first)
    response = admin_client.post(f"{CHANGELIST}{job.pk}/delete/", {"post": "yes"}, follow=True)
    assert response.redirect_chain == [(change_url(job), 302)]
    assert notes(response) == [("error", f"Job {str(job.pk)[:8]} is running and cannot be "
                                         "deleted; cancel it first.")]
    assert Job.objects.filter(pk=job.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()  # rolled back


def test_bulk_delete_skips_running_jobs(admin_client, new_job):
    running, failed, pending = new_job("running"), new_job("failed"), new_job("pending")
    confirmation = act(admin_client, CHANGELIST, "delete_selected", running, failed, pending)
    assert confirmation.status_code == 200
    assert {job.pk for job in confirmation.context["queryset"]} == {failed.pk, pending.pk}
    assert not confirmation.context["perms_lacking"]
    assert notes(confirmation) == [("warning", f"Skipped 1 running job ({str(running.pk)[:8]}):"
                                               " cancel before deleting.")]
    # Confirming, even with the running job in the form, deletes only the others.
    response = act(admin_client, CHANGELIST, "delete_selected", running, failed, pending,
                   post="yes")
    assert list(Job.objects.values_list("pk", flat=True)) == [running.pk]
    assert ("success", "Successfully deleted 2 jobs.") in notes(response)


def test_bulk_delete_of_only_running_jobs_deletes_nothing(admin_client, new_job):
    running = new_job("running")
    response = act(admin_client, CHANGELIST, "delete_selected", running)
    assert response.redirect_chain == [(CHANGELIST, 302)]
    assert Job.objects.filter(pk=running.pk).exists()


def test_delete_queryset_never_deletes_a_job_that_started_meanwhile(new_job, rf):
    from django.contrib import admin

    from jobs.admin import JobAdmin

    job, other = new_job("pending"), new_job("failed")
    queryset = Job.objects.filter(pk__in=[job.pk, other.pk])
    list(queryset)  # the confirmation page read them while pending
    Job.objects.filter(pk=job.pk).update(status="running")
    request = rf.post(CHANGELIST)
    sent = []
    model_admin = JobAdmin(Job, admin.site)
    model_admin.message_user = lambda request, text, level: sent.append(text)
    model_admin.delete_queryset(request, queryset)
    assert list(Job.objects.values_list("pk", flat=True)) == [job.pk]
    assert sent == ["Not deleted: 1 job started running meanwhile."]


# --- permissions ---------------------------------------------------------------------------

def test_view_permission_only_views(client, new_job):
    job = new_job("pending")
    staff(client, "jobs", "view_job")
    response = client.get(CHANGELIST)
    assert shown(response) == {job.pk}
    assert "cancel_jobs" not in response.content.decode()
    assert "signal/cancel/" not in client.get(change_url(job)).content.decode()
    assert client.post(f"{CHANGELIST}{job.pk}/signal/cancel/").status_code == 403
    act(client, CHANGELIST, "cancel_jobs", job)
    assert fresh(job).status == "pending"


def test_change_permission_allows_the_signals(client, new_job):
    job = new_job("pending")
    staff(client, "jobs", "view_job", "change_job")
    html = client.get(CHANGELIST).content.decode()
    assert "cancel_jobs" in html and "delete_selected" not in html
    assert "signal/cancel/" in client.get(change_url(job)).content.decode()
    act(client, CHANGELIST, "cancel_jobs", job)
    assert fresh(job).status == "cancelled"


def test_a_project_with_a_running_job_cannot_be_deleted_from_the_admin(admin_client, new_job,
                                                                        project):
    new_job("running", project=project)
    page = admin_client.get(f"/admin/accounts/project/{project.pk}/delete/")
    assert page.status_code == 200 and page.context["perms_lacking"] == {"job"}
    assert admin_client.post(f"/admin/accounts/project/{project.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert Job.objects.filter(project=project).exists()
