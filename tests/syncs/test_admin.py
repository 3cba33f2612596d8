"""The syncs admin: connections (secrets write-only, never shown), syncs (edits through
services.update_sync, trigger / pause / resume), runs (per-entity table, attempt chain,
cancel / retry) and the provider catalog."""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.utils.html import escape

from jobs.models import Job
from syncs import services
from syncs.models import Connection, Sync, SyncRun
from tests.admin_pages import act, notes

CONNECTIONS = "/admin/syncs/connection/"
SYNCS = "/admin/syncs/sync/"
RUNS = "/admin/syncs/syncrun/"
CATALOG = f"{CONNECTIONS}catalog/"
SECRET = "good-token"


@pytest.fixture
def viewer_client(client, db):
    """A staff user who may only view syncs' models."""
    user = User.objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="syncs", codename__startswith="view_"))
    client.force_login(user)
    return client


def conn(connection) -> Connection:
    return Connection.objects.get(pk=connection["id"])


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def shown(response) -> set:
    assert response.status_code == 200, response.status_code
    return {str(obj.pk) for obj in response.context["cl"].result_list}


def form_data(response) -> dict:
    """What the change page's form would post back unchanged (inlines' management forms
    included)."""
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for sub_form in [formset.management_form, *formset.forms]:
            for name in sub_form.fields:
                value = sub_form[name].value()
                if value is not None:
                    data[sub_form.add_prefix(name)] = value
    return data


def post_change(client, url: str, **changes):
    data = {**form_data(client.get(url)), **changes}
    return client.post(url, data, follow=True)


def errors(response) -> dict:
    return {name: list(errs) for name, errs in response.context["adminform"].form.errors.items()}


def trigger(sync_id, run_mode="incremental") -> SyncRun:
    return services.trigger(Sync.objects.get(pk=sync_id), run_mode)


def test_system_checks_pass():
    """The admin classes pass Django's checks (which run before every manage.py command)."""
    call_command("check", "--fail-level", "WARNING")


# --- secrets never shown --------------------------------------------------------------------

def test_secret_values_appear_on_no_admin_page(admin_client, connection, make_sync, run_job):
    sync = make_sync()
    run = trigger(sync["id"])
    run_job(run.job_id)
    pk = connection["id"]
    post_change(admin_client, f"{CONNECTIONS}{pk}/change/", name="shop renamed")
    act(admin_client, CONNECTIONS, "check_connections", conn(connection))
    unused = services.create_connection(conn(connection).project, provider="http_api",
                                        name="unused", config=conn(connection).config,
                                        secrets={"token": SECRET})
    urls = [CONNECTIONS, f"{CONNECTIONS}?q=shop", f"{CONNECTIONS}{pk}/change/",
            f"{CONNECTIONS}{pk}/history/", f"{CONNECTIONS}{unused.pk}/delete/", CATALOG,
            f"{CATALOG}http_api/", SYNCS, f"{SYNCS}{sync['id']}/change/",
            f"{SYNCS}{sync['id']}/history/", RUNS,
            f"{RUNS}{run.pk}/change/", f"{RUNS}{run.pk}/delete/", "/admin/",
            "/admin/syncs/"]
    for url in urls:
        assert SECRET not in page(admin_client, url), url
    # Deletes refused (a connection in use, a sync with runs) land on the change page.
    for url in (f"{CONNECTIONS}{pk}/delete/", f"{SYNCS}{sync['id']}/delete/"):
        response = admin_client.get(url, follow=True)
        assert response.status_code == 200 and SECRET not in response.content.decode(), url
    # The bulk delete confirmation too.
    response = admin_client.post(CONNECTIONS, {"action": "delete_selected",
                                               "_selected_action": [pk, unused.pk]})
    assert response.status_code == 200 and SECRET not in response.content.decode()
    assert services.connection_secrets(conn(connection)) == {"token": SECRET}  # untouched


