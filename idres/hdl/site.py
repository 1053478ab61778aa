"""HS_SITE data (RFC 3651 section 3.2.2): JSON to binary and back.

Binary layout: version (2), protocol major/minor (1+1), serial number (2),
primary mask (1: 0x80 primary, 0x40 multi-primary), hash option (1), hash
filter (4-byte length + bytes), attributes (count, then name/value strings),
servers (count, then per server: server id (4), address (16, IPv4 as
IPv4-mapped IPv6), public key (4-byte length + bytes), interfaces (count,
then type (1), protocol (1), port (4) each)).

JSON accepted (idres's own names, with CNRI's where they differ)::

    {"version": 1, "protocolVersion": "2.10", "serialNumber": 1,
     "primarySite": true, "multiPrimary": false,      # or "primaryMask": {"primary", "multiPrimary"}
     "hashOption": 2, "hashFilter": "", "attributes": [{"name": .., "value": ..}],
     "servers": [{"serverId": 1, "address": "192.0.2.1", "publicKey": <base64 or {format, value}>,
                  "interfaces": [{"type": "QUERY", "protocol": "TCP", "port": 2641},
                                 {"type": "QUERY", "protocol": "HTTP", "url": "http://192.0.2.1:8000"}]}]}

``type`` is OUT_OF_SERVICE, ADMIN, QUERY or ADMIN_AND_QUERY (or 0-3, or
CNRI's ``query``/``admin`` booleans); ``protocol`` UDP, TCP, HTTP or HTTPS
(or 0-3).  A server without ``address`` takes the host of its first
interface URL when that is an IP literal.  An address that is not an IP
literal (a host name) goes out as the unspecified address ``::``, which a
binary client cannot reach: HS_SITE values meant for binary clients must
name an IP ``address``.  A port missing beside a URL comes from the URL.
"""
from __future__ import annotations

import base64
import ipaddress
import logging
import struct
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from idres.hdl.wire import ProtocolError, Reader, bytes_field, string, u32

log = logging.getLogger("idres.hdl")

SITE_HEAD = struct.Struct(">HBBHBB")  # version, major, minor, serial, primary mask, hash option
PRIMARY, MULTI_PRIMARY = 0x80, 0x40
INTERFACE_TYPES = ("OUT_OF_SERVICE", "ADMIN", "QUERY", "ADMIN_AND_QUERY")
PROTOCOLS = ("UDP", "TCP", "HTTP", "HTTPS")
HASH_OPTIONS = ("HASH_TYPE_BY_PREFIX", "HASH_TYPE_BY_SUFFIX", "HASH_TYPE_BY_ALL")


def encode_site(site: Mapping[str, Any]) -> bytes:
    """HS_SITE JSON as RFC 3651 bytes (ValueError names what is wrong)."""
    major, _, minor = str(site.get("protocolVersion", "2.10")).partition(".")
    mask = site.get("primaryMask") if isinstance(site.get("primaryMask"), Mapping) else site
    primary = bool(mask.get("primarySite", mask.get("primary", False)))
    flags = (PRIMARY if primary else 0) | (MULTI_PRIMARY if mask.get("multiPrimary") else 0)
    head = SITE_HEAD.pack(int(site.get("version", 1)), int(major), int(minor or 0),
                          int(site.get("serialNumber", 1)), flags,
                          _code(site.get("hashOption", 2), HASH_OPTIONS, "hashOption"))
    attributes = site.get("attributes") or []
    servers = site.get("servers") or []
    return (head + bytes_field(str(site.get("hashFilter", "")).encode("utf-8"))
            + u32(len(attributes))
            + b"".join(string(str(a["name"])) + string(str(a["value"])) for a in attributes)
            + u32(len(servers)) + b"".join(_encode_server(s) for s in servers))


def _code(value: Any, names: tuple[str, ...], what: str) -> int:
    if isinstance(value, int) and 0 <= value < 256:
        return value
    if isinstance(value, str) and value.upper() in names:
        return names.index(value.upper())
    raise ValueError(f"HS_SITE {what} {value!r} is not one of {', '.join(names)}")


def _encode_server(server: Mapping[str, Any]) -> bytes:
    interfaces = server.get("interfaces") or []
    return (u32(int(server.get("serverId", 1))) + _address(server, interfaces)
            + bytes_field(_public_key(server.get("publicKey")))
            + u32(len(interfaces)) + b"".join(_encode_interface(i) for i in interfaces))


def _address(server: Mapping[str, Any], interfaces: list[Any]) -> bytes:
    text = server.get("address")
    if not text:
        hosts = [urlsplit(i["url"]).hostname for i in interfaces if i.get("url")]
        text = hosts[0] if hosts else "::"
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        # RFC 3651 has room for an IP address only, and resolving a name here would put
        # DNS on the answer path: the server goes out unreachable, the rest of the record
        # still goes out.
        if server.get("address"):
            log.warning("HS_SITE server address %r is not an IP address: sent as '::'", text)
        address = ipaddress.ip_address("::")
    if address.version == 4:
        address = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)
    return address.packed


