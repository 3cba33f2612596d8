"""Property: for every collection, any query string of the grammar (filters from the
resource's FilterSet, sorts over its sortable fields, page[size]/page[number] or cursor pages,
count, include paths, sparse fieldsets of every type reached) gets the same answer from the
read path as from DRF-JSONAPI's stock path: the same status, and the same document, byte for
byte."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
import pytest
from django.urls import resolve
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework_json_api.utils import get_resource_type_from_serializer

from syncservice.jsonapi.filters import choices_of
from syncservice.jsonapi.query import included_serializers

COLLECTIONS = ["projects", "jobs", "exports", "connections", "syncs", "sync-runs", "events",
               "books"]
# Values a filter may be given besides its choices: numbers, booleans, dates, words.
FILTER_VALUES = ["1", "10", "0", "true", "false", "2020-01-01T00:00:00Z", "2100-01-01",
                 "Book 03", "essay", "demo.kind1", "shop", "Sync 0", "not a value"]


@dataclass
class Grammar:
    filters: dict[str, list[str]]        # name -> values worth trying
    sorts: list[str]
    includes: list[str]                  # dotted paths, two levels at most
    fields: dict[str, list[str]]         # type -> field names (of every type reached)
    path_types: dict[str, str]           # include path -> the type it reaches


def _walk(serializer_class, prefix: str, depth: int, grammar: Grammar) -> None:
    type_name = get_resource_type_from_serializer(serializer_class)
    grammar.fields.setdefault(type_name, [
        name for name in serializer_class().fields if name != "url"])
    if depth == 0:
        return
    for name, target in included_serializers(serializer_class).items():
        path = f"{prefix}{name}"
        grammar.includes.append(path)
        grammar.path_types[path] = get_resource_type_from_serializer(target)
        _walk(target, f"{path}.", depth - 1, grammar)


def grammar_of(collection: str) -> Grammar:
    view_class = resolve(f"/api/v1/{collection}").func.cls
    filterset_class = view_class.filterset_class
    filters = {}
    for name, filter_field in (filterset_class.base_filters if filterset_class else {}).items():
        choices = choices_of(filterset_class, filter_field) or []
        values = choices + (choices and [",".join(choices[:2])]) + FILTER_VALUES
        filters[name] = values
    fields = view_class.ordering_fields
    sorts = list(fields.keys() if isinstance(fields, dict) else fields)
    grammar = Grammar(filters, sorts, [], {}, {})
    _walk(view_class.serializer_class, "", 2, grammar)
    return grammar


@st.composite
def query_strings(draw, grammar: Grammar, primary_type: str) -> str:
    params: list[tuple[str, str]] = []
    if grammar.filters and draw(st.booleans()):
        name = draw(st.sampled_from(sorted(grammar.filters)))
        params.append((f"filter[{name}]", draw(st.sampled_from(grammar.filters[name]))))
    if grammar.sorts and draw(st.booleans()):
        terms = draw(st.lists(st.sampled_from(grammar.sorts), min_size=1, max_size=2,
                              unique=True))
        params.append(("sort", ",".join(f"-{term}" if draw(st.booleans()) else term
                                        for term in terms)))
    page = draw(st.sampled_from(["none", "number", "after", "before"]))
    size = str(draw(st.integers(min_value=1, max_value=4)))
    if page == "number":
        params += [("page[size]", size),
                   ("page[number]", str(draw(st.integers(min_value=1, max_value=3))))]
    elif page in ("after", "before"):
        params += [("page[size]", size), (f"page[{page}]", "")]
    if draw(st.booleans()):
        params.append(("count", "true"))
    includes = draw(st.lists(st.sampled_from(grammar.includes), max_size=3, unique=True)) \
        if grammar.includes else []
    if includes:
        params.append((draw(st.sampled_from(["include", "included"])), ",".join(includes)))
    types = [primary_type, *(grammar.path_types[path] for path in includes)]
    for type_name in dict.fromkeys(types):
        if draw(st.integers(min_value=0, max_value=2)) == 0:
            names = draw(st.lists(st.sampled_from(grammar.fields[type_name]), max_size=4,
                                  unique=True))
            params.append((f"fields[{type_name}]", ",".join(names)))
    return urlencode(params, safe="[],")


def answer(api, settings, url: str, read_path: bool):
    settings.JSONAPI_FAST_PATH = read_path
    return api.get(url)


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_the_read_path_answers_every_query_as_the_stock_path(api, settings, world,
                                                             collection):
    api.get("/api/v1/projects")  # the key's last use is recorded once, here
    grammar = grammar_of(collection)
    view_class = resolve(f"/api/v1/{collection}").func.cls
    primary_type = get_resource_type_from_serializer(view_class.serializer_class)

    @hypothesis_settings(max_examples=25, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])
    @given(query=query_strings(grammar, primary_type))
    def same_answer(query: str) -> None:
        url = f"/api/v1/{collection}?{query}"
        read_answer = answer(api, settings, url, True)
        stock_answer = answer(api, settings, url, False)
        assert read_answer.status_code == stock_answer.status_code, (
            url, read_answer.content[:300], stock_answer.content[:300])
        if read_answer.status_code == 200:
            assert read_answer.content == stock_answer.content, url
        else:
            assert orjson.loads(read_answer.content) == orjson.loads(stock_answer.content), url

    same_answer()