def test_connection_page_lists_only_the_secret_names(admin_client, connection):
    html = page(admin_client, f"{CONNECTIONS}{connection['id']}/change/")
    assert "<code>token</code>" in html
    assert 'name="new_secrets"' in html and "leave empty to keep them" in html
    assert SECRET not in html and conn(connection).secrets_encrypted not in html
    form = admin_client.get(f"{CONNECTIONS}{connection['id']}/change/").context[
        "adminform"].form
    # project and provider never change; the ciphertext is no field at all.
    assert set(form.fields) == {"name", "config", "new_secrets"}
    assert escape('\n  "base_url": ') in html  # config as indented JSON


# --- the connection form --------------------------------------------------------------------

def test_replacing_the_secrets(admin_client, connection):
    url = f"{CONNECTIONS}{connection['id']}/change/"
    response = post_change(admin_client, url, new_secrets='{"token": "brand-new-token"}')
    assert response.redirect_chain[-1][0] == CONNECTIONS
    assert services.connection_secrets(conn(connection)) == {"token": "brand-new-token"}
    assert "brand-new-token" not in page(admin_client, url)
    history = page(admin_client, f"{CONNECTIONS}{connection['id']}/history/")
    assert "new secrets" in history and "brand-new-token" not in history
    # Empty: the secrets are kept; a config change is saved through the services.
    response = post_change(admin_client, url, new_secrets="", name="shop 2")
    assert response.redirect_chain[-1][0] == CONNECTIONS
    stored = conn(connection)
    assert stored.name == "shop 2"
    assert services.connection_secrets(stored) == {"token": "brand-new-token"}


def test_the_secrets_are_replaced_not_merged(admin_client, connection):
    stored = conn(connection)
    services.update_connection(stored, secrets={"password": "pw-1", "api_key": "k"})
    assert services.secret_names(stored) == ["api_key", "password", "token"]
    post_change(admin_client, f"{CONNECTIONS}{stored.pk}/change/",
                new_secrets='{"token": "t2"}')
    assert services.connection_secrets(conn(connection)) == {"token": "t2"}


@pytest.mark.parametrize("typed,message", [
    ('{"token": "abc-typed-secret"', "Not valid JSON"),
    ('["abc-typed-secret"]', "Enter a JSON object"),
    ('{"token": "abc-typed-secret", "x": "y"}', "x: is not an allowed property"),
    ('{"client_id": "abc-typed-secret"}', "client_secret: is required when 'client_id'"),
    ('{"token": 5}', "token: must be of type string"),
])
def test_invalid_secrets_are_a_form_error_and_keep_the_old_ones(admin_client, connection,
                                                                  typed, message):
    url = f"{CONNECTIONS}{connection['id']}/change/"
    before = conn(connection).secrets_encrypted
    response = post_change(admin_client, url, new_secrets=typed, name="renamed")
    assert response.status_code == 200 and not response.redirect_chain
    assert any(message in error for error in errors(response)["new_secrets"]), errors(response)
    html = response.content.decode()
    assert "abc-typed-secret" not in html and SECRET not in html  # nothing typed comes back
    stored = conn(connection)
    assert stored.secrets_encrypted == before and stored.name == "shop"


def test_invalid_config_is_a_form_error(admin_client, connection):
    url = f"{CONNECTIONS}{connection['id']}/change/"
    response = post_change(admin_client, url, config='{"base_url": 5}')
    assert any("base_url: must be of type string" in e for e in errors(response)["config"])
    response = post_change(admin_client, url, config="{nope")
    assert "config" in errors(response)
    response = post_change(admin_client, url, config="[1]")
    assert any("JSON object" in e for e in errors(response)["config"])
    assert conn(connection).config["base_url"].startswith("http://")


def test_duplicate_name_is_a_form_error(admin_client, connection, project, shop_config):
    services.create_connection(project, provider="http_api", name="other",
                               config=shop_config, secrets={"token": "t"})
    response = post_change(admin_client, f"{CONNECTIONS}{connection['id']}/change/",
                           name="other")
    assert "already exists" in errors(response)["name"][0]


