"""Roll-ups as the API and CLI serve them: one read transaction, with the checkpoint they saw.

Each answer names the latest signed checkpoint read in the same
transaction as the carbon data, and lists the ledger entries that
contributed, so a recipient can check every one with an inclusion proof.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from idres.carbon.footprint import footprint_of
from idres.carbon.rollup import see_of
from idres.storage import Database
from idres.storage.engine import Session
from idres.events.service import b64
from ledger.log import latest_checkpoint


def checkpoint_json(s: Session) -> dict[str, Any] | None:
    """The latest signed checkpoint: tree size and base64 root (as ``/api/ledger/checkpoint``)."""
    cp = latest_checkpoint(s)
    if cp is None:
        return None
    return {"size": cp.size, "root": b64(cp.root)}


def this_year() -> int:
    return datetime.now(timezone.utc).year


def see_answer(db: Database, subject: str, year: int | None = None) -> dict[str, Any]:
    """The CBAM SEE of a handle or batch as JSON, for goods imported in ``year`` (default: now)."""
    with db.read() as s:
        result = see_of(s, subject, year if year is not None else this_year())
        return {**result.json(), "checkpoint": checkpoint_json(s)}


def footprint_answer(db: Database, subject: str) -> dict[str, Any]:
    """The cradle-to-gate footprint of a handle or batch as JSON."""
    with db.read() as s:
        return {**footprint_of(s, subject).json(), "checkpoint": checkpoint_json(s)}
