"""Writing handle records: create, replace, partial update and delete.

Every write runs in one transaction, checks the caller's permissions against
the record as it is inside that transaction, validates the resulting record
as a whole (part-data template included) and leaves an audit entry.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from idres.auth import Identity, require
from idres.authority import check_new_prefix, check_responsible, is_node_record, permissions_on
from idres.config import Config
from idres.errors import (BadRequest, HandleAlreadyExists, HandleNotFound, InvalidValue,
                          ValueAlreadyExists, ValuesNotFound)
from idres.federation import upstream
from idres.handles import Handle, fold, parse_handle
from idres.storage import Database, records
from idres.storage.engine import INTEGRITY_ERRORS, Session
from idres.values import HANDLE_ADMIN_PERMISSIONS, HandleValue, parse_values, part_data, utc_timestamp
from schemas.part import validate_part_values


@dataclass(frozen=True)
class PutRequest:
    """A PUT on ``/api/handles/{handle}`` as the client phrased it."""

    handle: str
    body: Any
    indexes: tuple[int, ...] | None = None  # None: the whole record
    various: bool = False
    overwrite: bool = True
    mint_suffix: bool = False


def _op(kind: str, value: HandleValue) -> str:
    """The HS_ADMIN permission an add / modify / remove of ``value`` needs."""
    noun = "ADMIN" if value.is_admin else "VALUE"
    return f"{kind}_{noun}"


def changes_needed(old: list[HandleValue], new: list[HandleValue],
                   sent: list[HandleValue] | None = None) -> set[str]:
    """Permissions needed to turn record ``old`` into ``new``.

    ``sent`` are the values the client wrote.  A write that changes nothing
    still needs the permission to modify what was sent: otherwise anyone could
    "write" an identical value (and leave an audit entry) on any handle.
    """
    before = {v.index: v for v in old}
    after = {v.index: v for v in new}
    needed = {_op("REMOVE", v) for i, v in before.items() if i not in after}
    for i, v in after.items():
        if i not in before:
            needed.add(_op("ADD", v))
        elif not before[i].same_content(v):
            needed |= {_op("MODIFY", before[i]), _op("MODIFY", v)}
    if not needed:
        needed = {_op("MODIFY", v) for v in sent or []} or {"MODIFY_VALUE"}
    return needed


def stamp(old: list[HandleValue], new: list[HandleValue], now: str) -> list[HandleValue]:
    """Give changed values the current time; unchanged ones keep theirs."""
    before = {v.index: v for v in old}
    out = []
    for v in new:
        prior = before.get(v.index)
        keep = prior is not None and prior.same_content(v)
        out.append(replace(v, timestamp=prior.timestamp if keep else now))
    return sorted(out, key=lambda v: v.index)


def validate_record(config: Config, handle: Handle, values: list[HandleValue]) -> None:
    """Whole-record rules: the part-data template and prefix-record shape."""
    seen: set[str] = set()
    for v in values:
        if v.type.startswith("PART."):
            # part_data() keeps one value per type: a second one would go unchecked.
            if v.type in seen:
                raise InvalidValue(f"{v.type}: a part record has at most one {v.type} value",
                                   field=v.type, handle=handle.text)
            seen.add(v.type)
    problem = validate_part_values(part_data(values))
    if problem:
        raise InvalidValue(problem, field=problem.split(":", 1)[0], handle=handle.text)
    if is_node_record(config, handle) and not any(v.is_admin for v in values):
        raise InvalidValue("The node's prefix record must keep an HS_ADMIN value",
                           field="values", handle=handle.text)


def default_admin(who: Identity, values: list[HandleValue]) -> list[HandleValue]:
    """Add an HS_ADMIN naming the creator when a new record has none (as CNRI does)."""
    if any(v.is_admin for v in values) or who.operator:
        return values
    taken = {v.index for v in values}
    index = next(i for i in range(100, 2**31) if i not in taken)
    admin = HandleValue(index, "HS_ADMIN", "admin", {
        "handle": who.handle.text, "index": who.index, "permissions": HANDLE_ADMIN_PERMISSIONS})
    return values + [admin]


def _target(req: PutRequest) -> Handle:
    if not req.mint_suffix:
        return parse_handle(req.handle)
    text = req.handle if "/" in req.handle else req.handle + "/"
    return parse_handle(text + str(uuid.uuid4()))


def _put_once(db: Database, config: Config, who: Identity, handle: Handle,
              values: list[HandleValue], req: PutRequest) -> tuple[int, str]:
    with db.write() as s:
        check_responsible(s, config, handle)
        existing = records.load_record(s, handle.key)
        if req.indexes is None and not req.various:
            status, action = _put_whole(s, config, who, handle, existing, values, req.overwrite)
        else:
            status, action = _put_some(s, config, who, handle, existing, values, req.overwrite)
        records.record_audit(s, who.name, action, handle.text,
                             {"indexes": sorted(v.index for v in values)})
    return status, action


def put_handle(db: Database, config: Config, who: Identity, req: PutRequest) -> tuple[int, dict]:
    """Create, replace or partially update a record; returns ``(http status, body)``."""
    handle = _target(req)
    values = parse_values(req.body)
    if req.indexes is not None and not req.various and {v.index for v in values} != set(req.indexes):
        raise BadRequest("The body's value indexes must be exactly the index= parameters",
                         field="index", handle=req.handle)
    # A concurrent writer may create the same handle between our read and our
    # insert (PostgreSQL; SQLite serializes writers).  With overwrite=true the
    # client asked for "create or replace", so run once more and replace.
    attempts = 2 if req.overwrite and req.indexes is None and not req.various else 1
    for attempt in range(attempts):
        try:
            status, action = _put_once(db, config, who, handle, values, req)
            break
        except INTEGRITY_ERRORS:
            if attempt + 1 == attempts:
                raise HandleAlreadyExists(handle=handle.text) from None
    if action == "create" and handle.is_prefix_record:
        upstream.register_now(db, config, handle.suffix)  # after the commit, bounded by the timeout
    return status, {"responseCode": 1, "handle": handle.text if req.mint_suffix else req.handle}


def _put_whole(s: Session, config: Config, who: Identity, handle: Handle,
               existing: records.StoredRecord | None, values: list[HandleValue],
               overwrite: bool) -> tuple[int, str]:
    perms = permissions_on(s, config, who, handle, existing)
    now = utc_timestamp()
    if existing is None:
        require(perms, {"ADD_HANDLE"}, who, handle.text)
        if handle.is_prefix_record and not is_node_record(config, handle):
            check_new_prefix(s, config, handle.suffix)
        values = stamp([], default_admin(who, values), now)
        validate_record(config, handle, values)
        records.insert_handles(s, [(handle.key, handle.text, handle.prefix_key, values)])
        if handle.is_prefix_record and not is_node_record(config, handle):
            upstream.queue(s, config, handle.suffix)  # same transaction: never lost
        return 201, "create"
    if not overwrite:
        raise HandleAlreadyExists(handle=handle.text)
    require(perms, changes_needed(existing.values, values, values), who, handle.text)
    values = stamp(existing.values, values, now)
    validate_record(config, handle, values)
    records.delete_values(s, handle.key, [v.index for v in existing.values])
    records.upsert_values(s, handle.key, values)
    return 200, "replace"


def _put_some(s: Session, config: Config, who: Identity, handle: Handle,
              existing: records.StoredRecord | None, values: list[HandleValue],
              overwrite: bool) -> tuple[int, str]:
    if existing is None:
        raise HandleNotFound(handle=handle.text)
    current = {v.index: v for v in existing.values}
    if not overwrite:
        for v in values:
            if v.index in current:
                raise ValueAlreadyExists(f"Index {v.index} already exists", field="index",
                                         handle=handle.text)
    merged = {**current, **{v.index: v for v in values}}
    perms = permissions_on(s, config, who, handle, existing)
    require(perms, changes_needed(existing.values, list(merged.values()), values), who, handle.text)
    new = stamp(existing.values, list(merged.values()), utc_timestamp())
    validate_record(config, handle, new)
    records.upsert_values(s, handle.key, [v for v in new if v.index in {x.index for x in values}])
    return (201 if not overwrite else 200), "update"


def delete_handle(db: Database, config: Config, who: Identity, handle_text: str,
                  indexes: tuple[int, ...] | None) -> dict:
    """Delete a whole record, or only the listed values."""
    handle = parse_handle(handle_text)
    with db.write() as s:
        check_responsible(s, config, handle)
        existing = records.load_record(s, handle.key)
        if existing is None:
            raise HandleNotFound(handle=handle_text)
        perms = permissions_on(s, config, who, handle, existing)
        if indexes is None:
            _delete_whole(s, config, who, handle, perms)
        else:
            _delete_some(s, config, who, handle, existing, perms, indexes)
    return {"responseCode": 1, "handle": handle_text}


def _delete_whole(s: Session, config: Config, who: Identity, handle: Handle, perms: set[str]) -> None:
    require(perms, {"DELETE_HANDLE"}, who, handle.text)
    if is_node_record(config, handle):
        raise BadRequest("The node's own prefix record cannot be deleted", handle=handle.text)
    if handle.is_prefix_record:
        remaining = records.count_handles(s, fold(handle.suffix))
        if remaining:
            raise BadRequest(f"Prefix {handle.suffix} still has {remaining} handles; delete them first",
                             handle=handle.text, status=409)
        derived = records.count_derived_prefixes(s, fold(handle.suffix))
        if derived:
            # Whoever later got this record would administer the derived ones left behind.
            raise BadRequest(f"Prefix {handle.suffix} still has {derived} derived prefix records "
                             f"(0.NA/{handle.suffix}.*); delete them first", handle=handle.text, status=409)
    records.delete_handle(s, handle.key)
    records.record_audit(s, who.name, "delete", handle.text, {})


def _delete_some(s: Session, config: Config, who: Identity, handle: Handle,
                 existing: records.StoredRecord, perms: set[str], indexes: tuple[int, ...]) -> None:
    current = {v.index: v for v in existing.values}
    missing = [i for i in indexes if i not in current]
    if missing:
        raise ValuesNotFound(f"No value at index {missing[0]}", field="index", handle=handle.text)
    remaining = [v for i, v in current.items() if i not in indexes]
    require(perms, changes_needed(existing.values, remaining), who, handle.text)
    validate_record(config, handle, remaining)
    records.delete_values(s, handle.key, indexes)
    records.record_audit(s, who.name, "delete-values", handle.text, {"indexes": sorted(indexes)})
