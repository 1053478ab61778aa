"""Applying ledger events to the projections, in log order.

The same code runs when an event is appended and when ``idres ledger
replay`` rebuilds the tables, so a replay reproduces them exactly.  State
rules (a part sits in one assembly at a time and never inside itself, only
an existing link can be disassembled, and a link's valid-from/valid-to
periods never run backwards or overlap) raise :class:`ProjectionConflict`,
which aborts the append.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable

from idres.handles import fold
from idres.storage import projections as proj, shipments
from idres.storage.engine import Session


class ProjectionConflict(Exception):
    """An event that contradicts the current state (e.g. a part assembled twice)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@lru_cache(maxsize=4096)
def utc_text(event_time: str) -> str:
    """Fixed-width UTC text, so times compare correctly as strings in SQL."""
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00")).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def batch_key(actor: str, batch: str) -> str:
    """Batches live in their maker's namespace: ``batch:88.118.8/LOT-1``."""
    return f"batch:{actor}/{batch}"


class _Batch:
    """A session that collects the part-state changes of one batch of events.

    Part states are never read: each touched part's changed columns are
    kept in memory (later events overriding earlier ones) and written once
    at the end as an upsert that sets exactly those columns, the other
    columns keeping their stored values (or the defaults, for a new part).
    That is what reading each row, changing it and writing it back would
    give, without the read.  Carbon records, which no rule reads, are
    written at the end too; every other query goes straight to the session.
    """

    def __init__(self, s: Session) -> None:
        self.session = s
        self.changes: dict[str, dict[str, Any]] = {}  # handle key -> changed columns
        self.carbon: list[tuple] = []
        self.shipments: list[tuple] = []

    def one(self, sql: str, params: Any = ()) -> Any:
        return self.session.one(sql, params)

    def all(self, sql: str, params: Any = ()) -> list[Any]:
        return self.session.all(sql, params)

    def run(self, sql: str, params: Any = ()) -> int:
        return self.session.run(sql, params)

    def many(self, sql: str, rows: Any) -> None:
        self.session.many(sql, rows)

    def flush(self) -> None:
        proj.change_states(self.session, [self.changes[k] for k in sorted(self.changes)])
        proj.insert_carbon_rows(self.session, self.carbon)
        shipments.insert(self.session, self.shipments)
        self.changes.clear()
        self.carbon.clear()
        self.shipments.clear()


def _touch(s: _Batch, seq: int, event: dict, handle: str, **changes: Any) -> None:
    """Update a part's state row with the event's bookkeeping and ``changes``."""
    key = fold(handle)
    row = s.changes.get(key)
    if row is None:  # the spelling of the first mention names a new part
        row = s.changes[key] = {"handle_key": key, "handle": handle}
    row.update(changes, last_seq=seq, last_event_type=event["event_type"],
               last_event_time=utc_text(event["event_time"]))


def _commissioned(s: _Batch, seq: int, e: dict) -> None:
    _touch(s, seq, e, e["handle"], status="active", holder=e["actor"], part_type=e["part_type"],
           batch=e.get("batch"), net_mass_g=e["net_mass_g"])


def _ancestors(s: Session, key: str) -> set[str]:
    """The assemblies ``key`` currently sits in, directly or further up."""
    found: set[str] = set()
    row = proj.open_parent(s, key)
    while row is not None and row["parent_key"] not in found:
        found.add(row["parent_key"])
        row = proj.open_parent(s, row["parent_key"])
    return found


def _assembled(s: _Batch, seq: int, e: dict) -> None:
    when, parent = utc_text(e["event_time"]), e["parent"]
    above = _ancestors(s, fold(parent)) | {fold(parent)}
    for i, child in enumerate(e["children"]):
        if fold(child) in above:
            raise ProjectionConflict(f"{child} contains {parent}; a part cannot contain itself",
                                     f"children[{i}]")
        last = proj.last_assembly(s, fold(child))
        if last is not None and last["valid_to"] is None:
            raise ProjectionConflict(f"{child} is already assembled into {last['parent']}",
                                     f"children[{i}]")
        if last is not None and last["valid_to"] > when:
            raise ProjectionConflict(f"{child} was in {last['parent']} until {last['valid_to']}, "
                                     f"after this event's time", f"children[{i}]")
    proj.insert_edges(s, [(seq, fold(parent), parent, fold(c), c, "assembly", None, when)
                          for c in e["children"]])
    _touch(s, seq, e, parent)
    for child in e["children"]:
        _touch(s, seq, e, child)


