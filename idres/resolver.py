"""Reading handle records: resolution with filters, and listing a prefix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idres.auth import Identity
from idres.authority import check_responsible, listing_permissions, permissions_on
from idres.config import Config
from idres.errors import AuthenticationNeeded, HandleNotFound, NotAuthorized, NotResponsible
from idres.handles import Handle, fold, is_within, parse_handle, prefix_record, validate_prefix
from idres.storage import Database, records

DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class ResolveQuery:
    """What a client asked of one handle."""

    handle: str
    types: tuple[str, ...] = ()
    indexes: tuple[int, ...] = ()
    public_only: bool = False


def wanted(value: dict[str, Any], types: tuple[str, ...], indexes: tuple[int, ...]) -> bool:
    """The filters on a value in REST form: the union of the index and type filters;
    a type ending in '.' matches sub-types."""
    if value["index"] in indexes:
        return True
    vtype = value["type"]
    return any(vtype == t or (t.endswith(".") and vtype.startswith(t)) for t in types)


def resolve(db: Database, config: Config, viewer: Identity | None, query: ResolveQuery,
            handle: Handle | None = None) -> dict[str, Any]:
    """A handle's values as the viewer may see them (rc 1; rc 200 when filters match nothing).

    ``handle`` is ``query.handle`` already parsed, when the caller has it.
    """
    handle = handle or parse_handle(query.handle)
    with db.lookup() as s:
        rows = records.value_rows(s, handle.key)
        if not rows:
            check_responsible(s, config, handle)
            raise HandleNotFound(handle=query.handle)
        # Permissions are looked up only when they could change the answer.
        may_read = (viewer is not None and not query.public_only and records.has_hidden(rows)
                    and "READ_VALUE" in permissions_on(s, config, viewer, handle, records.record_of(rows)))
    values = records.readable_json(rows, may_read)
    if query.types or query.indexes:
        values = [v for v in values if wanted(v, query.types, query.indexes)]
        if not values:
            return {"responseCode": 200, "handle": query.handle, "values": []}
    return {"responseCode": 1, "handle": query.handle, "values": values}


def holds_prefix(db: Database, config: Config, prefix: str) -> bool:
    """True when this node answers for handles under ``prefix``."""
    if fold(prefix) in (fold("0.NA"), fold(config.node_prefix)):
        return True
    if not is_within(prefix, config.node_prefix):
        return False
    with db.read() as s:
        return records.handle_exists(s, prefix_record(prefix).key)


def list_prefix(db: Database, config: Config, viewer: Identity | None, prefix: str,
                page: int | None, page_size: int | None) -> dict[str, Any]:
    """The handles under a prefix, sorted, paged (LIST_HANDLES required)."""
    validate_prefix(prefix)
    if not holds_prefix(db, config, prefix):
        raise NotResponsible(f"Prefix {prefix} doesn't live here")
    if viewer is None:
        raise AuthenticationNeeded("Listing handles needs an authenticated prefix administrator")
    if page is not None and page_size is None:
        page_size = DEFAULT_PAGE_SIZE
    with db.read() as s:
        if "LIST_HANDLES" not in listing_permissions(s, config, viewer, prefix):
            raise NotAuthorized(f"{viewer.name} may not list {prefix}")
        total = records.count_handles(s, fold(prefix))
        if page_size == 0:
            handles: list[str] = []
        elif page_size is None:
            handles = records.list_handles(s, fold(prefix), 0, None)
        else:
            handles = records.list_handles(s, fold(prefix), (page or 0) * page_size, page_size)
    out: dict[str, Any] = {"responseCode": 1, "prefix": prefix, "totalCount": str(total)}
    if page_size is not None:
        out.update(page=page or 0, pageSize=page_size)
    out["handles"] = handles
    return out
