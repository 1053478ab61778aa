"""Handle values: parsing client JSON, normalizing data, serializing output.

REFERENCE section 2: a value has an index, a type, typed data, a TTL, four
permission flags and a timestamp.  HS_ADMIN data carry 12 permission bits.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from marshmallow import ValidationError

from idres import seckey
from idres.errors import BadRequest, InvalidHandle, InvalidValue, from_validation
from idres.handles import parse_handle
from schemas.handle_values import ValueInSchema

DEFAULT_TTL = 86400
DEFAULT_PERMISSIONS = "1110"  # admin read, admin write, public read, no public write
SECRET_PERMISSIONS = "1100"
# Positions in the permissions string: admin read, admin write, public read, public write.
ADMIN_READ, PUBLIC_READ = 0, 2
FORMATS = ("string", "base64", "hex", "admin", "vlist", "site", "key")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# HS_ADMIN permission bits, bit 0 first (REFERENCE section 2).  The 12-character
# string is written most significant bit first, so its LAST character is bit 0
# (ADD_HANDLE) and its first is bit 11 (LIST_HANDLES): "011111110011" is
# everything but LIST_HANDLES, ADD_NA and DELETE_NA, as CNRI reads it.
ADMIN_BITS = ("ADD_HANDLE", "DELETE_HANDLE", "ADD_NA", "DELETE_NA", "MODIFY_VALUE",
              "REMOVE_VALUE", "ADD_VALUE", "MODIFY_ADMIN", "REMOVE_ADMIN", "ADD_ADMIN",
              "READ_VALUE", "LIST_HANDLES")
ALL_PERMISSIONS = "1" * 12
HANDLE_ADMIN_PERMISSIONS = "011111110011"


def utc_timestamp() -> str:
    """Now, as ISO 8601 without fractional seconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class HandleValue:
    """One value of a handle record."""

    index: int
    type: str
    format: str
    value: Any
    ttl: int = DEFAULT_TTL
    permissions: str = DEFAULT_PERMISSIONS
    references: list[Any] = field(default_factory=list)
    timestamp: str = ""

    @property
    def public_read(self) -> bool:
        return self.permissions[PUBLIC_READ] == "1"

    @property
    def admin_read(self) -> bool:
        return self.permissions[ADMIN_READ] == "1"

    @property
    def is_admin(self) -> bool:
        return self.type == "HS_ADMIN"

    def same_content(self, other: "HandleValue") -> bool:
        """Equal apart from the timestamp (an unchanged value keeps its time)."""
        return replace(self, timestamp="") == replace(other, timestamp="")

    def to_json(self) -> dict[str, Any]:
        """The REST representation; ``timestamp`` is always present."""
        return rest_json(self.index, self.type, self.format, self.value, self.ttl,
                         self.permissions, self.references, self.timestamp)


def rest_json(index: int, vtype: str, fmt: str, value: Any, ttl: int, permissions: str,
              references: list[Any], timestamp: str) -> dict[str, Any]:
    """A value's REST representation from its fields (resolution builds it straight
    from stored rows, without a :class:`HandleValue`)."""
    out: dict[str, Any] = {"index": index, "type": vtype, "data": {"format": fmt, "value": value},
                           "ttl": ttl, "timestamp": timestamp}
    if permissions != DEFAULT_PERMISSIONS:
        out["permissions"] = permissions
    if references:
        out["references"] = references
    return out


def admin_permissions(value: HandleValue) -> set[str]:
    """The permission names an HS_ADMIN value grants."""
    bits = value.value.get("permissions", "") if isinstance(value.value, dict) else ""
    return {name for name, bit in zip(ADMIN_BITS, reversed(bits)) if bit == "1"}


def parse_values(body: Any) -> list[HandleValue]:
    """Parse a PUT body: an array of values, ``{"values": [...]}`` or one value."""
    if isinstance(body, dict) and "values" in body:
        items, base = body["values"], "values"
    elif isinstance(body, dict):
        items, base = [body], "value"
    elif isinstance(body, list):
        items, base = body, "values"
    else:
        raise BadRequest("Body must be a JSON array of values, {\"values\": [...]} or one value",
                         field="body")
    if not isinstance(items, list):
        raise BadRequest("values must be a JSON array", field="values")
    values, seen = [], set()
    for i, item in enumerate(items):
        where = f"{base}[{i}]" if base == "values" else base
        value = parse_value(item, where)
        if value.index in seen:
            raise InvalidValue(f"Index {value.index} appears twice", field=f"{where}.index")
        seen.add(value.index)
        values.append(value)
    return values