def test_adding_a_connection(admin_client, project, shop, shop_config):
    data = {"project": project.pk, "provider": "http_api", "name": "added",
            "config": json.dumps(shop_config)}
    response = admin_client.post(f"{CONNECTIONS}add/", {**data, "new_secrets": '{"x": "y"}'})
    assert response.status_code == 200
    assert any("x: is not an allowed property" in e
               for e in response.context["adminform"].form.errors["new_secrets"])
    response = admin_client.post(f"{CONNECTIONS}add/", {**data, "config": "{}",
                                                         "new_secrets": '{"token": "t"}'})
    assert "config" in response.context["adminform"].form.errors
    assert not Connection.objects.exists()
    response = admin_client.post(f"{CONNECTIONS}add/",
                                 {**data, "new_secrets": '{"token": "good-token"}'},
                                 follow=True)
    assert response.redirect_chain[-1][0] == CONNECTIONS
    added = Connection.objects.get(name="added")
    assert services.connection_secrets(added) == {"token": SECRET}
    assert added.created_by.startswith("user:")
    assert SECRET not in added.secrets_encrypted


# --- connection list, check, delete ---------------------------------------------------------

def test_connection_changelist(admin_client, connection, other_project, shop_config):
    other = services.create_connection(other_project, provider="http_api", name="elsewhere",
                                       config=shop_config, secrets={"token": "x"})
    response = admin_client.get(CONNECTIONS)
    assert shown(response) == {str(conn(connection).pk), str(other.pk)}
    html = response.content.decode()
    assert ">never</span>" in html and "acme" in html and "globex" in html
    assert f'href="{CATALOG}"' in html  # the provider catalog link
    assert shown(admin_client.get(f"{CONNECTIONS}?q=else")) == {str(other.pk)}
    assert shown(admin_client.get(f"{CONNECTIONS}?project__id__exact={other_project.pk}")) \
        == {str(other.pk)}
    assert shown(admin_client.get(f"{CONNECTIONS}?provider__exact=shopify")) == set()
    services.check_connection(other)  # no server answers "x"
    assert shown(admin_client.get(f"{CONNECTIONS}?last_check_status__exact=failed")) == {
        str(other.pk)}
    for column in range(1, 7):
        assert admin_client.get(f"{CONNECTIONS}?o={column}").status_code == 200


def test_check_action_reports_ok_and_failed(admin_client, connection, project, shop_config):
    bad = services.create_connection(project, provider="http_api", name="bad",
                                     config=shop_config, secrets={"token": "wrong"})
    response = act(admin_client, CONNECTIONS, "check_connections", conn(connection), bad)
    messages = notes(response)
    assert ("success", "Check ok: 1 connection (shop).") in messages
    assert any(level == "error" and text.startswith("Check failed: bad:") and "401" in text
               for level, text in messages), messages
    assert conn(connection).last_check_status == "ok"
    bad.refresh_from_db()
    assert bad.last_check_status == "failed"
    html = response.content.decode()
    assert ">ok</span>" in html and ">failed</span>" in html
    # The button on the page does the same.
    response = admin_client.post(f"{CONNECTIONS}{bad.pk}/do/check/", follow=True)
    assert response.redirect_chain[-1][0] == f"{CONNECTIONS}{bad.pk}/change/"
    assert any(level == "error" for level, _ in notes(response))
    assert admin_client.get(f"{CONNECTIONS}{bad.pk}/do/check/").status_code == 405


def test_viewers_cannot_check_or_edit(viewer_client, connection):
    html = page(viewer_client, f"{CONNECTIONS}{connection['id']}/change/")
    assert "/do/check/" not in html and 'name="new_secrets"' not in html
    assert "<code>token</code>" in html and SECRET not in html
    response = viewer_client.post(f"{CONNECTIONS}{connection['id']}/do/check/")
    assert response.status_code == 403
    assert conn(connection).last_check_at is None


