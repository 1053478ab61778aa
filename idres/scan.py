"""What the scan page shows about one part: a service over the database, no Flask.

:func:`scan_part` gathers, in one read transaction, the part's registered
identity and ``PART.*`` data, its ledger state (status, holder, inspection,
recall campaign), one level of current genealogy each way, recorded carbon
data for the part and its batch, and whether every ledger event that
mentions the part is included in the latest signed checkpoint.  The result
is a JSON-ready dict: the JSON answer *is* this dict, and the HTML page
renders it, so both carry the same data.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Mapping
from urllib.parse import quote

from idres.authority import check_responsible
from idres.config import Config
from idres.errors import HandleNotFound
from idres.events.projector import batch_key, mentioned
from idres.handles import fold, parse_handle
from idres.storage import Database, projections, records
from idres.storage import scan as sql
from idres.storage.engine import Session
from ledger import merkle
from ledger import store as ledger_store
from ledger.note import NoteError, Verifier, open_checkpoint

MAX_LINKS = 50  # neighbours listed per kind; the total is always given
BATCH_MARK = "batch:"
PART_LABELS = {
    "PART.TYPE": "Type", "PART.DESCRIPTION": "Description", "PART.MANUFACTURER": "Manufacturer",
    "PART.BATCH": "Batch", "PART.CN_CODE": "CN code", "PART.NET_MASS_G": "Net mass (g)",
    "PART.PRODUCTION_DATE": "Production date",
}


def scan_path(handle: str) -> str:
    """The scan page's path for ``handle`` (``/`` + the handle, percent-encoded but for ``/``)."""
    return "/" + quote(handle, safe="/")


def scan_part(db: Database, config: Config, handle_text: str,
              verifier: Verifier | None, origin: str | None) -> dict[str, Any]:
    """Everything the scan page shows about ``handle_text``.

    Raises ``InvalidHandle`` (rc 102) for a malformed handle, ``NotResponsible``
    (rc 301) for a prefix this node does not hold and ``HandleNotFound`` (rc 100)
    for an unknown handle.  ``verifier`` (the node's ledger key) and ``origin``
    check the checkpoint; without them the ledger is reported unverified.
    """
    handle = parse_handle(handle_text)
    with db.read() as s:
        record = records.load_record(s, handle.key)
        if record is None:
            check_responsible(s, config, handle)
            raise HandleNotFound(handle=handle_text)
        part = _part_values(record)
        state = projections.state(s, handle.key)
        state = dict(state) if state is not None else None
        # Event numbers before the checkpoint: an append commits both together,
        # so every event seen here is covered by the checkpoint read after it.
        seqs = projections.event_seqs(s, handle.key)
        ledger = verify_events(s, handle.key, seqs, verifier, origin)
        genealogy = _genealogy(s, config, handle.key)
        batch = (state or {}).get("batch") or part.get("PART.BATCH")
        carbon = _carbon(s, handle.key, handle.prefix, batch)
    registered = record.handle
    return {
        "responseCode": 1,
        "handle": registered,
        "url": _url(config, registered),
        "prefix": registered.split("/", 1)[0],
        "part": part,
        "maker": part.get("PART.MANUFACTURER") or registered.split("/", 1)[0],
        "makerSource": "PART.MANUFACTURER" if part.get("PART.MANUFACTURER") else "prefix",
        "state": _state(state),
        "genealogy": genealogy,
        "carbon": carbon,
        "ledger": ledger,
    }


def _url(config: Config, handle: str) -> str:
    return config.base_url.rstrip("/") + scan_path(handle)


def _part_values(record: records.StoredRecord) -> dict[str, str]:
    """Public ``PART.*`` values, first index wins, in template order."""
    found: dict[str, str] = {}
    for value in sorted(record.values, key=lambda v: v.index):
        if value.public_read and value.type in PART_LABELS and isinstance(value.value, str):
            found.setdefault(value.type, value.value)
    return {t: found[t] for t in PART_LABELS if t in found}


def _state(row: dict[str, Any] | None) -> dict[str, Any]:
    """The projected part state (``inLedger: false`` before any event)."""
    if row is None:
        return {"inLedger": False, "status": None, "recalled": False, "recallCampaign": None,
                "holder": None, "inspection": None, "partType": None, "batch": None,
                "netMassG": None, "lastEvent": None}
    return {
        "inLedger": True, "status": row["status"], "recalled": row["status"] == "recalled",
        "recallCampaign": row["recall_campaign"] if row["status"] == "recalled" else None,
        "holder": row["holder"], "inspection": row["inspection"], "partType": row["part_type"],
        "batch": row["batch"],
        "netMassG": int(row["net_mass_g"]) if row["net_mass_g"] is not None else None,
        "lastEvent": {"type": row["last_event_type"], "time": row["last_event_time"],
                      "seq": int(row["last_seq"])},
    }


# --- genealogy --------------------------------------------------------------


def _genealogy(s: Session, config: Config, key: str) -> dict[str, Any]:
    """One level up (current assembly, transformation outputs) and down (children, inputs)."""
    groups = {"parent": ("up", "assembly"), "madeInto": ("up", "transformation"),
              "children": ("down", "assembly"), "inputs": ("down", "transformation")}
    rows = {name: sql.links(s, key, d, kind, MAX_LINKS + 1) for name, (d, kind) in groups.items()}
    totals = {name: (len(found) if len(found) <= MAX_LINKS else sql.count_links(s, key, *groups[name]))
              for name, found in rows.items()}
    keys = sorted({r["handle_key"] for found in rows.values() for r in found})
    spelled = sql.registered(s, keys)
    states = projections.states(s, [k for k in keys if k in spelled])
    out: dict[str, Any] = {}
    for name, found in rows.items():
        out[name] = [_neighbour(config, r, spelled, states) for r in found[:MAX_LINKS]]
    out["parent"] = out["parent"][0] if out["parent"] else None  # at most one at a time
    out["totals"] = totals
    return out


