"""Tables of a node's dealings with the node above: registrations upward, resolution counts.

``upstream_registrations`` holds one row per prefix record this node must
register at its upstream.  The row is written in the transaction that creates
the prefix, so a registration can be late but never lost.  Times a worker
compares (``next_try``) are epoch seconds; times people read are ISO 8601.

``prefix_resolutions`` holds resolution counts per folded prefix, added to in
batches by each serving process (:mod:`idres.federation.stats`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from idres.storage.engine import Session

PENDING, REGISTERED, CONFLICT = "pending", "registered", "conflict"

SCHEMA = [
    """CREATE TABLE upstream_registrations (
        prefix_key TEXT {binary} PRIMARY KEY,
        prefix TEXT NOT NULL,
        upstream TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        next_try DOUBLE PRECISION NOT NULL,
        queued_at TEXT NOT NULL,
        registered_at TEXT)""",
    "CREATE INDEX upstream_registrations_due ON upstream_registrations (state, next_try)",
    """CREATE TABLE prefix_resolutions (
        prefix_key TEXT {binary} PRIMARY KEY,
        resolutions BIGINT NOT NULL,
        updated_at TEXT NOT NULL)""",
]


@dataclass(frozen=True)
class Registration:
    """One prefix's registration upward, as stored."""

    prefix_key: str
    prefix: str
    upstream: str
    state: str
    attempts: int
    last_error: str
    next_try: float
    queued_at: str
    registered_at: str | None


_COLUMNS = "prefix_key, prefix, upstream, state, attempts, last_error, next_try, queued_at, registered_at"


def _registration(row) -> Registration:
    return Registration(row["prefix_key"], row["prefix"], row["upstream"], row["state"],
                        int(row["attempts"]), row["last_error"], float(row["next_try"]),
                        row["queued_at"], row["registered_at"])


def queue_registration(s: Session, prefix_key: str, prefix: str, upstream: str,
                       now: float, now_text: str) -> None:
    """Queue (or queue again, from scratch) the registration of one prefix."""
    s.run("INSERT INTO upstream_registrations (" + _COLUMNS + ") VALUES (?, ?, ?, ?, 0, '', ?, ?, NULL) "
          "ON CONFLICT (prefix_key) DO UPDATE SET prefix = excluded.prefix, "
          "upstream = excluded.upstream, state = excluded.state, attempts = 0, last_error = '', "
          "next_try = excluded.next_try, queued_at = excluded.queued_at, registered_at = NULL",
          (prefix_key, prefix, upstream, PENDING, now, now_text))


def load_registration(s: Session, prefix_key: str) -> Registration | None:
    row = s.one(f"SELECT {_COLUMNS} FROM upstream_registrations WHERE prefix_key = ?", (prefix_key,))
    return None if row is None else _registration(row)


def all_registrations(s: Session) -> dict[str, Registration]:
    """Every registration, by folded prefix."""
    rows = s.all(f"SELECT {_COLUMNS} FROM upstream_registrations")
    return {row["prefix_key"]: _registration(row) for row in rows}


def due_registrations(s: Session, now: float, limit: int) -> list[Registration]:
    """Pending registrations whose next try has come, oldest first."""
    rows = s.all(f"SELECT {_COLUMNS} FROM upstream_registrations WHERE state = ? AND next_try <= ? "
                 "ORDER BY next_try LIMIT ?", (PENDING, now, limit))
    return [_registration(row) for row in rows]


def next_due(s: Session) -> float | None:
    """When the earliest pending registration is due (epoch seconds), or None."""
    row = s.one("SELECT MIN(next_try) AS t FROM upstream_registrations WHERE state = ?", (PENDING,))
    return None if row is None or row["t"] is None else float(row["t"])


def record_outcome(s: Session, reg: Registration, state: str, error: str, next_try: float,
                   now_text: str) -> bool:
    """Store one attempt's outcome; False when the row was queued again meanwhile."""
    registered_at = now_text if state == REGISTERED else None
    return s.run("UPDATE upstream_registrations SET state = ?, attempts = attempts + 1, last_error = ?, "
                 "next_try = ?, registered_at = ? WHERE prefix_key = ? AND queued_at = ?",
                 (state, error, next_try, registered_at, reg.prefix_key, reg.queued_at)) == 1


def add_resolutions(s: Session, counts: Iterable[tuple[str, int]], now_text: str) -> None:
    """Add per-prefix resolution counts (one upsert per prefix, one transaction)."""
    s.many("INSERT INTO prefix_resolutions (prefix_key, resolutions, updated_at) VALUES (?, ?, ?) "
           "ON CONFLICT (prefix_key) DO UPDATE SET "
           "resolutions = prefix_resolutions.resolutions + excluded.resolutions, "
           "updated_at = excluded.updated_at",
           [(key, n, now_text) for key, n in counts])


def resolution_counts(s: Session) -> dict[str, tuple[int, str]]:
    """Stored counts: folded prefix -> (resolutions, last flushed at)."""
    return {row["prefix_key"]: (int(row["resolutions"]), row["updated_at"])
            for row in s.all("SELECT prefix_key, resolutions, updated_at FROM prefix_resolutions")}
