"""Genealogy queries: bill of materials (down) and where-used (up), as of a time.

A node is a handle or a batch (``batch:<actor>/<name>``).  Going down, a part
leads to its assembly children and to the inputs it was transformed from
(handles or batches); going up, to the assembly it sits in and to what was
made from it; a batch leads up to the parts made from it and the parts
commissioned in it (``member`` links).  An assembly link counts when
``valid_from <= asOf < valid_to``; transformations never end.

:func:`sync` keeps two small tables caught up with the log, because the
projector does not record these dates: ``trace_parts`` (each part's type and
commissioning time, for production windows and batch members) and
``trace_moves`` (the time of each shipping and receiving event; which parts
an event moved is already in ``handle_events``).  They are read from the
ledger entries incrementally, before each query.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from idres.errors import BadRequest, HandleNotFound
from idres.events.projector import utc_text
from idres.handles import fold, parse_handle, validate_prefix
from idres.storage import Database
from idres.storage import genealogy as sql
from schemas.recall import MAX_DEPTH, utc_instant

DEFAULT_DEPTH = 50
DIRECTIONS = ("down", "up")
SYNC_STEP = 20_000


@dataclass(frozen=True)
class Node:
    """Where a walk starts: a handle, or a batch in its maker's namespace."""

    text: str
    key: str
    batch: tuple[str, str] | None = None  # (actor key, batch name)

    @property
    def is_batch(self) -> bool:
        return self.batch is not None


def batch_node(actor: str, name: str, field: str = "batch") -> Node:
    """The node of batch ``name`` of ``actor`` (its key folded like a handle's)."""
    validate_prefix(actor, field=field)
    text = f"batch:{actor}/{name}"
    return Node(text, fold(text), (fold(actor), name))


def parse_node(text: str, field: str = "handle") -> Node:
    """``88.118.8/BOLT-1`` or ``batch:88.118.8/LOT-7``."""
    if text[:6].lower() == "batch:":
        actor, sep, name = text[6:].partition("/")
        if not sep or not name:
            raise BadRequest("a batch is batch:<actor>/<batch>", field=field)
        return batch_node(actor, name, field)
    handle = parse_handle(text, field=field)
    return Node(handle.text, handle.key)