def parse_value(item: Any, where: str) -> HandleValue:
    """Validate one value's JSON and normalize its data."""
    if not isinstance(item, dict):
        raise InvalidValue("A value must be a JSON object", field=where)
    try:
        loaded = ValueInSchema().load(item)
    except ValidationError as err:
        raise from_validation(err, where, InvalidValue) from None
    vtype = loaded["type"]
    if _CONTROL.search(vtype):
        raise InvalidValue("type contains control characters", field=f"{where}.type")
    fmt, data = normalize_data(vtype, loaded["data"], f"{where}.data")
    permissions = loaded.get("permissions", DEFAULT_PERMISSIONS)
    if vtype == "HS_SECKEY":
        # A secret is never publicly readable, whatever the client asked for.
        permissions = permissions[:2] + "00"
    return HandleValue(loaded["index"], vtype, fmt, data, loaded["ttl"], permissions,
                       loaded["references"])


def normalize_data(vtype: str, data: Any, where: str) -> tuple[str, Any]:
    """Return ``(format, value)`` for the data a client sent."""
    if isinstance(data, str):
        fmt, value = "string", data
    elif isinstance(data, dict) and set(data) <= {"format", "value"} and "format" in data:
        fmt, value = data["format"], data.get("value")
    else:
        raise InvalidValue("data must be a string or {\"format\", \"value\"}", field=where)
    if fmt not in FORMATS:
        raise InvalidValue(f"Unknown data format {fmt!r}", field=f"{where}.format")
    if vtype == "HS_ADMIN" and fmt != "admin":
        raise InvalidValue("HS_ADMIN data must have format 'admin'", field=f"{where}.format")
    if vtype == "HS_SECKEY" and fmt != "string":
        raise InvalidValue("HS_SECKEY data must be a string", field=f"{where}.format")
    value = _CHECKS[fmt](value, f"{where}.value")
    if vtype == "HS_SECKEY" and not seckey.is_hashed(value):
        value = seckey.hash_secret(value)
    return fmt, value


def _check_text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidValue("value must be a string", field=where)
    return value


def _check_base64(value: Any, where: str) -> str:
    try:
        base64.b64decode(_check_text(value, where), validate=True)
    except binascii.Error:
        raise InvalidValue("value is not valid base64", field=where) from None
    return value


def _check_hex(value: Any, where: str) -> str:
    text = _check_text(value, where)
    if len(text) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", text):
        raise InvalidValue("value is not valid hex", field=where)
    return text


def _check_reference(value: Any, where: str) -> dict[str, Any]:
    """An ``{handle, index}`` pair; pyhandle sends the index as a string."""
    if not isinstance(value, dict):
        raise InvalidValue("expected an object with handle and index", field=where)
    try:
        parse_handle(value.get("handle", ""), field=f"{where}.handle")
    except InvalidHandle as err:
        raise InvalidValue(err.message, field=err.field) from None
    index = value.get("index")
    if isinstance(index, str) and index.isdigit():
        index = int(index)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2**31:
        raise InvalidValue("index must be a non-negative integer", field=f"{where}.index")
    return {"handle": value["handle"], "index": index}


def _check_admin(value: Any, where: str) -> dict[str, Any]:
    ref = _check_reference(value, where)
    bits = value.get("permissions")
    if not isinstance(bits, str) or not re.fullmatch(r"[01]{12}", bits):
        raise InvalidValue("permissions must be 12 characters of 0 and 1",
                           field=f"{where}.permissions")
    return {**ref, "permissions": bits}


def _check_vlist(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidValue("a vlist is an array of {handle, index}", field=where)
    return [_check_reference(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _check_site(value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise InvalidValue("site data must be an object", field=where)
    return value


_CHECKS = {"string": _check_text, "base64": _check_base64, "hex": _check_hex,
           "admin": _check_admin, "vlist": _check_vlist, "site": _check_site, "key": _check_text}


def encode_data(value: HandleValue) -> str:
    """The stored text of a value's data."""
    return json.dumps(value.value, separators=(",", ":"), ensure_ascii=False)


def part_data(values: list[HandleValue]) -> dict[str, object]:
    """The ``PART.*`` values of a record, type -> data."""
    return {v.type: v.value for v in values if v.type.startswith("PART.")}
