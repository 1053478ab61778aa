"""Installations and part types: validated, owned, audited.

Installations have one global namespace (their ids are the CBAM registry's
``InstallationId``, an..20), matched with ASCII case folded.  Part types
belong to an enterprise prefix, because the ``part_type`` of a
``commissioned`` event is free text of its maker: the type of part
``88.118.8/X`` is looked up under ``88.118.8``.

Anyone authenticated may create either; only the owner (the caller's home
prefix, or the local operator naming an owner) may replace one.  A rejected
request stores nothing.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from idres.auth import Identity
from idres.carbon.scope import is_cbam_good
from idres.errors import BadRequest, HandleNotFound, NotAuthorized, from_validation
from idres.handles import fold, prefix_record, validate_prefix
from idres.storage import Database, carbon as store, records
from idres.values import utc_timestamp
from schemas.carbon import InstallationSchema, PartTypeSchema

_INSTALLATIONS = InstallationSchema()
_PART_TYPES = PartTypeSchema()


def load(schema: Schema, body: Any, name: str, value: str) -> dict[str, Any]:
    """Validate a JSON object whose identifying field ``name`` comes from the URL."""
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object", field="body")
    if name in body and body[name] != value:
        raise BadRequest(f"{name}: {body[name]!r} differs from the URL's {value!r}", field=name)
    try:
        return schema.load({**body, name: value})
    except ValidationError as err:
        raise from_validation(err) from None


def owner_of(who: Identity, owner: str | None) -> str:
    """The prefix a write is made for: the caller's home, or the operator's choice."""
    if who.operator:
        if not owner:
            raise BadRequest("The local operator must name an owner prefix", field="owner")
        return validate_prefix(owner, field="owner")
    if owner is not None and fold(owner) != fold(who.home_prefix):
        raise NotAuthorized(f"{who.name} cannot write for {owner}")
    return who.home_prefix


def _check_owner_exists(s: Any, owner: str) -> None:
    if not records.handle_exists(s, prefix_record(owner).key):
        raise HandleNotFound(f"No prefix record {prefix_record(owner).text}", field="owner")


def _may_replace(who: Identity, existing: Any, owner: str, what: str) -> None:
    if existing is not None and fold(existing["owner"]) != fold(owner):
        raise NotAuthorized(f"{what} belongs to {existing['owner']}; {who.name} cannot replace it")


def put_installation(db: Database, who: Identity, installation_id: str, body: Any,
                     owner: str | None = None) -> tuple[bool, dict[str, Any]]:
    """Create or replace an installation; returns ``(created, installation)``."""
    row = load(_INSTALLATIONS, body, "installation_id", installation_id)
    row["owner"] = owner_of(who, owner)
    key = fold(row["installation_id"])
    with db.write() as s:
        _check_owner_exists(s, row["owner"])
        existing = store.installation(s, key)
        _may_replace(who, existing, row["owner"], f"installation {installation_id}")
        store.upsert_installation(s, key, row, utc_timestamp())
        records.record_audit(s, who.name, "installation", f"installation:{row['installation_id']}", row)
        return existing is None, installation_json(store.installation(s, key))


def installation_json(row: Any) -> dict[str, Any]:
    """An installation as the API shows it (absent optional fields left out)."""
    out = {c: row[c] for c in store.INSTALLATION_COLUMNS if row[c] is not None}
    out["updated_at"] = row["updated_at"]
    return out


def get_installation(db: Database, installation_id: str) -> dict[str, Any]:
    with db.read() as s:
        row = store.installation(s, fold(installation_id))
    if row is None:
        raise HandleNotFound(f"No installation {installation_id}", field="installation_id")
    return installation_json(row)


def list_installations(db: Database) -> list[dict[str, Any]]:
    with db.read() as s:
        return [installation_json(r) for r in store.installations(s)]


def put_part_type(db: Database, who: Identity, code: str, body: Any,
                  owner: str | None = None) -> tuple[bool, dict[str, Any]]:
    """Create or replace a part type of the owner; returns ``(created, part type)``."""
    row = load(_PART_TYPES, body, "code", code)
    row["owner"] = owner_of(who, owner)
    keys = (fold(row["owner"]), fold(row["code"]))
    with db.write() as s:
        _check_owner_exists(s, row["owner"])
        existing = store.part_type(s, *keys)
        store.upsert_part_type(s, keys, row, utc_timestamp())
        records.record_audit(s, who.name, "part-type", f"part-type:{row['owner']}/{row['code']}", row)
        return existing is None, part_type_json(store.part_type(s, *keys))


def part_type_json(row: Any) -> dict[str, Any]:
    """A part type as the API shows it, with whether CBAM covers its CN code."""
    out = {c: row[c] for c in store.PART_TYPE_COLUMNS if row[c] is not None}
    out["net_mass_g"] = int(row["net_mass_g"])
    out["cbam_good"] = is_cbam_good(row["cn_code"])
    out["updated_at"] = row["updated_at"]
    return out


def get_part_type(db: Database, owner: str, code: str) -> dict[str, Any]:
    with db.read() as s:
        row = store.part_type(s, fold(owner), fold(code))
    if row is None:
        raise HandleNotFound(f"No part type {code} of {owner}", field="code")
    return part_type_json(row)


def list_part_types(db: Database, owner: str | None = None) -> list[dict[str, Any]]:
    with db.read() as s:
        return [part_type_json(r) for r in store.part_types(s, fold(owner) if owner else None)]