def test_a_connection_used_by_a_sync_is_not_deleted(admin_client, connection, make_sync,
                                                    project, shop_config):
    sync = make_sync()
    response = admin_client.post(f"{CONNECTIONS}{connection['id']}/delete/", {"post": "yes"},
                                 follow=True)
    assert [level for level, _ in notes(response)] == ["error"]
    assert sync["attributes"]["slug"] in notes(response)[0][1]
    assert Connection.objects.filter(pk=connection["id"]).exists()
    unused = services.create_connection(project, provider="http_api", name="unused",
                                        config=shop_config, secrets={"token": "t"})
    response = admin_client.post(f"{CONNECTIONS}{unused.pk}/delete/", {"post": "yes"},
                                 follow=True)
    assert response.redirect_chain[-1][0] == CONNECTIONS
    assert not Connection.objects.filter(pk=unused.pk).exists()


# --- the provider catalog -------------------------------------------------------------------

def test_catalog_lists_every_provider(admin_client, connection):
    response = admin_client.get(CATALOG)
    html = response.content.decode()
    assert len(response.context["providers"]) == 21
    for key in ("shopify", "http_api", "salesforce", "bullhorn"):
        assert f'href="{CATALOG}{key}/"' in html
    http_api = next(p for p in response.context["providers"] if p["provider"] == "http_api")
    assert http_api["connections"] == 1


def test_catalog_provider_page(admin_client):
    response = admin_client.get(f"{CATALOG}shopify/")
    html = response.content.decode()
    provider = response.context["provider"]
    assert provider["provider"] == "shopify"
    orders = next(r for r in provider["resources"] if r["entity_key"] == "orders")
    assert 'class="resource-orders"' in html and escape(orders["display_name"]) in html
    assert f"<code>{orders['cursor_field']}</code>" in html
    assert orders["load_mode"] in html and orders["size_class"] in html
    dependent = next(r for r in provider["resources"] if r["depends_on"])
    assert f"<code>{dependent['depends_on'][0]}</code>" in html
    assert "Connection config schema" in html and "Connection secrets schema" in html
    assert escape('"type": "object"') in html  # pretty-printed schemas
    assert admin_client.get(f"{CATALOG}nope/").status_code == 404


def test_catalog_needs_a_view_permission(client, viewer_client, db):
    assert viewer_client.get(CATALOG).status_code == 200
    staff = User.objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    client.force_login(staff)
    assert client.get(CATALOG).status_code == 403


# --- syncs ----------------------------------------------------------------------------------

def test_sync_changelist(admin_client, make_sync, run_job, shop):
    first = make_sync(name="First", entities=["orders", "customers"])
    second = make_sync(name="Second", status="paused", trigger_mode="scheduled",
                       schedule={"cron": "0 * * * *"})
    run = trigger(first["id"])
    run_job(run.job_id)
    response = admin_client.get(SYNCS)
    assert shown(response) == {first["id"], second["id"]}
    html = response.content.decode()
    assert ">active</span>" in html and ">paused</span>" in html and ">succeeded</span>" in html
    assert f'href="{RUNS}{run.pk}/change/"' in html
    assert "http_api" in html and "first" in html
    assert shown(admin_client.get(f"{SYNCS}?status__exact=paused")) == {second["id"]}
    assert shown(admin_client.get(f"{SYNCS}?trigger_mode__exact=scheduled")) == {second["id"]}
    assert shown(admin_client.get(f"{SYNCS}?execution_mode__exact=sequential")) == {
        first["id"], second["id"]}
    assert shown(admin_client.get(f"{SYNCS}?q=secon")) == {second["id"]}
    for column in range(1, 10):
        assert admin_client.get(f"{SYNCS}?o={column}").status_code == 200


