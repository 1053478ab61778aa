"""Recording events: validate, append to the ledger, project, all in one transaction."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Callable

from idres.auth import Identity
from idres.config import Config
from idres.errors import HandleNotFound
from idres.events.intake import (EventConflict, Named, authorize, body_base, parse_events,
                                 require_existing, require_installations)
from idres.events.projector import ProjectionConflict, apply_events
from idres.handles import parse_handle
from idres.storage import Database, projections, records
from ledger import store as ledger_store
from ledger.log import LedgerConflict, Log, SignedCheckpoint, inclusion_proofs, latest_checkpoint


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def checkpoint_json(cp: SignedCheckpoint) -> dict[str, Any]:
    """A signed checkpoint as every answer gives it: size, base64 root, the note."""
    return {"size": cp.size, "root": b64(cp.root), "note": cp.note}


@dataclass(frozen=True)
class Prepared:
    """A request's events, validated and authorized: ready for a write transaction."""

    who: Identity
    events: list[dict]
    base: str
    subjects: Named
    references: Named


def prepare_events(config: Config, who: Identity, body: Any) -> Prepared:
    """Shape, actor and ownership checks: everything that needs no database."""
    base = body_base(body)
    events = parse_events(body, config.max_events)
    subjects, references = authorize(config, who, events, base)
    return Prepared(who, events, base, subjects, references)


def record_events(db: Database, config: Config, log: Log, who: Identity, body: Any) -> dict[str, Any]:
    """Append one event or a batch atomically; duplicates (same event_id and content) are idempotent."""
    return commit_prepared(db, log, prepare_events(config, who, body))


def commit_prepared(db: Database, log: Log, p: Prepared) -> dict[str, Any]:
    """One request's events in their own transaction, acknowledged after its commit."""
    try:
        with db.write() as s:
            require_existing(s, p.subjects, p.references)
            require_installations(s, p.events, p.base)
            result = log.append(s, p.events)
            _project(s, result.receipts, p.events, p.base)
            checkpoint = result.checkpoint or log.ensure_checkpoint(s)
            _audit(s, p, checkpoint)
    except LedgerConflict as err:
        raise EventConflict(str(err), field=_conflict_field(p.events, p.base, err.entry_id)) from None
    return _answer(p, _entries(p.events, result.receipts), checkpoint)


def commit_together(db: Database, log: Log, group: list[Prepared]) -> list[dict[str, Any]]:
    """Several requests' events appended in ONE transaction, in order, under one checkpoint.

    All or nothing for the group: any error (a conflict, a missing handle)
    raises and commits nothing, and the caller then commits each request on
    its own so that the error lands on the request that caused it only.
    The log, projections and answers are those of committing the requests
    one after another in this order (a batch projects in order, like
    single appends); each answer's checkpoint is the group's, which covers
    every entry it acknowledges.
    """
    events = [e for p in group for e in p.events]
    with db.write() as s:
        require_existing(s, [n for p in group for n in p.subjects],
                         [n for p in group for n in p.references])
        for p in group:
            require_installations(s, p.events, p.base)
        result = log.append(s, events)
        _project(s, result.receipts, events, "events")
        checkpoint = result.checkpoint or log.ensure_checkpoint(s)
        for p in group:
            _audit(s, p, checkpoint)
    entries = iter(_entries(events, result.receipts))  # duplicates marked across the group too
    return [_answer(p, [next(entries) for _ in p.events], checkpoint) for p in group]


def _audit(s: Any, p: Prepared, checkpoint: SignedCheckpoint) -> None:
    records.record_audit(s, p.who.name, "events", p.base, {"count": len(p.events), "size": checkpoint.size})


def _answer(p: Prepared, entries: list[dict], checkpoint: SignedCheckpoint) -> dict[str, Any]:
    return {"responseCode": 1, "entries": entries, "checkpoint": checkpoint_json(checkpoint)}


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


def handle_history(db: Database, handle_text: str) -> dict[str, Any]:
    """A part's events, each with an inclusion proof against the latest checkpoint."""
    handle = parse_handle(handle_text)
    with db.read() as s:
        if not records.handle_exists(s, handle.key):
            raise HandleNotFound(handle=handle_text)
        cp = latest_checkpoint(s)
        size = cp.size if cp else 0
        seqs = [seq for seq in projections.event_seqs(s, handle.key) if seq < size]
        entries = ledger_store.entries_at(s, seqs)
        proofs = inclusion_proofs(s, seqs, size)
    events = [{"seq": seq, "event": json.loads(entries[seq]["entry"]),
               "leafHash": b64(bytes.fromhex(entries[seq]["leaf_hash"])),
               "proof": [b64(p) for p in proofs[seq]]} for seq in seqs]
    return {"responseCode": 1, "handle": handle_text, "checkpoint": checkpoint_json(cp) if cp else None,
            "events": events}