def _neighbour(config: Config, row: dict[str, Any], spelled: dict[str, str],
               states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A linked part (with its scan URL) or a batch (no page of its own)."""
    text, key = row["handle"], row["handle_key"]
    item: dict[str, Any] = {"kind": row["kind"], "since": row["valid_from"]}
    if row["consumed_mass_g"] is not None:
        item["consumedMassG"] = int(row["consumed_mass_g"])
    if text.startswith(BATCH_MARK):
        maker, _, batch = text[len(BATCH_MARK):].partition("/")
        return {"handle": None, "batch": batch, "batchMaker": maker, **item}
    handle = spelled.get(key, text)
    state = states.get(key)
    return {"handle": handle, "url": _url(config, handle), "path": scan_path(handle),
            "registeredHere": key in spelled, "status": state["status"] if state else None, **item}


# --- carbon -----------------------------------------------------------------


def _carbon(s: Session, key: str, prefix: str, batch: str | None) -> dict[str, Any] | None:
    """Sums of recorded carbon data for the part itself and for its whole batch."""
    subjects = [key] + ([fold(batch_key(prefix, batch))] if batch else [])
    totals = sql.carbon_totals(s, subjects)
    if not totals:
        return None
    out: dict[str, Any] = {"basis": "recorded data", "unit": "g CO2e", "part": None, "batch": None}
    for t in totals:
        summary = {"records": t["records"], "directG": t["direct_g"], "indirectG": t["indirect_g"],
                   "totalG": t["direct_g"] + t["indirect_g"], "activityLevelG": t["activity_level_g"],
                   "periods": {"from": t["first_period"], "to": t["last_period"]}}
        if t["subject_kind"] == "batch":
            out["batch"] = {"batch": batch, **summary}
        else:
            out["part"] = summary
    return out


# --- ledger verification ----------------------------------------------------


def _unverified(seqs: list[int], reason: str, checkpoint: int | None = None) -> dict[str, Any]:
    return {"verified": False, "checkpoint": checkpoint, "events": len(seqs), "reason": reason}


def verify_events(s: Session, key: str, seqs: list[int], verifier: Verifier | None,
                  origin: str | None) -> dict[str, Any]:
    """Check that every event mentioning the part is in the latest signed checkpoint.

    Each entry's leaf hash is recomputed from its stored text, the entry must
    name the part, and its inclusion proof (built from the stored subtrees)
    must lead to the root of the latest checkpoint, whose signature must
    verify with the node's key.  Any failure gives ``verified: false`` and
    the reason; success gives the checkpoint's tree size.
    """
    if not seqs:
        return _unverified(seqs, "no ledger events mention this part")
    if verifier is None or origin is None:
        return _unverified(seqs, "the node's ledger key is not available")
    row = ledger_store.latest_checkpoint(s)
    if row is None:
        return _unverified(seqs, "the ledger has no checkpoint")
    try:
        cp = open_checkpoint(row["note"], [verifier], origin)
    except NoteError as err:
        return _unverified(seqs, f"the latest checkpoint's signature does not verify: {err}")
    if cp.size != int(row["size"]) or cp.root.hex() != row["root"]:
        return _unverified(seqs, "the latest checkpoint's stored size or root differs from its signed note")
    late = [seq for seq in seqs if seq >= cp.size]
    if late:
        return _unverified(seqs, f"entry {late[0]} is not covered by checkpoint {cp.size}", cp.size)
    entries = ledger_store.entries_at(s, seqs)
    try:
        nodes = ledger_store.read_nodes(
            s, [k for seq in seqs for k in merkle.nodes_needed_for_inclusion(seq, cp.size)])
    except KeyError as err:
        return _unverified(seqs, f"inclusion proof failed: {err}", cp.size)
    for seq in seqs:
        problem = _check_entry(key, seq, entries.get(seq), cp.size, cp.root, nodes)
        if problem:
            return _unverified(seqs, f"entry {seq}: {problem}", cp.size)
    return {"verified": True, "checkpoint": cp.size, "events": len(seqs),
            "root": base64.b64encode(cp.root).decode("ascii"), "reason": None}


def _check_entry(key: str, seq: int, row: Any, size: int, root: bytes,
                 nodes: Mapping[tuple[int, int], bytes]) -> str | None:
    """Why entry ``seq`` does not prove an event of the part, or ``None`` when it does."""
    if row is None:
        return "missing from the log"
    leaf = merkle.leaf_hash(row["entry"].encode("utf-8"))
    if leaf.hex() != row["leaf_hash"]:
        return "its content does not match its stored leaf hash"
    try:
        event = json.loads(row["entry"])
        if key not in {fold(h) for h, _ in mentioned(event)}:
            return "does not mention this part"
        merkle.verify_inclusion(leaf, seq, size, merkle.inclusion_proof(seq, size, nodes), root)
    except (ValueError, KeyError, TypeError, AttributeError, merkle.VerificationError) as err:
        return f"inclusion proof failed: {err}"
    return None