def now_text() -> str:
    """The current time as fixed-width UTC text."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(raw: str, field: str) -> str:
    """A time parameter as fixed-width UTC text; 400 naming ``field`` otherwise.

    A ``+`` in a query string decodes to a space: ``...T10:00:00 08:00`` is read as ``+08:00``.
    """
    text = raw.strip()
    if "T" in text and len(text) > 6 and text[-6] == " " and text[-3] == ":":
        text = text[:-6] + "+" + text[-5:]
    try:
        return utc_instant(text)
    except ValueError as err:
        raise BadRequest(f"{field} must be {err}", field=field) from None


def check_depth(depth: int | None) -> int:
    """The depth limit asked for (default 50), 400 outside 1..1000."""
    if depth is None:
        return DEFAULT_DEPTH
    if not 1 <= depth <= MAX_DEPTH:
        raise BadRequest(f"depth must be from 1 to {MAX_DEPTH}", field="depth")
    return depth


# --- rows to JSON ---------------------------------------------------------

def split_path(text: str, node: str, depth: int) -> list[str]:
    """Path elements from the joined text; only the first or the last may be a batch
    whose name contains the separator, and the last is known (``node``)."""
    if depth == 0:
        return [node]
    rest = text[: len(text) - len(node) - len(sql.SEP)]
    return rest.rsplit(sql.SEP, depth - 1) + [node]


def split_links(text: str) -> list[int | None]:
    """The ledger seq that created each link of the path (``None``: not known)."""
    return [int(x) if x else None for x in (text or "").split(",")[1:]]


def node_json(row: Any) -> dict[str, Any]:
    """One reached node with the link that reached it, its path and the links' seqs."""
    depth = int(row["depth"])
    return {"handle": row["node"], "depth": depth, "kind": row["kind"],
            "seq": _int(row["seq"]), "endedSeq": _int(row["ended_seq"]),
            "validFrom": row["valid_from"], "validTo": row["valid_to"],
            "consumedMassG": _int(row["mass"]), "partType": row["part_type"], "status": row["status"],
            "holder": row["holder"], "path": split_path(row["path"], row["node"], depth),
            "seqs": split_links(row["links"])}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def ordered(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth-first order (a parent before its subtree), the same on every backend."""
    return sorted(nodes, key=lambda n: [fold(h) for h in n["path"]])


# --- the part-dates tables ----------------------------------------------------

_UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


@functools.lru_cache(maxsize=65536)
def _utc(event_time: str) -> str:
    """:func:`utc_text` of a logged (valid) event time, without parsing when it is already UTC."""
    match = _UTC_Z.match(event_time)
    if match:
        return event_time[:19] + ((match.group(1) or ".") + "000000")[:7] + "Z"
    return utc_text(event_time)


def _dates(rows: list[Any]) -> tuple[list[tuple], list[tuple]]:
    """Commissioning rows (the latest per part) and shipping/receipt rows (one per event) of some entries."""
    commissioned: dict[str, tuple] = {}
    moves: list[tuple] = []
    for row in rows:  # in log order: a later commissioning replaces an earlier one
        e, seq = json.loads(row["entry"]), int(row["seq"])
        kind = e.get("event_type")
        if kind == "commissioned":
            key = fold(e["handle"])
            commissioned[key] = (key, e["handle"], e["part_type"], _utc(e["event_time"]), seq)
        elif kind in ("shipped", "received"):
            moves.append((seq, kind, _utc(e["event_time"])))
    return list(commissioned.values()), moves


def sync(db: Database) -> int:
    """Fold new ledger entries into the date tables; returns the entries covered.

    Idempotent and safe to run concurrently (upserts keep the latest commissioning by seq).
    """
    with db.lookup() as s:
        mark, size = sql.sync_position(s)
    for start in range(mark, size, SYNC_STEP):
        end = min(size, start + SYNC_STEP)
        with db.write() as s:
            commissioned, moves = _dates(sql.dated_entries(s, start, end))
            sql.upsert_commissioned(s, commissioned)
            sql.insert_moves(s, moves)
            sql.advance(s, end)
    return size


# --- genealogy ------------------------------------------------------------------

def _root(s: Any, node: Node) -> dict[str, Any]:
    """What the response says about the start; 404 when nothing knows it."""
    if node.is_batch:
        actor_key, name = node.batch
        if not sql.batch_exists(s, node.key, actor_key, name):
            raise HandleNotFound(f"No part or transformation uses {node.text}", handle=node.text)
        return {"handle": node.text, "kind": "batch"}
    row = sql.part(s, node.key)
    if row is None:
        spelling = sql.registered(s, node.key)
        if spelling is None:
            raise HandleNotFound(f"{node.text} is neither registered nor known to the ledger",
                                 handle=node.text)
        return {"handle": spelling, "kind": "part", "partType": None, "status": None, "holder": None,
                "batch": None, "commissioned": None}
    return {"handle": row["handle"], "kind": "part", "partType": row["part_type"], "status": row["status"],
            "holder": row["holder"], "batch": row["batch"], "commissioned": row["commissioned_at"]}


def _seeds(node: Node, direction: str) -> list[sql.Seed]:
    """A node's links; a batch has none going down (a lot contains nothing recorded)."""
    if node.is_batch:
        return [sql.seed_batch(0, node.text, node.key, *node.batch)] if direction == "up" else []
    return [sql.seed_links(direction, node.text, node.key)]


def trace(db: Database, handle_text: str, direction: str = "down", as_of: str | None = None,
          depth: int | None = None) -> dict[str, Any]:
    """Everything below (``down``) or above (``up``) a node as of ``as_of`` (default now)."""
    if direction not in DIRECTIONS:
        raise BadRequest("direction must be down or up", field="direction")
    node, depth, as_of = parse_node(handle_text), check_depth(depth), as_of or now_text()
    sync(db)
    with db.read() as s:
        sql.prefer_index_lookups(s, db.dialect)
        root = _root(s, node)
        rows = sql.walk_paths(s, direction, _seeds(node, direction), as_of, depth)
    nodes = ordered([node_json(r) for r in rows])
    truncated = any(r["more"] and int(r["depth"]) >= depth for r in rows)
    return {"responseCode": 1, "handle": handle_text, "direction": direction, "asOf": as_of,
            "depth": depth, "root": root, "truncated": truncated, "count": len(nodes), "nodes": nodes}
