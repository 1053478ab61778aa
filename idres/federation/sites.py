"""Reading ``HS_SITE`` values: where the node responsible for a prefix can be reached.

Two spellings of an interface are understood: idres's own
``{"protocol": "HTTP", "url": "http://host:8000"}`` and CNRI's
``{"protocol": "HTTP"|"TCP"|"UDP", "port": 8000}`` with the address on the
server (``{"address": "10.0.0.1", "interfaces": [...]}``).  Primary sites
come first.  ``HS_SERV`` (a pointer to a service handle) is not followed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlsplit

SITE_TYPES = ("HS_SITE", "HS_SITE.PREFIX")
BINARY_PROTOCOLS = ("TCP", "UDP")


@dataclass(frozen=True)
class Site:
    """One server of a site: its REST base URL and binary-protocol address, when given."""

    http_url: str = ""
    hdl_host: str = ""
    hdl_port: int = 0
    hdl_protocols: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The address this server is asked at, for messages."""
        return self.http_url or f"{self.hdl_host}:{self.hdl_port} ({'/'.join(self.hdl_protocols)})"


def node_url(url: str) -> str:
    """A base URL in one spelling (lower-case scheme and host, default port, no trailing /)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}{parts.path.rstrip('/')}"


def is_http_url(url: str) -> bool:
    """True for an http(s) URL with a host and a valid port (if any)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port over 65535, or an unclosed IPv6 bracket
        return False


def site_values(values: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``HS_SITE`` (and ``HS_SITE.PREFIX``) values of a record."""
    return [v for v in values if v.get("type") in SITE_TYPES]


def sites_of(values: Iterable[dict[str, Any]]) -> list[Site]:
    """Every server named by the record's site values, primary sites first."""
    found: list[tuple[int, Site]] = []
    for value in site_values(values):
        data = value.get("data")
        site = data.get("value") if isinstance(data, dict) and data.get("format") == "site" else None
        if not isinstance(site, dict) or not isinstance(site.get("servers"), list):
            continue
        rank = 0 if _is_primary(site) else 1
        found += [(rank, s) for s in map(_server, site["servers"]) if s is not None]
    return [s for _, s in sorted(found, key=lambda pair: pair[0])]


def _is_primary(site: dict[str, Any]) -> bool:
    mask = site.get("primaryMask")
    return bool(site.get("primarySite") or (isinstance(mask, dict) and mask.get("primary")))


def _server(server: Any) -> Site | None:
    """One server entry, or None when it names no usable interface."""
    if not isinstance(server, dict) or not isinstance(server.get("interfaces"), list):
        return None
    address = server.get("address") if isinstance(server.get("address"), str) else ""
    http_url, hdl_port, protocols = "", 0, []
    for iface in server["interfaces"]:
        if not isinstance(iface, dict):
            continue
        protocol = str(iface.get("protocol", "")).upper()
        port = iface.get("port")
        port = port if isinstance(port, int) and 0 < port < 65536 else 0
        if protocol in ("HTTP", "HTTPS") and not http_url:
            http_url = _http_url(iface, protocol, address, port)
        elif protocol in BINARY_PROTOCOLS and port and (address or iface.get("address")):
            address = address or str(iface["address"])
            hdl_port = hdl_port or port
            protocols.append(protocol)
    if not http_url and not protocols:
        return None
    return Site(http_url, address if protocols else "", hdl_port, tuple(protocols))


def _http_url(iface: dict[str, Any], protocol: str, address: str, port: int) -> str:
    """The interface's REST base URL; only http(s) URLs are ever contacted."""
    url = iface.get("url")
    if isinstance(url, str):
        return url.rstrip("/") if is_http_url(url) else ""
    if address and port:
        host = f"[{address}]" if ":" in address else address
        return f"{protocol.lower()}://{host}:{port}"
    return ""