def test_sync_page_and_bindings(admin_client, make_sync):
    sync = make_sync(entities=["orders", "customers"])
    response = admin_client.get(f"{SYNCS}{sync['id']}/change/")
    html = response.content.decode()
    form = response.context["adminform"].form
    assert set(form.fields) == {"name", "status", "trigger_mode", "schedule"}
    (bindings,) = response.context["inline_admin_formsets"]
    assert bindings.has_change_permission is False and bindings.has_add_permission is False
    row = Sync.objects.get(pk=sync["id"]).table_bindings.get(entity_key="orders")
    assert row.physical_table_name in html and "<p>Upsert</p>" in html
    assert f'/admin/syncs/connection/{row.sync.connection_id}/change/' in html
    assert "/do/trigger/" in html and "/do/pause/" in html and "/do/resume/" not in html
    assert admin_client.get(f"{SYNCS}add/").status_code == 403


def test_sync_edit_goes_through_update_sync(admin_client, make_sync):
    sync = make_sync()
    url = f"{SYNCS}{sync['id']}/change/"
    response = post_change(admin_client, url, name="Renamed", trigger_mode="scheduled",
                           schedule='{"cron": "*/5 * * * *", "timezone": "Europe/Paris"}')
    assert response.redirect_chain[-1][0] == SYNCS, errors(response)
    row = Sync.objects.get(pk=sync["id"])
    assert (row.name, row.trigger_mode) == ("Renamed", "scheduled")
    assert row.schedule == {"cron": "*/5 * * * *", "timezone": "Europe/Paris"}
    assert row.next_run_at is not None  # services.schedule_next ran
    assert row.updated_by.startswith("user:") and row.slug == "shop-orders"
    assert row.table_bindings.count() == 1  # the read-only inline changed nothing
    response = post_change(admin_client, url, trigger_mode="manual", schedule="")
    row.refresh_from_db()
    assert (row.trigger_mode, row.next_run_at) == ("manual", None)


@pytest.mark.parametrize("changes,field,message", [
    ({"trigger_mode": "scheduled", "schedule": ""}, "schedule", "needs schedule.cron"),
    ({"schedule": '{"cron": "nope"}'}, "schedule", "is not a cron expression"),
    ({"schedule": '{"cron": "0 * * * *", "timezone": "Mars/Base"}'}, "schedule",
     "Unknown time zone"),
    ({"schedule": "[1]"}, "schedule", "JSON object"),
    ({"status": "sleeping"}, "status", "Select a valid choice"),
])
def test_sync_edit_errors_are_form_errors(admin_client, make_sync, changes, field, message):
    sync = make_sync()
    response = post_change(admin_client, f"{SYNCS}{sync['id']}/change/", name="Changed",
                           **changes)
    assert any(message in error for error in errors(response)[field]), errors(response)
    row = Sync.objects.get(pk=sync["id"])
    assert (row.name, row.trigger_mode, row.schedule) == ("Shop orders", "manual", {})


def test_trigger_action_and_its_refusals(admin_client, make_sync):
    active = make_sync(name="Active")
    paused = make_sync(name="Paused", status="paused")
    syncs = Sync.objects.filter(pk__in=[active["id"], paused["id"]])
    response = act(admin_client, SYNCS, "trigger_syncs", *syncs)
    run = SyncRun.objects.get()
    assert str(run.sync_id) == active["id"]
    assert (run.triggered_by, run.run_mode, Job.objects.get(pk=run.job_id).created_by_id) == (
        "manual", "incremental", f"user:{User.objects.get().pk}")
    messages = notes(response)
    assert ("success", f"Triggered 1 sync (active: run {str(run.pk)[:8]}).") in messages
    assert ("warning", "Not triggered: 1 sync (paused): A paused sync cannot be triggered; "
                       "activate it first.") in messages
    response = act(admin_client, SYNCS, "trigger_syncs", Sync.objects.get(pk=active["id"]))
    assert notes(response) == [("error", "Not triggered: 1 sync (active): A run of this sync "
                                         "is already pending or running.")]
    # The button on the sync's page.
    services.cancel_run(run)
    response = admin_client.post(f"{SYNCS}{active['id']}/do/trigger/", follow=True)
    assert response.redirect_chain[-1][0] == f"{SYNCS}{active['id']}/change/"
    assert SyncRun.objects.filter(sync_id=active["id"], status="pending").count() == 1


