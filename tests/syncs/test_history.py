"""History is never erased by another resource's delete: a connection any sync uses (archived
ones included) is not deleted (409 naming the syncs, and the admin refuses too), and a sync
with runs is archived, never deleted, until its runs are deleted explicitly."""

import pytest

from syncs import services
from syncs.models import Connection, Sync, SyncRun
from tests.admin_pages import notes
from tests.conftest import body, error_of

CONNECTIONS = "/admin/syncs/connection/"
SYNCS = "/admin/syncs/sync/"


def trigger_and_run(api, sync, run_job) -> SyncRun:
    response = api.send_document("post", f"/api/v1/syncs/{sync['id']}/trigger",
                                 "sync-triggers",
                                 {"run_mode": "incremental"})
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=body(response)["data"]["id"])
    run_job(run.job_id)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture
def archived(api, connection, make_sync, run_job):
    """A sync with a finished run, archived through the API (DELETE /syncs/{id})."""
    sync = make_sync()
    run = trigger_and_run(api, sync, run_job)
    assert api.delete(f"/api/v1/syncs/{sync['id']}").status_code == 204
    assert Sync.objects.get(pk=sync["id"]).status == "archived"
    return sync, run


# --- the API --------------------------------------------------------------------------------

def test_deleting_the_connection_of_an_archived_sync_is_409_naming_it(api, connection,
                                                                       archived):
    sync, run = archived
    error = error_of(api.delete(f"/api/v1/connections/{connection['id']}"), 409)
    assert error["code"] == "connection_in_use"
    assert sync["attributes"]["slug"] in error["detail"] and sync["id"] in error["detail"]
    assert "archived" in error["detail"]
    # Everything is still there, and readable.
    assert Connection.objects.filter(pk=connection["id"]).exists()
    document = body(api.get(f"/api/v1/syncs/{sync['id']}"))
    assert document["data"]["attributes"]["status"] == "archived"
    runs = body(api.get(f"/api/v1/syncs/{sync['id']}/runs"))["data"]
    assert [r["id"] for r in runs] == [str(run.pk)]
    detail = body(api.get(f"/api/v1/sync-runs/{run.pk}"))["data"]
    assert detail["attributes"]["status"] == "succeeded"
    assert body(api.get(f"/api/v1/connections/{connection['id']}"))["data"]["id"] == \
        connection["id"]


def test_the_409_names_every_sync_of_the_connection(api, connection, make_sync):
    first, second = make_sync(name="First"), make_sync(name="Second")
    Sync.objects.filter(pk=first["id"]).update(status="archived")
    error = error_of(api.delete(f"/api/v1/connections/{connection['id']}"), 409)
    assert "2 syncs" in error["detail"]
    for sync in (first, second):
        assert sync["attributes"]["slug"] in error["detail"] and sync["id"] in error["detail"]
    assert Sync.objects.count() == 2


def test_a_connection_no_sync_uses_is_deleted(api, connection):
    assert api.delete(f"/api/v1/connections/{connection['id']}").status_code == 204
    assert not Connection.objects.filter(pk=connection["id"]).exists()


def test_the_service_refuses_whatever_the_sync_status(connection, make_sync):
    sync = make_sync()
    for status in ("draft", "active", "paused", "error", "archived"):
        Sync.objects.filter(pk=sync["id"]).update(status=status)
        with pytest.raises(services.ConnectionInUse) as refused:
            services.delete_connection(Connection.objects.get(pk=connection["id"]))
        assert refused.value.syncs == [(sync["attributes"]["slug"], sync["id"], status)]
    assert Connection.objects.filter(pk=connection["id"]).exists()


def test_delete_sync_refuses_a_sync_with_runs(api, make_sync, run_job):
    sync = make_sync()
    trigger_and_run(api, sync, run_job)
    with pytest.raises(services.SyncStateError, match="kept as history"):
        services.delete_sync(Sync.objects.get(pk=sync["id"]))
    assert SyncRun.objects.filter(sync_id=sync["id"]).count() == 1
    SyncRun.objects.filter(sync_id=sync["id"]).delete()  # explicitly
    services.delete_sync(Sync.objects.get(pk=sync["id"]))
    assert not Sync.objects.filter(pk=sync["id"]).exists()


# --- the admin ------------------------------------------------------------------------------

def test_admin_refuses_to_delete_the_connection_of_an_archived_sync(admin_client, connection,
                                                                    archived):
    sync, run = archived
    url = f"{CONNECTIONS}{connection['id']}/delete/"
    for response in (admin_client.get(url, follow=True),
                     admin_client.post(url, {"post": "yes"}, follow=True)):
        assert response.redirect_chain[-1][0] == f"{CONNECTIONS}{connection['id']}/change/"
        (level, text), = notes(response)
        assert level == "error" and sync["attributes"]["slug"] in text and "archived" in text
    assert Connection.objects.filter(pk=connection["id"]).exists()
    assert SyncRun.objects.filter(pk=run.pk).exists()


def test_admin_bulk_delete_skips_connections_in_use(admin_client, connection, archived,
                                                    project, shop_config):
    sync, run = archived
    unused = services.create_connection(project, provider="http_api", name="unused",
                                        config=shop_config, secrets={"token": "t"})
    selected = [connection["id"], str(unused.pk)]
    response = admin_client.post(CONNECTIONS, {"action": "delete_selected",
                                               "_selected_action": selected, "post": "yes"},
                                 follow=True)
    assert response.status_code == 200
    warnings = [text for level, text in notes(response) if level == "warning"]
    assert len(warnings) == 1 and sync["attributes"]["slug"] in warnings[0]
    assert Connection.objects.filter(pk=connection["id"]).exists()
    assert not Connection.objects.filter(pk=unused.pk).exists()
    assert Sync.objects.filter(pk=sync["id"]).exists()
    assert SyncRun.objects.filter(pk=run.pk).exists()
    # Only connections in use selected: nothing to confirm, the refusal is the answer.
    response = admin_client.post(CONNECTIONS, {"action": "delete_selected",
                                               "_selected_action": [connection["id"]]},
                                 follow=True)
    assert [level for level, _ in notes(response)] == ["warning"]
    assert Connection.objects.filter(pk=connection["id"]).exists()


def test_admin_does_not_delete_a_sync_with_runs(admin_client, api, make_sync, run_job):
    kept, empty = make_sync(name="Kept"), make_sync(name="Empty")
    run = trigger_and_run(api, kept, run_job)
    response = admin_client.post(f"{SYNCS}{kept['id']}/delete/", {"post": "yes"},
                                 follow=True)
    assert any(level == "error" and "kept as history" in text
               for level, text in notes(response))
    response = admin_client.post(SYNCS, {"action": "delete_selected", "post": "yes",
                                         "_selected_action": [kept["id"], empty["id"]]},
                                 follow=True)
    warnings = [text for level, text in notes(response) if level == "warning"]
    assert len(warnings) == 1 and kept["attributes"]["slug"] in warnings[0]
    assert Sync.objects.filter(pk=kept["id"]).exists()
    assert SyncRun.objects.filter(pk=run.pk).exists()
    assert not Sync.objects.filter(pk=empty["id"]).exists()
