from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from syncservice.accounts.models import ApiKey
from syncservice.accounts.services import revoke_api_key
from tests.conftest import body, error_of


def test_x_api_key_header(project, make_key, make_client):
    client = make_client()
    response = client.get("/api/v1/projects", HTTP_X_API_KEY=make_key(project))
    assert [p["id"] for p in body(response)["data"]] == [str(project.pk)]


def test_bearer_token(project, make_key, make_client):
    client = make_client()
    response = client.get("/api/v1/projects", HTTP_AUTHORIZATION=f"Bearer {make_key(project)}")
    assert response.status_code == 200


def test_vai_token_cookie(project, make_key, make_client):
    client = make_client()
    client.cookies["vai_token"] = make_key(project)
    assert client.get("/api/v1/projects").status_code == 200


def test_admin_session(project, other_project, make_client):
    operator = User.objects.create_user("op", password="pw", is_staff=True)
    client = make_client()
    client.force_login(operator)
    ids = {p["id"] for p in body(client.get("/api/v1/projects"))["data"]}
    assert ids == {str(project.pk), str(other_project.pk)}


def test_session_of_non_staff_member_sees_only_their_projects(project, other_project,
                                                              make_client):
    member = User.objects.create_user("member", password="pw")
    project.members.add(member)
    client = make_client()
    client.force_login(member)
    ids = {p["id"] for p in body(client.get("/api/v1/projects"))["data"]}
    assert ids == {str(project.pk)}


def test_no_credentials_is_401_with_challenge(make_client, project):
    response = make_client().get("/api/v1/projects")
    error_of(response, 401)
    assert "Bearer" in response["WWW-Authenticate"]


@pytest.mark.parametrize("raw", ["nonsense", "ssk_0123456789ab_wrong", "ssk_", "Bearer x"])
def test_invalid_key_is_401(make_client, project, raw):
    error_of(make_client(raw).get("/api/v1/projects"), 401)


def test_wrong_secret_with_a_real_prefix_is_401(make_client, project, make_key):
    raw = make_key(project)
    error_of(make_client(raw[:-4] + "AAAA").get("/api/v1/projects"), 401)


def test_revoked_key_is_401(make_client, project, make_key):
    raw = make_key(project, name="to-revoke")
    revoke_api_key(ApiKey.objects.get(name="to-revoke"))
    error_of(make_client(raw).get("/api/v1/projects"), 401)


def test_expired_key_is_401(make_client, project, make_key):
    raw = make_key(project, expires_at=timezone.now() - timedelta(seconds=1))
    error_of(make_client(raw).get("/api/v1/projects"), 401)


def test_key_is_stored_hashed_and_use_is_recorded(make_client, project, make_key):
    raw = make_key(project, name="k")
    key = ApiKey.objects.get(name="k")
    assert raw not in (key.key_hash, key.prefix) and key.last_used_at is None
    assert make_client(raw).get("/api/v1/projects").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_read_scope_on_a_write_is_403(make_client, project, make_key, make_job):
    client = make_client(make_key(project, scope="read"))
    assert client.get("/api/v1/projects").status_code == 200
    job = make_job(project)
    error_of(client.delete(f"/api/v1/jobs/{job.pk}"), 403)


def test_a_method_the_path_does_not_serve_is_405_before_authentication(make_client, project,
                                                                        make_key):
    """The methods of a path are public (the OpenAPI document): 405 with Allow, whatever
    the credentials."""
    for client in (make_client(make_key(project, scope="read")), make_client()):
        response = client.delete(f"/api/v1/projects/{project.pk}")
        error_of(response, 405)
        assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_another_projects_resource_is_404(api, other_project):
    error_of(api.get(f"/api/v1/projects/{other_project.pk}"), 404)
    assert body(api.get(f"/api/v1/projects?filter[id]={other_project.pk}"))["data"] == []