def _disassembled(s: _Batch, seq: int, e: dict) -> None:
    when, parent = utc_text(e["event_time"]), e["parent"]
    for i, child in enumerate(e["children"]):
        edge = proj.open_parent(s, fold(child))
        if edge is None or edge["parent_key"] != fold(parent):
            raise ProjectionConflict(f"{child} is not assembled into {parent}", f"children[{i}]")
        if edge["valid_from"] > when:
            raise ProjectionConflict(f"{child} was assembled into {parent} only at {edge['valid_from']}, "
                                     f"after this event's time", f"children[{i}]")
        proj.close_edge(s, fold(parent), fold(child), when, seq)
        _touch(s, seq, e, child)
    _touch(s, seq, e, parent)


def _transformed(s: _Batch, seq: int, e: dict) -> None:
    when, rows = utc_text(e["event_time"]), []
    sources = {fold(i["handle"]) for i in e["inputs"] if "handle" in i}
    for j, output in enumerate(e["outputs"]):
        if fold(output) in sources:
            raise ProjectionConflict(f"{output} cannot be made from itself", f"outputs[{j}]")
    for output in e["outputs"]:
        for source in e["inputs"]:
            child = source.get("handle") or batch_key(e["actor"], source["batch"])
            rows.append((seq, fold(output), output, fold(child), child, "transformation",
                         source["consumed_mass_g"], when))
        _touch(s, seq, e, output, status="active", holder=e["actor"])
    proj.insert_edges(s, rows)
    for source in e["inputs"]:
        if "handle" in source:
            _touch(s, seq, e, source["handle"], status="transformed")


def _moved(status: str) -> Callable[[_Batch, int, dict], None]:
    def apply(s: _Batch, seq: int, e: dict) -> None:
        for handle in e["handles"]:
            _touch(s, seq, e, handle, status=status, holder=e["to_party"])
    return apply


def _shipped(s: _Batch, seq: int, e: dict) -> None:
    _moved("in_transit")(s, seq, e)
    s.shipments += shipments.rows_of(seq, e, fold)  # the CBAM reports' shipments projection


def _inspected(s: _Batch, seq: int, e: dict) -> None:
    for handle in e["handles"]:
        _touch(s, seq, e, handle, inspection=e["result"])


def _recalled(s: _Batch, seq: int, e: dict) -> None:
    for handle in e["handles"]:
        _touch(s, seq, e, handle, status="recalled", recall_campaign=e["campaign_id"])


def _scrapped(s: _Batch, seq: int, e: dict) -> None:
    for handle in e["handles"]:
        _touch(s, seq, e, handle, status="scrapped")


def _carbon(s: _Batch, seq: int, e: dict) -> None:
    subject, kind = (e["handle"], "handle") if "handle" in e else (batch_key(e["actor"], e["batch"]), "batch")
    s.carbon.append((seq, fold(subject), subject, kind, e["installation_id"], e["period"],
                     e["direct_g"], e["indirect_g"], e["activity_level_g"], e["method"],
                     e["evidence_sha256"], utc_text(e["event_time"])))


APPLY: dict[str, Callable[[_Batch, int, dict], None]] = {
    "commissioned": _commissioned, "assembled": _assembled, "disassembled": _disassembled,
    "transformed": _transformed, "shipped": _shipped, "received": _moved("received"),
    "inspected": _inspected, "recalled": _recalled, "scrapped": _scrapped, "carbon.recorded": _carbon,
}


def mentioned(event: dict) -> list[tuple[str, str]]:
    """Every handle an event mentions, with its role."""
    out = []
    for name in ("handle", "parent"):
        if name in event:
            out.append((event[name], name))
    for name in ("children", "outputs", "handles"):
        out += [(h, name) for h in event.get(name, ())]
    out += [(i["handle"], "inputs") for i in event.get("inputs", ()) if "handle" in i]
    return out


def apply_events(s: Session, items: list[tuple[int, dict]],
                 on_conflict: Callable[[int, ProjectionConflict], Exception] | None = None) -> None:
    """Project appended events in log order, indexing the handles they mention in one go.

    ``on_conflict(position, err)`` may turn a state conflict into the caller's error.
    """
    links = {(fold(h), seq, role) for seq, event in items for h, role in mentioned(event)}
    batch = _Batch(s)
    for position, (seq, event) in enumerate(items):
        try:
            APPLY[event["event_type"]](batch, seq, event)
        except ProjectionConflict as err:
            if on_conflict is None:
                raise
            raise on_conflict(position, err) from None
    batch.flush()
    proj.link_events(s, sorted(links))
