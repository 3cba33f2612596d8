import re

import pytest
from django.core.management import CommandError, call_command

from syncservice.accounts.models import ApiKey, Project
from syncservice.accounts.services import verify_api_key
from tests.conftest import body


def test_admin_creates_a_key_and_shows_the_secret_once(admin_client, project):
    response = admin_client.post("/admin/accounts/apikey/add/", {
        "project": project.pk, "name": "from-admin", "scope": "write"}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    (raw,) = re.findall(r"ssk_[0-9a-f]{12}_[A-Za-z0-9_\-]+", text)
    key = ApiKey.objects.get(name="from-admin")
    assert verify_api_key(raw) == key
    assert key.scope == "write" and key.created_by.username == "admin"
    page = admin_client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    assert raw not in page


def test_admin_revoke_action(admin_client, project, make_key):
    raw = make_key(project, name="old")
    key = ApiKey.objects.get(name="old")
    admin_client.post("/admin/accounts/apikey/", {"action": "revoke",
                                                  "_selected_action": [key.pk]})
    assert verify_api_key(raw) is None


def test_admin_lists_projects_and_keys(admin_client, project, make_key):
    make_key(project, name="listed")
    assert "acme" in admin_client.get("/admin/accounts/project/").content.decode()
    assert "listed" in admin_client.get("/admin/accounts/apikey/").content.decode()


def test_create_api_key_command(project, capsys, make_client):
    call_command("create_api_key", "--project", "acme", "--scope", "write")
    raw = capsys.readouterr().out.strip()
    assert verify_api_key(raw).scope == "write"
    assert body(make_client(raw).get("/api/v1/projects"))["data"][0]["id"] == str(project.pk)


def test_create_api_key_command_refuses_unknown_project(db):
    with pytest.raises(CommandError, match="No project named 'nope'"):
        call_command("create_api_key", "--project", "nope")
    call_command("create_api_key", "--project", "nope", "--create-project")
    assert Project.objects.filter(name="nope").exists()


def test_seed_demo_is_repeatable_and_prints_a_working_key(db, capsys, make_client):
    call_command("seed_demo", "--quiet-key")
    first = capsys.readouterr().out.strip()
    call_command("seed_demo", "--quiet-key")
    second = capsys.readouterr().out.strip()
    assert first != second
    assert Project.objects.filter(name="demo").count() == 1
    from jobs.models import Job

    assert Job.objects.filter(project__name="demo").count() == 3  # seeded once
    assert make_client(second).get("/api/v1/projects").status_code == 200


def test_healthz_needs_no_auth(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
