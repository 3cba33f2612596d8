import pytest

from tests.conftest import body, error_of


def test_relationship_linkage_without_include(api, library):
    document = body(api.get("/api/v1/books?page[size]=1&sort=title"))
    (book,) = document["data"]
    assert book["relationships"]["author"]["data"] == {
        "type": "authors", "id": str(library[0].author_id)}
    assert len(book["relationships"]["chapters"]["data"]) == 2
    assert "included" not in document


@pytest.mark.parametrize("parameter", ["included", "include"])
def test_include_lists_each_related_resource_once(api, library, parameter):
    document = body(api.get(f"/api/v1/books?{parameter}=author"))
    included = document["included"]
    assert sorted(item["attributes"]["name"] for item in included) == ["Ada", "Bob"]
    assert {item["type"] for item in included} == {"authors"}


def test_nested_include_paths(api, project, library):
    document = body(api.get("/api/v1/books?included=author.project,chapters"))
    types = sorted(item["type"] for item in document["included"])
    assert types.count("authors") == 2
    assert types.count("projects") == 1
    assert types.count("chapters") == 24
    keys = [(item["type"], item["id"]) for item in document["included"]]
    assert len(keys) == len(set(keys))
    (project_doc,) = [i for i in document["included"] if i["type"] == "projects"]
    assert project_doc["id"] == str(project.pk)


def test_include_on_a_single_resource(api, library):
    book = library[1]
    document = body(api.get(f"/api/v1/books/{book.pk}?included=author,chapters"))
    assert document["data"]["id"] == str(book.pk)
    assert {(i["type"], i["id"]) for i in document["included"]} == {
        ("authors", str(book.author_id)),
        *{("chapters", str(c.pk)) for c in book.chapters.all()}}


@pytest.mark.parametrize("parameter,value", [
    ("included", "publisher"), ("include", "author.nope"), ("included", "author,,chapters"),
    ("included", "chapters.book.author.project.x"),
])
def test_unknown_include_paths_are_400(api, library, parameter, value):
    error = error_of(api.get(f"/api/v1/books?{parameter}={value}"), 400)
    assert error["source"] == {"parameter": parameter}


def test_include_and_included_together_include_the_paths_of_either(api, library):
    """Both spellings at once (fuzzing sent them, as the schema allows): their union."""
    document = body(api.get("/api/v1/books?include=author&included=chapters,author"
                            "&page[size]=2"))
    types = {resource["type"] for resource in document["included"]}
    assert types == {"authors", "chapters"}
    assert len([r for r in document["included"] if r["type"] == "authors"]) == \
        len({r["relationships"]["author"]["data"]["id"] for r in document["data"]})


def test_fields_and_fields_of_the_primary_type_together_take_the_fields_of_either(api, library):
    document = body(api.get("/api/v1/books?fields=title&fields[books]=pages"))
    for resource in document["data"]:
        assert set(resource["attributes"]) == {"title", "pages"}
        assert "relationships" not in resource
    error = error_of(api.get("/api/v1/books?fields=title&fields[books]=nope"), 400)
    assert error["source"]["parameter"] == "fields[books]"


def test_plain_fields_apply_to_the_primary_type(api, library):
    document = body(api.get("/api/v1/books?fields=title,pages"))
    for item in document["data"]:
        assert set(item["attributes"]) == {"title", "pages"}
        assert "relationships" not in item
        assert item["links"]["self"].endswith(f"/api/v1/books/{item['id']}")


def test_fields_with_type_and_included_together(api, library):
    document = body(api.get(
        "/api/v1/books?included=author&fields[books]=title,author&fields[authors]=name"))
    for item in document["data"]:
        assert set(item["attributes"]) == {"title"}
        assert set(item["relationships"]) == {"author"}
    for item in document["included"]:
        assert set(item["attributes"]) == {"name"}


def test_plain_fields_and_included_together(api, library):
    document = body(api.get("/api/v1/books?fields=pages,chapters&included=chapters"))
    item = document["data"][0]
    assert set(item["attributes"]) == {"pages"}
    assert set(item["relationships"]) == {"chapters"}
    assert {i["type"] for i in document["included"]} == {"chapters"}


def test_fields_on_a_single_resource(api, library):
    document = body(api.get(f"/api/v1/books/{library[0].pk}?fields=genre"))
    assert document["data"]["attributes"] == {"genre": "novel"}


@pytest.mark.parametrize("parameter,value", [
    ("fields", "nope"), ("fields", "title,nope"), ("fields[books]", "isbn"),
    ("fields[authors]", "title"), ("fields[publishers]", "name"), ("fields[]", "title"),
])
def test_unknown_fields_are_400(api, library, parameter, value):
    error = error_of(api.get(f"/api/v1/books?{parameter}={value}"), 400)
    assert error["source"] == {"parameter": parameter}


def test_included_resources_whatever_the_sparse_fieldset(api, library):
    """JSON:API 1.1 ("Compound Documents"): full linkage is required "except when
    relationship fields that would otherwise contain linkage data are excluded via sparse
    fieldsets" — so a relationship left out of `fields` still has its requested resources
    included, and the resource objects carry only the fields asked for."""
    document = body(api.get("/api/v1/books?fields[books]=title&included=author"))
    for item in document["data"]:
        assert set(item["attributes"]) == {"title"}
        assert "relationships" not in item
    assert {(i["type"], i["attributes"]["name"]) for i in document["included"]} == {
        ("authors", "Ada"), ("authors", "Bob")}
    # Nested: the middle resource's fieldset leaves the next step out.
    document = body(api.get("/api/v1/books?fields[books]=title&fields[authors]=name"
                            "&included=author.project"))
    types = sorted(i["type"] for i in document["included"])
    assert types == ["authors", "authors", "projects"]
    for item in document["included"]:
        if item["type"] == "authors":
            assert set(item["attributes"]) == {"name"} and "relationships" not in item
    # A to-many relationship left out, on a single resource too.
    document = body(api.get(f"/api/v1/books/{library[0].pk}?fields=pages&included=chapters"))
    assert "relationships" not in document["data"]
    assert sorted(i["attributes"]["number"] for i in document["included"]) == [1, 2]
    # Relationships in the fieldset stay.
    document = body(api.get("/api/v1/books?fields[books]=title,chapters&included=author"))
    assert set(document["data"][0]["relationships"]) == {"chapters"}
    assert {i["type"] for i in document["included"]} == {"authors"}