def _public_key(key: Any) -> bytes:
    if not key:
        return b""
    if isinstance(key, Mapping):
        if key.get("format") == "hex":
            return bytes.fromhex(key["value"])
        if key.get("format") == "base64":
            return base64.b64decode(key["value"], validate=True)
        return str(key.get("value", "")).encode("utf-8")
    return base64.b64decode(key, validate=True)


def _encode_interface(interface: Mapping[str, Any]) -> bytes:
    if "type" in interface:
        kind = _code(interface["type"], INTERFACE_TYPES, "interface type")
    else:  # CNRI: {"query": true, "admin": false}
        kind = (2 if interface.get("query") else 0) | (1 if interface.get("admin") else 0)
    protocol = _code(interface.get("protocol", "TCP"), PROTOCOLS, "interface protocol")
    port = interface.get("port")
    if port is None and interface.get("url"):
        url = urlsplit(interface["url"])
        port = url.port or (443 if url.scheme == "https" else 80)
    return struct.pack(">BBI", kind, protocol, int(port if port is not None else 2641))


def decode_site(raw: bytes) -> dict[str, Any]:
    """HS_SITE bytes as JSON (idres's names; addresses as text, keys as base64)."""
    r = Reader(raw, "HS_SITE data")
    version, major, minor, serial, flags, hash_option = SITE_HEAD.unpack(
        r.take(SITE_HEAD.size, "site header"))
    out: dict[str, Any] = {
        "version": version, "protocolVersion": f"{major}.{minor}", "serialNumber": serial,
        "primarySite": bool(flags & PRIMARY), "multiPrimary": bool(flags & MULTI_PRIMARY),
        "hashOption": hash_option, "hashFilter": _text(r.bytes_field("hash filter"))}
    out["attributes"] = [{"name": r.string("attribute name"), "value": r.string("attribute value")}
                         for _ in range(r.count("attribute count", 8))]
    out["servers"] = [_decode_server(r) for _ in range(r.count("server count", 28))]
    r.finish()
    return out


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")


def _decode_server(r: Reader) -> dict[str, Any]:
    server_id = r.u32("server id")
    address = ipaddress.IPv6Address(r.take(16, "server address"))
    packed = address.packed
    if address.ipv4_mapped or (packed[:12] == b"\0" * 12 and packed[12:] != b"\0\0\0\0"):
        text = str(ipaddress.IPv4Address(packed[12:]))  # IPv4-mapped, or CNRI's zero-padded IPv4
    else:
        text = str(address)
    key = r.bytes_field("server public key")
    interfaces = []
    for _ in range(r.count("interface count", 6)):
        kind, protocol, port = r.u8("interface type"), r.u8("interface protocol"), r.u32("port")
        if kind >= len(INTERFACE_TYPES) or protocol >= len(PROTOCOLS):
            raise ProtocolError(f"HS_SITE data: interface type {kind} / protocol {protocol} unknown")
        interfaces.append({"type": INTERFACE_TYPES[kind], "protocol": PROTOCOLS[protocol],
                           "port": port})
    out: dict[str, Any] = {"serverId": server_id, "address": text, "interfaces": interfaces}
    if key:
        out["publicKey"] = base64.b64encode(key).decode("ascii")
    return out


@dataclass(frozen=True)
class Endpoint:
    """One way to reach a server named in an HS_SITE value."""

    protocol: str      # UDP, TCP, HTTP or HTTPS
    host: str
    port: int
    url: str = ""      # for HTTP(S): the URL given in the JSON, else built from host and port


def endpoints(site: Mapping[str, Any], protocols: tuple[str, ...] = PROTOCOLS) -> list[Endpoint]:
    """The query interfaces of every server of a site (JSON as stored or as decoded)."""
    found = []
    for server in site.get("servers") or []:
        for interface in server.get("interfaces") or []:
            kind = interface.get("type", "QUERY" if interface.get("query") else "ADMIN")
            if str(kind).upper() not in ("QUERY", "ADMIN_AND_QUERY") and kind not in (2, 3):
                continue
            protocol = interface.get("protocol", "TCP")
            protocol = PROTOCOLS[protocol] if isinstance(protocol, int) else str(protocol).upper()
            if protocol not in protocols:
                continue
            url = interface.get("url", "")
            host = server.get("address") or (urlsplit(url).hostname if url else "") or ""
            port = interface.get("port") or (urlsplit(url).port if url else None) or 2641
            if protocol in ("HTTP", "HTTPS") and not url:
                url = f"{protocol.lower()}://{_host_for_url(host)}:{port}"
            found.append(Endpoint(protocol, host, int(port), url))
    return found


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host