def test_pause_and_resume(admin_client, make_sync):
    active = make_sync(name="Active")
    draft = make_sync(name="Draft", status="draft")
    both = lambda: Sync.objects.filter(pk__in=[active["id"], draft["id"]])  # noqa: E731
    response = act(admin_client, SYNCS, "pause_syncs", *both())
    assert ("success", "Paused 1 sync (active).") in notes(response)
    assert any(level == "warning" and "(draft): a draft sync cannot be paused" in text
               for level, text in notes(response)), notes(response)
    assert Sync.objects.get(pk=active["id"]).status == "paused"
    response = act(admin_client, SYNCS, "resume_syncs", *both())
    assert ("success", "Resumed 2 syncs (active, draft).") in notes(response)
    assert set(both().values_list("status", flat=True)) == {"active"}
    response = act(admin_client, SYNCS, "resume_syncs", *both())
    assert [level for level, _ in notes(response)] == ["error"]
    assert LogEntry.objects.filter(change_message="Status: paused.").count() == 1


def test_a_sync_with_an_active_run_is_not_deleted(admin_client, make_sync):
    sync = make_sync()
    run = trigger(sync["id"])
    response = admin_client.post(f"{SYNCS}{sync['id']}/delete/", {"post": "yes"}, follow=True)
    assert any("pending or running" in text for _, text in notes(response))
    assert Sync.objects.filter(pk=sync["id"]).exists()
    services.cancel_run(run)
    # A sync with runs keeps them as history: archived, not deleted, until they are deleted.
    response = admin_client.post(f"{SYNCS}{sync['id']}/delete/", {"post": "yes"}, follow=True)
    assert any("kept as history" in text for _, text in notes(response))
    assert Sync.objects.filter(pk=sync["id"]).exists()
    SyncRun.objects.filter(sync_id=sync["id"]).delete()
    response = admin_client.post(f"{SYNCS}{sync['id']}/delete/", {"post": "yes"}, follow=True)
    assert not Sync.objects.filter(pk=sync["id"]).exists()


# --- runs -----------------------------------------------------------------------------------

def test_run_list_and_page(admin_client, make_sync, run_job, shop, project):
    sync = make_sync(entities=["orders", "customers"])
    shop.fail_status = 500
    first = trigger(sync["id"])
    run_job(first.job_id)
    shop.fail_status = None
    second = services.retry_run(SyncRun.objects.get(pk=first.pk))
    run_job(second.job_id)
    response = admin_client.get(RUNS)
    assert shown(response) == {str(first.pk), str(second.pk)}
    html = response.content.decode()
    assert ">succeeded</span>" in html and ">failed</span>" in html
    assert ">10<" in html  # rows written by the second attempt
    assert shown(admin_client.get(f"{RUNS}?status__exact=failed")) == {str(first.pk)}
    assert shown(admin_client.get(f"{RUNS}?triggered_by__exact=retry")) == {str(second.pk)}
    assert shown(admin_client.get(f"{RUNS}?result_class__exact=success")) == {str(second.pk)}
    assert shown(admin_client.get(f"{RUNS}?sync__project__id__exact={project.pk}")) == {
        str(first.pk), str(second.pk)}
    assert shown(admin_client.get(f"{RUNS}?q={str(second.pk)[:8]}")) == {str(second.pk)}
    for column in range(1, 12):
        assert admin_client.get(f"{RUNS}?o={column}").status_code == 200

    html = page(admin_client, f"{RUNS}{second.pk}/change/")
    # The per-entity table.
    assert 'class="entity-orders"' in html and 'class="entity-customers"' in html
    assert "<td>7</td>" in html and "<td>3</td>" in html and "2026-01-07T00:00:00Z" in html
    # The attempt chain: links to the first attempt (root and previous).
    assert f'href="{RUNS}{first.pk}/change/"' in html
    assert f"#1 {str(first.pk)[:8]}" in html and f"<strong><a href=\"{RUNS}{second.pk}" in html
    assert escape('"rows_written": 10') in html  # the summary, pretty-printed
    assert f"/admin/jobs/job/{second.job_id}/change/" in html
    html = page(admin_client, f"{RUNS}{first.pk}/change/")
    assert f'href="{RUNS}{second.pk}/change/"' in html  # next attempt
    assert "500" in html  # the error per entity
    assert "/do/retry/" not in html  # already retried


