"""What the syncs admin's actions share: who acts, and how their outcome is reported."""

from __future__ import annotations

from django.contrib import messages

from jobs.admin import id_list, plural


def actor_of(request) -> str:
    return f"user:{request.user.pk}"[:64]


def report(model_admin, request, done: list[str], refused: dict[str, list[str]],
           done_text: str, refused_text: str, word: str) -> None:
    """One success message naming what was done, one message per refusal reason (a warning
    when something was done, an error when nothing was)."""
    if done:
        model_admin.message_user(request, done_text.format(
            f"{plural(len(done), word)} ({id_list(done)})"), messages.SUCCESS)
    level = messages.WARNING if done else messages.ERROR
    for reason, names in refused.items():
        model_admin.message_user(request, f"{refused_text} {plural(len(names), word)} "
                                          f"({id_list(names)}): {reason}", level)
