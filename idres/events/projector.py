"""Applying ledger events to the projections, in log order.

The same code runs when an event is appended and when ``idres ledger
replay`` rebuilds the tables, so a replay reproduces them exactly.  State
rules (a part sits in one assembly at a time, only an existing link can be
disassembled) raise :class:`ProjectionConflict`, which aborts the append.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from idres.handles import fold
from idres.storage import projections as proj
from idres.storage.engine import Session


class ProjectionConflict(Exception):
    """An event that contradicts the current state (e.g. a part assembled twice)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def utc_text(event_time: str) -> str:
    """Fixed-width UTC text, so times compare correctly as strings in SQL."""
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00")).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def batch_key(actor: str, batch: str) -> str:
    """Batches live in their maker's namespace: ``batch:88.118.8/LOT-1``."""
    return f"batch:{actor}/{batch}"


def _touch(s: Session, seq: int, event: dict, handle: str, **changes: Any) -> None:
    """Update a part's state row with the event's bookkeeping and ``changes``."""
    key = fold(handle)
    current = proj.state(s, key)
    row = dict(current) if current is not None else {
        "handle_key": key, "handle": handle, "status": "known", "holder": None, "part_type": None,
        "batch": None, "net_mass_g": None, "inspection": None, "recall_campaign": None}
    row.update(changes, last_seq=seq, last_event_type=event["event_type"],
               last_event_time=utc_text(event["event_time"]))
    proj.upsert_state(s, row)


def _commissioned(s: Session, seq: int, e: dict) -> None:
    _touch(s, seq, e, e["handle"], status="active", holder=e["actor"], part_type=e["part_type"],
           batch=e.get("batch"), net_mass_g=e["net_mass_g"])


def _assembled(s: Session, seq: int, e: dict) -> None:
    when, parent = utc_text(e["event_time"]), e["parent"]
    for i, child in enumerate(e["children"]):
        if fold(child) == fold(parent):
            raise ProjectionConflict("a part cannot contain itself", f"children[{i}]")
        current = proj.open_parent(s, fold(child))
        if current is not None:
            raise ProjectionConflict(f"{child} is already assembled into {current['parent']}",
                                     f"children[{i}]")
    proj.insert_edges(s, [(seq, fold(parent), parent, fold(c), c, "assembly", None, when)
                          for c in e["children"]])
    _touch(s, seq, e, parent)
    for child in e["children"]:
        _touch(s, seq, e, child)


def _disassembled(s: Session, seq: int, e: dict) -> None:
    when, parent = utc_text(e["event_time"]), e["parent"]
    for i, child in enumerate(e["children"]):
        if not proj.close_edge(s, fold(parent), fold(child), when, seq):
            raise ProjectionConflict(f"{child} is not assembled into {parent}", f"children[{i}]")
        _touch(s, seq, e, child)
    _touch(s, seq, e, parent)


def _transformed(s: Session, seq: int, e: dict) -> None:
    when, rows = utc_text(e["event_time"]), []
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


def _moved(status: str) -> Callable[[Session, int, dict], None]:
    def apply(s: Session, seq: int, e: dict) -> None:
        for handle in e["handles"]:
            _touch(s, seq, e, handle, status=status, holder=e["to_party"])
    return apply


def _inspected(s: Session, seq: int, e: dict) -> None:
    for handle in e["handles"]:
        _touch(s, seq, e, handle, inspection=e["result"])


def _recalled(s: Session, seq: int, e: dict) -> None:
    for handle in e["handles"]:
        _touch(s, seq, e, handle, status="recalled", recall_campaign=e["campaign_id"])


def _scrapped(s: Session, seq: int, e: dict) -> None:
    for handle in e["handles"]:
        _touch(s, seq, e, handle, status="scrapped")


def _carbon(s: Session, seq: int, e: dict) -> None:
    subject, kind = (e["handle"], "handle") if "handle" in e else (batch_key(e["actor"], e["batch"]), "batch")
    proj.insert_carbon(s, (seq, fold(subject), subject, kind, e["installation_id"], e["period"],
                           e["direct_g"], e["indirect_g"], e["activity_level_g"], e["method"],
                           e["evidence_sha256"], utc_text(e["event_time"])))


APPLY: dict[str, Callable[[Session, int, dict], None]] = {
    "commissioned": _commissioned, "assembled": _assembled, "disassembled": _disassembled,
    "transformed": _transformed, "shipped": _moved("in_transit"), "received": _moved("received"),
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


def apply_event(s: Session, seq: int, event: dict) -> None:
    """Project one appended event."""
    APPLY[event["event_type"]](s, seq, event)
    proj.link_events(s, sorted({(fold(h), seq, role) for h, role in mentioned(event)}))