def test_cancel_and_retry_runs(admin_client, make_sync):
    sync = make_sync()
    run = trigger(sync["id"])
    response = act(admin_client, RUNS, "retry_runs", run)
    assert notes(response) == [("error", f"Not retried: 1 run ({str(run.pk)[:8]}): A pending "
                                         "run cannot be retried; only failed or cancelled "
                                         "runs can.")]
    response = act(admin_client, RUNS, "cancel_runs", run)
    assert notes(response) == [("success", f"Cancelled 1 run ({str(run.pk)[:8]}).")]
    run.refresh_from_db()
    assert (run.status, run.cancel_requested_by) == ("cancelled", f"user:{User.objects.get().pk}")
    response = act(admin_client, RUNS, "cancel_runs", run)
    assert notes(response) == [("error", f"Not cancelled: 1 run ({str(run.pk)[:8]}): A "
                                         "cancelled run cannot be cancelled.")]
    response = act(admin_client, RUNS, "retry_runs", run)
    new = SyncRun.objects.get(previous_attempt_run=run)
    assert (new.attempt_number, new.triggered_by, new.status) == (2, "retry", "pending")
    assert notes(response) == [("success", f"Retried 1 run ({str(run.pk)[:8]} as attempt #2 "
                                           f"{str(new.pk)[:8]}).")]
    # The buttons: cancel the new one, retry it (to its page).
    html = page(admin_client, f"{RUNS}{new.pk}/change/")
    assert "/do/cancel/" in html and "/do/retry/" not in html
    response = admin_client.post(f"{RUNS}{new.pk}/do/cancel/", follow=True)
    assert SyncRun.objects.get(pk=new.pk).status == "cancelled"
    response = admin_client.post(f"{RUNS}{new.pk}/do/retry/", follow=True)
    third = SyncRun.objects.get(previous_attempt_run=new)
    assert response.redirect_chain[-1][0] == f"{RUNS}{third.pk}/change/"
    assert third.attempt_root_run_id == run.pk


def test_running_run_cancel_is_requested(admin_client, make_sync):
    sync = make_sync()
    run = trigger(sync["id"])
    SyncRun.objects.filter(pk=run.pk).update(status="running")
    response = act(admin_client, RUNS, "cancel_runs", run)
    assert notes(response)[0][0] == "success" and "next batch" in notes(response)[0][1]
    run.refresh_from_db()
    assert run.status == "running" and run.cancel_requested_at is not None
    assert ">running (cancelling)</span>" in page(admin_client, RUNS)
    # Active runs are not deleted.
    response = act(admin_client, RUNS, "delete_selected", run)
    assert any("Skipped 1 active run" in text for _, text in notes(response))
    assert admin_client.get(f"{RUNS}{run.pk}/delete/").status_code == 403


def test_run_page_is_read_only_and_viewers_get_no_buttons(viewer_client, make_sync):
    sync = make_sync()
    run = trigger(sync["id"])
    html = page(viewer_client, f"{RUNS}{run.pk}/change/")
    assert "/do/cancel/" not in html
    assert viewer_client.post(f"{RUNS}{run.pk}/do/cancel/").status_code == 403
    assert SyncRun.objects.get(pk=run.pk).status == "pending"
