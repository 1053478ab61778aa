"""Handle values in their RFC 3651 binary layout, to and from idres's REST JSON.

A value on the wire: index (4), timestamp (4, seconds since 1970), TTL type
(1: 0 relative, 1 absolute), TTL (4), permissions (1: admin read 8, admin
write 4, public read 2, public write 1), type (string), data (4-byte length
+ bytes), references (4-byte count, then handle string + index each).

Data bytes by format: ``string`` and ``key`` as UTF-8 text, ``base64`` and
``hex`` as the bytes they spell, ``admin`` (HS_ADMIN) as permissions (2) +
admin handle (string) + index (4), ``vlist`` (HS_VLIST) as a count and
handle/index pairs, ``site`` (HS_SITE) as in :mod:`idres.hdl.site`.

The wire does not carry the format: decoding infers it from the type
(HS_ADMIN, HS_SITE, HS_SITE.PREFIX, HS_VLIST) and otherwise answers
``string`` for UTF-8 text and ``base64`` for anything else, as CNRI's JSON
does.  So a ``hex`` value comes back as ``base64`` of the same bytes.
"""
from __future__ import annotations

import base64
import re
import struct
import time
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Mapping

from idres.hdl import site
from idres.hdl.wire import ProtocolError, Reader, bytes_field, string, u32

VALUE_FIXED = struct.Struct(">IIBIB")  # index, timestamp, TTL type, TTL, permissions
MIN_VALUE_SIZE = VALUE_FIXED.size + 4 + 4 + 4  # + empty type, data and reference list
TTL_RELATIVE, TTL_ABSOLUTE = 0, 1
SITE_TYPES = ("HS_SITE", "HS_SITE.PREFIX")
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters but tab/CR/LF


@lru_cache(maxsize=4096)
def epoch(timestamp: str) -> int:
    """ISO 8601 UTC (``2026-11-30T08:15:00Z``) as seconds since 1970; 0 when absent."""
    if not timestamp:
        return 0
    try:
        return max(0, int(datetime.fromisoformat(timestamp).timestamp()))
    except ValueError:
        return 0


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_value(value: Mapping[str, Any]) -> bytes:
    """One REST-shaped value (``HandleValue.to_json()``) in the RFC 3651 layout."""
    data = value["data"]
    fmt, content = ("string", data) if isinstance(data, str) else (data["format"], data["value"])
    permissions = int(value.get("permissions") or "1110", 2)
    fixed = VALUE_FIXED.pack(value["index"], epoch(value.get("timestamp", "")), TTL_RELATIVE,
                             value.get("ttl", 86400), permissions)
    refs = [r for r in value.get("references") or () if _is_reference(r)]
    return (fixed + string(value["type"]) + bytes_field(encode_data(value["type"], fmt, content))
            + u32(len(refs)) + b"".join(string(r["handle"]) + u32(int(r["index"])) for r in refs))


def _is_reference(ref: Any) -> bool:
    return isinstance(ref, Mapping) and isinstance(ref.get("handle"), str) \
        and str(ref.get("index", "")).isdigit()


def encode_data(vtype: str, fmt: str, content: Any) -> bytes:
    """The data bytes of a value of format ``fmt`` (raises ValueError on bad content)."""
    if fmt in ("string", "key"):
        return str(content).encode("utf-8")
    if fmt == "base64":
        return base64.b64decode(content, validate=True)
    if fmt == "hex":
        return bytes.fromhex(content)
    if fmt == "admin":
        return struct.pack(">H", int(content["permissions"], 2) & 0xFFFF) \
            + string(content["handle"]) + u32(int(content["index"]))
    if fmt == "vlist":
        return u32(len(content)) + b"".join(string(r["handle"]) + u32(int(r["index"]))
                                            for r in content)
    if fmt == "site":
        return site.encode_site(content)
    raise ValueError(f"value of type {vtype}: unknown data format {fmt!r}")


def decode_value(r: Reader) -> dict[str, Any]:
    """One value from ``r``, as the REST API shows it."""
    index, stamp, ttl_type, ttl, perms = VALUE_FIXED.unpack(r.take(VALUE_FIXED.size, "value"))
    if ttl_type == TTL_ABSOLUTE:  # an expiry time: what is left of it
        ttl = max(0, ttl - int(time.time()))
    elif ttl_type != TTL_RELATIVE:
        raise ProtocolError(f"{r.what}: value {index} has TTL type {ttl_type}")
    vtype = r.string("value type")
    fmt, content = decode_data(vtype, r.bytes_field(f"value {index} data"))
    refs = [{"handle": r.string("reference handle"), "index": r.u32("reference index")}
            for _ in range(r.count("reference count", 8))]
    out: dict[str, Any] = {"index": index, "type": vtype, "data": {"format": fmt, "value": content},
                           "ttl": ttl, "timestamp": iso(stamp)}
    if perms & 0x0F != 0b1110:
        out["permissions"] = format(perms & 0x0F, "04b")
    if refs:
        out["references"] = refs
    return out


def decode_data(vtype: str, raw: bytes) -> tuple[str, Any]:
    """``(format, value)`` of a value's data bytes, the format inferred from its type."""
    if vtype == "HS_ADMIN":
        return "admin", _decode_admin(raw)
    if vtype in SITE_TYPES:
        return "site", site.decode_site(raw)
    if vtype == "HS_VLIST":
        r = Reader(raw, "HS_VLIST data")
        refs = [{"handle": r.string("handle"), "index": r.u32("index")}
                for _ in range(r.count("reference count", 8))]
        r.finish()
        return "vlist", refs
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(raw).decode("ascii")
    if _BINARY.search(text):
        return "base64", base64.b64encode(raw).decode("ascii")
    return "string", text


def _decode_admin(raw: bytes) -> dict[str, Any]:
    r = Reader(raw, "HS_ADMIN data")
    bits = r.u16("permissions")
    handle = r.string("admin handle")
    index = r.u32("admin index")
    r.finish()
    return {"handle": handle, "index": index, "permissions": format(bits & 0xFFF, "012b")}
