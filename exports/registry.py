"""The registry of what can be exported, by resource type name.

A resource is registered built (``register``), or by a function building it on first use
(``register_lazily``: the service's own resources derive from their API viewsets, which a
worker need not load to start), or through a resolver of project-scoped names
(``register_resolver``: each synced table, by its logical name within its project).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exports.resources import ExportableResource

_registry: dict[str, ExportableResource] = {}
_builders: dict[str, Callable[[], ExportableResource]] = {}
# Project-scoped resource types (e.g. each synced table, by its logical name in a project):
# functions (name, project) -> resource | None, and (project) -> names.
_resolvers: list[tuple[Callable, Callable]] = []


def register(resource: ExportableResource) -> ExportableResource:
    _registry[resource.name] = resource
    return resource


def register_lazily(name: str, build: Callable[[], ExportableResource]) -> None:
    """Register the resource type ``name``, built by ``build()`` when first looked up."""
    _builders[name] = build


def register_resolver(resolve: Callable, names: Callable) -> None:
    """Add project-scoped resource types: ``resolve(name, project)`` returns the resource or
    None, ``names(project)`` lists them (for error messages and discovery)."""
    if (resolve, names) not in _resolvers:
        _resolvers.append((resolve, names))


def get_resource(name: str, project=None) -> ExportableResource | None:
    resource = _registry.get(name)
    if resource is None and name in _builders:
        resource = register(_builders[name]())  # two threads may both build: same result
    if resource is None and project is not None:
        for resolve, _ in _resolvers:
            resource = resolve(name, project)
            if resource is not None:
                break
    return resource


def resource_names(project=None) -> list[str]:
    names = set(_registry) | set(_builders)
    if project is not None:
        for _, list_names in _resolvers:
            names.update(list_names(project))
    return sorted(names)
