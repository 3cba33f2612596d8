"""What the admin tests share: a staff user with some permissions, and a changelist page's
rows, its messages and its actions."""

from __future__ import annotations


def staff(client, app_label: str, *codenames: str):
    """``client`` logged in as a staff user ("operator") with ``app_label``'s permissions
    ``codenames`` only."""
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("operator", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label=app_label,
                                                        codename__in=codenames))
    client.force_login(user)
    return client


def shown(response) -> set:
    """The pks of the objects on a changelist page."""
    assert response.status_code == 200, response.status_code
    return {obj.pk for obj in response.context["cl"].result_list}


def notes(response) -> list[tuple[str, str]]:
    """The (level, text) messages shown on a page reached with follow=True."""
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


def act(client, changelist: str, action: str, *objects, **extra):
    """Post ``action`` on ``objects`` from the changelist at ``changelist``, following the
    redirect."""
    return client.post(changelist, {"action": action,
                                    "_selected_action": [str(o.pk) for o in objects], **extra},
                       follow=True)


def assert_delete_refused(client, changelist: str, obj, message: str) -> None:
    """``obj`` may not be deleted: no delete link on its page, its delete page redirects back
    to it with the error ``message``, and a posted confirmation deletes nothing."""
    change = f"{changelist}{obj.pk}/change/"
    delete = f"{changelist}{obj.pk}/delete/"
    assert f"{obj.pk}/delete/" not in client.get(change).content.decode()
    response = client.get(delete, follow=True)
    assert response.redirect_chain == [(change, 302)]
    assert notes(response) == [("error", message)]
    client.post(delete, {"post": "yes"})
    assert type(obj).objects.filter(pk=obj.pk).exists()
