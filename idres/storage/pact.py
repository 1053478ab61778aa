"""SQL for the PACT export: which footprints exist, and the ledger facts around a figure.

A footprint is offered for every registered part type and for every batch
(a batch with commissioned parts, or a batch subject of ``carbon.recorded``
events).  Batches are named in their maker's namespace, which for parts is
the prefix of the part's handle (``handles.prefix_key``).
"""
from __future__ import annotations

from typing import Any, Sequence

from idres.storage.engine import Session, chunks


def part_type_keys(s: Session) -> list[Any]:
    """Every registered part type: ``owner_key``, ``code_key``, ``owner``, ``code``."""
    return s.all("SELECT owner_key, code_key, owner, code FROM carbon_part_types "
                 "ORDER BY owner_key, code_key")


def part_batches(s: Session) -> list[Any]:
    """Batches with commissioned parts: ``prefix_key``, a spelling of ``batch``, part count."""
    return s.all("SELECT h.prefix_key, min(p.batch) AS batch, count(*) AS n FROM part_state p "
                 "JOIN handles h ON h.handle_key = p.handle_key WHERE p.batch IS NOT NULL "
                 "GROUP BY h.prefix_key, lower(p.batch)")


def carbon_batches(s: Session) -> list[Any]:
    """Batch subjects of ``carbon.recorded`` events (lots known only by their records)."""
    return s.all("SELECT subject_key, min(subject) AS subject FROM carbon_records "
                 "WHERE subject_kind = 'batch' GROUP BY subject_key")


def parts_of_type(s: Session, owner_key: str, code_key: str) -> list[Any]:
    """The parts of a part type: handle, batch, commissioned mass, and whether it has own records."""
    return s.all("SELECT p.handle_key, p.handle, p.batch, p.net_mass_g, "
                 "(SELECT count(*) FROM carbon_records c WHERE c.subject_key = p.handle_key) AS own "
                 "FROM part_state p JOIN handles h ON h.handle_key = p.handle_key "
                 "WHERE h.prefix_key = ? AND lower(p.part_type) = ? ORDER BY p.handle_key",
                 (owner_key, code_key))


def subjects_with_records(s: Session, subject_keys: Sequence[str]) -> set[str]:
    """Which of ``subject_keys`` have ``carbon.recorded`` rows."""
    found: set[str] = set()
    for part, marks in chunks(subject_keys):
        found |= {r["subject_key"] for r in s.all(
            f"SELECT DISTINCT subject_key FROM carbon_records WHERE subject_key IN ({marks})", part)}
    return found


def entries(s: Session, seqs: Sequence[int]) -> list[Any]:
    """Logged entries (``seq``, ``entry`` JSON) by sequence number, in log order."""
    out: list[Any] = []
    for part, marks in chunks(sorted(set(seqs))):  # type: ignore[arg-type]
        out += s.all(f"SELECT seq, entry FROM ledger_entries WHERE seq IN ({marks})", part)
    return sorted(out, key=lambda r: r["seq"])
