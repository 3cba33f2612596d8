"""Outbound requests to user-supplied URLs (connection base URLs, token endpoints, tracking
servers) must not reach the service's own network: private, loopback, link-local, reserved
and multicast addresses are refused unless allowed by ``OUTBOUND_ALLOWED_HOSTS`` (host names
or IPs) or ``OUTBOUND_ALLOWED_NETWORKS`` (CIDRs)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeDestination(ValueError):
    """The URL points somewhere this server must not call."""


def _allowed_networks() -> list:
    return [ipaddress.ip_network(n, strict=False) for n in settings.OUTBOUND_ALLOWED_NETWORKS]


def check_url(url: str, *, resolve: bool = True) -> None:
    """Raise ``UnsafeDestination`` unless ``url`` is http(s) to a public address (or an
    allowed host)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeDestination(f"Only http and https URLs are allowed, not {parts.scheme!r}.")
    host = parts.hostname
    if not host:
        raise UnsafeDestination("The URL has no host.")
    if host in settings.OUTBOUND_ALLOWED_HOSTS or "*" in settings.OUTBOUND_ALLOWED_HOSTS:
        return
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except socket.gaierror:
            return  # unresolvable: the request fails on its own, nothing internal is reached
        addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    allowed = _allowed_networks()
    for address in addresses:
        if any(address in network for network in allowed):
            continue
        if (address.is_private or address.is_loopback or address.is_link_local
                or address.is_reserved or address.is_multicast or address.is_unspecified):
            raise UnsafeDestination(
                f"{host} resolves to {address}, a private or internal address; outbound "
                "requests there are refused (OUTBOUND_ALLOWED_HOSTS / "
                "OUTBOUND_ALLOWED_NETWORKS allow exceptions).")


def url_fields(config: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(pointer, url) of every URL-valued field of a connection config (keys ending in
    ``url`` or ``uri``), nested objects included."""
    found = []
    for key, value in (config or {}).items():
        pointer = f"{prefix}/{key}"
        if isinstance(value, dict):
            found += url_fields(value, pointer)
        elif isinstance(value, str) and key.lower().endswith(("url", "uri")):
            found.append((pointer, value))
    return found
