"""The events list by cursor pages (``page[after]`` / ``page[before]``): walked forward and
backward with a filter and a sort, stable while events are recorded meanwhile, refusing
made-up cursors, in a constant number of queries whatever the page size and depth."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from syncservice.events import services as events
from syncservice.events.models import Event
from tests.conftest import body, error_of

KINDS = ["created", "started", "failed", "cancelled"]


@pytest.fixture
def base_time():
    return timezone.now() - timedelta(days=1)


@pytest.fixture
def recorded(project, other_project, make_job, base_time):
    """24 events of 6 jobs of the project, two by two at the same instant (ties the id
    breaks), and one of another project."""
    made, job = [], None
    for index in range(24):
        job = make_job(project) if index % 4 == 0 else job
        kind = KINDS[index % 4]
        event = events.record_for(job, kind, {"reason": "boom"} if kind == "failed" else {})
        Event.objects.filter(pk=event.pk).update(
            created_at=base_time + timedelta(minutes=index // 2))
        made.append(event)
    events.record_for(make_job(other_project), "created")
    return made


def ids(document) -> list[str]:
    return [item["id"] for item in document["data"]]


def walk(api, url: str, direction: str = "next", *, between=None) -> list[str]:
    """Every id the links lead to from ``url`` (in the list's order), calling ``between``
    after each page."""
    seen, pages = [], 0
    while url:
        document = body(api.get(url))
        seen = ids(document) + seen if direction == "prev" else seen + ids(document)
        url = document["links"][direction]
        pages += 1
        assert pages < 40
        if between is not None:
            between(pages)
    return seen


def cursor_params(link: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(link).query, keep_blank_values=True).items()}


QUERIES = ["filter[kind__in]=created,failed,cancelled&sort=-created_at",
           "filter[kind__in]=created,started&sort=kind,-created_at",
           "sort=subject_type,created_at", "filter[created_at__gte]={since}"]


@pytest.mark.parametrize("query", QUERIES)
def test_cursor_pages_walk_the_events_as_page_numbers_list_them(api, recorded, base_time,
                                                                query):
    since = (base_time + timedelta(minutes=3)).isoformat().replace("+", "%2B")
    query = query.format(since=since)
    expected = ids(body(api.get(f"/api/v1/events?{query}")))
    assert 6 <= len(expected) < len(recorded) or "filter" not in query
    forward = walk(api, f"/api/v1/events?{query}&page[size]=5&page[after]=")
    assert forward == expected
    backward = walk(api, f"/api/v1/events?{query}&page[size]=5&page[before]=", "prev")
    assert backward == expected


def test_a_subjects_events_walk_by_cursor(api, recorded):
    url = f"/api/v1/jobs/{recorded[0].subject_id}/events?sort=-created_at"
    expected = ids(body(api.get(url)))
    assert sorted(expected) == sorted(str(event.pk) for event in recorded[:4])
    url += "&page[size]=1"
    assert walk(api, url + "&page[after]=") == expected
    assert walk(api, url + "&page[before]=", "prev") == expected


@pytest.mark.parametrize("sort", ["created_at", "-created_at"])
def test_events_recorded_during_a_walk_are_neither_repeated_nor_skipped(
        api, recorded, project, make_job, base_time, sort):
    """New events come after the cursor or before it, by the sort: those after it are on the
    later pages, those before it are not; no event is listed twice, none is skipped."""
    job = make_job(project)
    ascending = sort == "created_at"
    start, end = base_time - timedelta(days=1), base_time + timedelta(days=1)
    first_moment, last_moment = (start, end) if ascending else (end, start)
    added: dict[str, str] = {}

    def record(pages: int) -> None:
        if pages > 2:
            return
        step = timedelta(minutes=pages) * (1 if ascending else -1)
        # "behind": first by the sort, where the walk has been; "ahead": last, still to come.
        for where, moment in (("behind", first_moment), ("ahead", last_moment + step)):
            event = events.record_for(job, "created")
            Event.objects.filter(pk=event.pk).update(created_at=moment)
            added[str(event.pk)] = where

    seen = walk(api, f"/api/v1/events?sort={sort}&page[size]=4&page[after]=", between=record)
    assert len(seen) == len(set(seen))
    original = [str(event.pk) for event in recorded]
    assert [pk for pk in seen if pk in original] == \
        ids(body(api.get(f"/api/v1/events?sort={sort}&filter[id__in]={','.join(original)}")))
    assert {pk for pk in seen if pk in added} == \
        {pk for pk, where in added.items() if where == "ahead"}
    assert sum(1 for where in added.values() if where == "behind") == 2


@pytest.mark.parametrize("parameter", ["page[after]", "page[before]"])
@pytest.mark.parametrize("value", ["not-a-cursor", "%C2%875", "e30", "W10"])
def test_made_up_cursors_are_400_naming_the_parameter(api, recorded, parameter, value):
    for url in ("/api/v1/events", f"/api/v1/jobs/{recorded[0].subject_id}/events"):
        error = error_of(api.get(f"{url}?{parameter}={value}"), 400)
        assert error["source"] == {"parameter": parameter}


def test_a_cursor_of_another_sort_is_400(api, recorded):
    document = body(api.get("/api/v1/events?sort=-created_at&page[size]=2&page[after]="))
    cursor = cursor_params(document["links"]["next"])["page[after]"]
    error = error_of(api.get(f"/api/v1/events?sort=kind&page[after]={cursor}"), 400)
    assert error["source"] == {"parameter": "page[after]"}


def test_cursor_pages_take_constant_queries(api, recorded, django_assert_max_num_queries):
    url = "/api/v1/events?include=project&sort=-kind,created_at&page[after]={cursor}" \
          "&page[size]={size}"
    first = body(api.get(url.format(cursor="", size=2)))
    deep = cursor_params(first["links"]["next"])["page[after]"]
    with django_assert_max_num_queries(8) as small:
        assert len(body(api.get(url.format(cursor="", size=1)))["data"]) == 1
    for cursor, size in (("", 24), (deep, 1), (deep, 20)):
        with django_assert_max_num_queries(len(small.captured_queries)):
            document = body(api.get(url.format(cursor=cursor, size=size)))
        assert document["data"]
