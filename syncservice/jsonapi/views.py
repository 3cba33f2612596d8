"""The base viewset every JSON:API collection uses: tenancy scoping, the query grammar,
include-driven prefetching, filtering and stable sorting."""

from __future__ import annotations

from collections.abc import Sequence

from rest_framework import mixins, viewsets
from rest_framework.exceptions import MethodNotAllowed, ParseError, PermissionDenied

from syncservice.jsonapi import read
from syncservice.jsonapi.filters import apply_filters
from syncservice.jsonapi.pagination import CursorPages, PageNumberFamily, PaginationFamily
from syncservice.jsonapi.prefetch import plan_related
from syncservice.jsonapi.query import JsonApiQuery, normalized_query_params, parse_query


class JsonApiViewSet(viewsets.GenericViewSet):
    """Subclasses set ``queryset``, ``serializer_class``, ``filterset_class``,
    ``ordering_fields`` (the sort allow-list: API name → ORM path, or a list of names) and
    ``ordering`` (the default sort). ``project_field`` is the ORM path to the owning project,
    used to scope every query to the caller's projects."""

    filterset_class = None
    ordering_fields: Sequence[str] | dict[str, str] = ()
    ordering: Sequence[str] = ("-created_at",)
    project_field: str = "project_id"
    # Relationships whose linkage is rendered on every row (to-many): always prefetched.
    prefetch_always: Sequence = ()
    # To-one relations read on every row (e.g. for a derived attribute): always joined.
    select_always: Sequence[str] = ()
    # Include paths (first segment) the view prefetches itself (derived relationships).
    custom_includes: Sequence[str] = ()
    # API relationship name → model field, where they differ.
    relationship_sources: dict[str, str] = {}
    # Extra query parameters accepted per action, e.g. {"download": ["file"]}.
    extra_query_params: dict[str, Sequence[str]] = {}
    lookup_value_regex = "[^/]+"
    # The pagination families a list accepts; the first serves requests that name none.
    pagination_families: Sequence[PaginationFamily] = (PageNumberFamily(), CursorPages())

    jsonapi_query: JsonApiQuery

    # --- grammar -----------------------------------------------------------------------------
    def get_extra_query_params(self) -> Sequence[str]:
        return self.extra_query_params.get(self.action, ())

    def get_pagination_families(self) -> Sequence[PaginationFamily]:
        return self.pagination_families

    def get_ordering_fields(self) -> dict[str, str]:
        fields = self.ordering_fields
        return dict(fields) if isinstance(fields, dict) else {name: name for name in fields}

    collection_actions: Sequence[str] = ("list",)
    # POST actions that take no request document (e.g. a connection check).
    bodyless_actions: Sequence[str] = ()
    # POST actions whose document may be left out: an empty body or `{}` (what seed 001's
    # clients send) means every attribute takes its default; a JSON:API document still works.
    optional_document_actions: Sequence[str] = ()
    # To-one relationships a write document may carry (name -> related resource type) per
    # action, e.g. {"create": {"connection": "connections"}}; any other relationship is a 422
    # (see ``syncservice.jsonapi.parsers``).
    write_relationships: dict[str, dict[str, str]] = {}

    @property
    def is_collection(self) -> bool:
        return self.action in self.collection_actions

    def translate_query(self, request, query: JsonApiQuery) -> None:
        """Hook: map a resource's compatibility parameters onto the grammar."""

    def write_document(self) -> tuple[type, dict[str, str]]:
        """What a write document of this action may carry: the serializer of its attributes
        and its relationships (name -> related type). The parser refuses anything else."""
        return self.get_serializer_class(), dict(self.write_relationships.get(self.action, {}))

    def initial(self, request, *args, **kwargs):
        # The method first: a method the path does not serve is a 405 (with `Allow`), before
        # authentication, the query grammar or the body can answer anything else.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PATCH", "PUT") and not request.stream \
                and self.action not in self.bodyless_actions \
                and self.action not in self.optional_document_actions:
            # DRF skips the parser for an empty body; every write here takes a document.
            raise ParseError("The request body must be a JSON:API document.")
        if request.method == "OPTIONS":
            # The metadata answer takes no query: the grammar is the actions' own.
            self.jsonapi_query = JsonApiQuery()
            return
        self.jsonapi_query = parse_query(request, self, collection=self.is_collection)
        self.translate_query(request, self.jsonapi_query)
        # DRF-JSONAPI reads `include` and `fields[type]`; hand it the normalized form.
        request._request.GET = normalized_query_params(request.query_params, self.jsonapi_query)

    # --- queryset ----------------------------------------------------------------------------
    def scope_queryset(self, queryset):
        access = getattr(self.request, "auth", None)
        project_ids = getattr(access, "project_ids", ())
        if project_ids is None:  # operators (staff sessions) see every project
            return queryset
        return queryset.filter(**{f"{self.project_field}__in": list(project_ids)})

    def owning_project(self):
        """The project a resource created by this request belongs to: the API key's, or the
        session's only project."""
        from syncservice.accounts.models import Project

        access = self.request.auth
        if access.api_key is not None:
            return access.api_key.project
        projects = Project.objects.all() if access.project_ids is None else \
            Project.objects.filter(pk__in=access.project_ids)
        candidates = list(projects[:2])
        if len(candidates) != 1:
            raise PermissionDenied("Create resources with an API key of the project: this "
                                   "session reaches several projects (or none).")
        return candidates[0]

    def get_queryset(self):
        queryset = self.scope_queryset(super().get_queryset())
        query = getattr(self, "jsonapi_query", None)
        includes = [path for path in (query.include if query else [])
                    if path.split(".")[0] not in self.custom_includes]
        selects, prefetches = plan_related(queryset.model, includes, self.relationship_sources)
        selects = sorted(set(selects) | set(self.select_always))
        if selects:
            queryset = queryset.select_related(*selects)
        if prefetches:
            queryset = queryset.prefetch_related(*prefetches)
        if self.prefetch_always:
            queryset = queryset.prefetch_related(*self.prefetch_always)
        return queryset

    def filter_queryset(self, queryset):
        if not self.is_collection:
            return queryset
        query = self.jsonapi_query
        queryset = apply_filters(queryset, self.filterset_class, query.filters, self.request,
                                 parameters=query.filter_parameters)
        return queryset.order_by(*self.order_by_terms(query.sort))

    def order_by_terms(self, sort: Sequence[str]) -> list[str]:
        """The ORM ordering for ``sort`` (or the default), with the primary key appended as a
        tie-breaker so pages are stable."""
        mapping = self.get_ordering_fields()
        terms = []
        for term in sort or self.ordering:
            descending = term.startswith("-")
            name = term.lstrip("-")
            path = mapping.get(name, name)
            terms.append(f"-{path}" if descending else path)
        pk_names = {"pk", "id", "-pk", "-id"}
        if not any(term in pk_names for term in terms):
            last_descending = terms[-1].startswith("-") if terms else False
            terms.append("-pk" if last_descending else "pk")
        return terms

    # --- the read path (syncservice.jsonapi.read) -----------------------------------------
    read_actions: Sequence[str] = ("list", "retrieve")

    def reader(self):
        """The read path's document builder for this list/show request, or None (the stock
        DRF-JSONAPI serializers and renderer)."""
        if self.action not in self.read_actions or self.request.method not in ("GET", "HEAD"):
            return None
        if not hasattr(self, "_reader"):
            self._reader = read.reader_for(self, self.get_serializer_class())
        return self._reader

    def finalize_response(self, request, response, *args, **kwargs):
        # A created resource (201, or 202 with the resource being built) says where it lives
        # (RFC 9110 §10.2.2): generic clients read the new resource's URL from `Location`.
        data = getattr(response, "data", None)
        if response.status_code in (201, 202) and "Location" not in response \
                and isinstance(data, dict) and isinstance(data.get("url"), str):
            response["Location"] = str(data["url"])  # a plain str (wsgiref checks the type)
        return super().finalize_response(request, response, *args, **kwargs)

    def paginate_queryset(self, queryset):
        reader = self.reader()
        if reader is not None:
            rows = reader.page_queryset(queryset)
            if rows is not None:
                queryset = rows
        return super().paginate_queryset(queryset)

    def get_serializer(self, *args, **kwargs):
        """In DRF's list and retrieve, a stand-in whose ``.data`` is the document built by the
        read path, when it reads every field the document renders (else the stock path)."""
        if len(args) == 1 and not set(kwargs) - {"many"}:
            reader = self.reader()
            if reader is not None:
                return read.ReadSerializer(reader, args[0], many=kwargs.get("many", False))
        return super().get_serializer(*args, **kwargs)


class ReadOnlyJsonApiViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, JsonApiViewSet):
    pass
