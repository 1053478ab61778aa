"""SQL for the scan page: one level of genealogy and carbon sums (ledger reads: ledger.store).

Everything here reads; the scan page never writes.  Genealogy links are the
projection's current edges (``valid_to IS NULL``); transformation edges are
never closed, assembly edges close on disassembly.
"""
from __future__ import annotations

from typing import Any

from idres.storage.engine import Session, chunks

CHUNK = 200

# direction -> (column matching the part, columns of the neighbour)
_LINKS = {
    "up": ("child_key", "parent AS handle, parent_key AS handle_key"),
    "down": ("parent_key", "child AS handle, child_key AS handle_key"),
}


def links(s: Session, key: str, direction: str, kind: str, limit: int) -> list[dict[str, Any]]:
    """Current edges of ``kind`` one level ``up`` (parents) or ``down`` (children, inputs).

    Returns at most ``limit`` rows ``handle, handle_key, kind, consumed_mass_g,
    valid_from``, oldest link first.
    """
    match, columns = _LINKS[direction]
    rows = s.all(f"SELECT {columns}, kind, consumed_mass_g, valid_from FROM genealogy_edges "
                 f"WHERE {match} = ? AND kind = ? AND valid_to IS NULL "
                 f"ORDER BY valid_from, created_seq, handle_key LIMIT ?", (key, kind, limit))
    return [dict(r) for r in rows]


def count_links(s: Session, key: str, direction: str, kind: str) -> int:
    """How many current edges of ``kind`` :func:`links` would list without a limit."""
    match, _ = _LINKS[direction]
    row = s.one(f"SELECT COUNT(*) AS n FROM genealogy_edges "
                f"WHERE {match} = ? AND kind = ? AND valid_to IS NULL", (key, kind))
    return int(row["n"]) if row is not None else 0


def registered(s: Session, keys: list[str]) -> dict[str, str]:
    """The registered spelling of those ``keys`` that are handles of this node."""
    found: dict[str, str] = {}
    for chunk, marks in chunks(keys, CHUNK):
        for row in s.all(f"SELECT handle_key, handle FROM handles WHERE handle_key IN ({marks})", chunk):
            found[row["handle_key"]] = row["handle"]
    return found


def carbon_totals(s: Session, subject_keys: list[str]) -> list[dict[str, Any]]:
    """Per subject (part or batch): record count, summed grams and the periods covered."""
    marks = ", ".join("?" * len(subject_keys))
    rows = s.all("SELECT subject_key, subject_kind, MIN(subject) AS subject, COUNT(*) AS records, "
                 "SUM(direct_g) AS direct_g, SUM(indirect_g) AS indirect_g, "
                 "SUM(activity_level_g) AS activity_level_g, MIN(period) AS first_period, "
                 "MAX(period) AS last_period FROM carbon_records "
                 f"WHERE subject_key IN ({marks}) GROUP BY subject_key, subject_kind "
                 "ORDER BY subject_kind DESC, subject_key", subject_keys)
    out = []
    for r in rows:  # PostgreSQL sums BIGINT as NUMERIC: back to int
        out.append({**dict(r), **{c: int(r[c]) for c in ("records", "direct_g", "indirect_g",
                                                         "activity_level_g")}})
    return out
