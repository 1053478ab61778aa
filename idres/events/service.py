"""Recording events: validate, append to the ledger, project, all in one transaction."""
from __future__ import annotations

import base64
import json
from typing import Any, Callable

from idres.auth import Identity
from idres.config import Config
from idres.errors import HandleNotFound
from idres.events.intake import (EventConflict, authorize, body_base, parse_events, require_existing,
                                 require_installations)
from idres.events.projector import ProjectionConflict, apply_events
from idres.handles import parse_handle
from idres.storage import Database, projections, records
from ledger import store as ledger_store
from ledger.log import LedgerConflict, Log, SignedCheckpoint


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def checkpoint_json(cp: SignedCheckpoint) -> dict[str, Any]:
    return {"size": cp.size, "root": b64(cp.root), "note": cp.note}


def record_events(db: Database, config: Config, log: Log, who: Identity, body: Any) -> dict[str, Any]:
    """Append one event or a batch atomically; duplicates (same event_id and content) are idempotent."""
    base = body_base(body)
    events = parse_events(body, config.max_events)
    subjects, references = authorize(config, who, events, base)
    try:
        with db.write() as s:
            require_existing(s, subjects, references)
            require_installations(s, events, base)
            result = log.append(s, events)
            _project(s, result.receipts, events, base)
            checkpoint = result.checkpoint or log.ensure_checkpoint(s)
            records.record_audit(s, who.name, "events", base,
                                 {"count": len(events), "size": checkpoint.size})
    except LedgerConflict as err:
        raise EventConflict(str(err), field=_conflict_field(events, base, err.entry_id)) from None
    return {"responseCode": 1, "entries": _entries(events, result.receipts),
            "checkpoint": checkpoint_json(checkpoint)}


def _entries(events: list[dict], receipts: list) -> list[dict[str, Any]]:
    """One entry per posted event, in order; an event_id repeated in the batch is a duplicate."""
    by_id = {r.entry_id: r for r in receipts}
    seen: set[str] = set()
    out = []
    for e in events:
        r = by_id[e["event_id"]]
        out.append({"event_id": r.entry_id, "seq": r.seq, "duplicate": r.duplicate or r.entry_id in seen})
        seen.add(r.entry_id)
    return out


def _where(base: str, i: int) -> str:
    return f"{base}[{i}]" if base == "events" else base


def _conflict_field(events: list[dict], base: str, entry_id: str) -> str:
    """The event_id field at fault: the repeat within the batch, else the one already logged."""
    positions = [i for i, e in enumerate(events) if e["event_id"] == entry_id] or [0]
    return f"{_where(base, positions[1] if len(positions) > 1 else positions[0])}.event_id"


def _project(s: Any, receipts: list, events: list[dict], base: str) -> None:
    """Apply the newly appended events; a state conflict names the event's field."""
    position = {e["event_id"]: i for i, e in enumerate(events)}
    fresh = [(r.seq, position[r.entry_id]) for r in receipts if not r.duplicate]

    def conflict(k: int, err: ProjectionConflict) -> Exception:
        return EventConflict(str(err), field=f"{_where(base, fresh[k][1])}.{err.field}")

    apply_events(s, [(seq, events[i]) for seq, i in fresh], conflict)


def replay(db: Database, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild every projection from the log alone; returns the entries replayed."""
    with db.write() as s:
        projections.clear(s)
        size, _ = ledger_store.head(s)
        for start in range(0, size, 5000):
            rows = ledger_store.entries(s, start, min(size, start + 5000))
            apply_events(s, [(int(row["seq"]), json.loads(row["entry"])) for row in rows])
            if progress:
                progress(len(rows))
    return size


def handle_history(db: Database, log: Log, handle_text: str) -> dict[str, Any]:
    """A part's events, each with an inclusion proof against the latest checkpoint."""
    handle = parse_handle(handle_text)
    with db.read() as s:
        if not records.handle_exists(s, handle.key):
            raise HandleNotFound(handle=handle_text)
        row = ledger_store.latest_checkpoint(s)
        size = int(row["size"]) if row else 0
        events = []
        for seq in projections.event_seqs(s, handle.key):
            if seq >= size:
                continue
            entry = ledger_store.entry(s, seq)
            proof = log.inclusion_proof(s, seq, size)
            events.append({"seq": seq, "event": json.loads(entry["entry"]),
                           "leafHash": b64(bytes.fromhex(entry["leaf_hash"])),
                           "proof": [b64(p) for p in proof]})
    checkpoint = {"size": size, "root": b64(bytes.fromhex(row["root"])), "note": row["note"]} if row else None
    return {"responseCode": 1, "handle": handle_text, "checkpoint": checkpoint, "events": events}
