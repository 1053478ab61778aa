"""Numbered schema migrations, recorded in ``schema_migrations``.

Each migration is a list of statements written once for both dialects;
``{serial_pk}`` and ``{binary}`` are the only dialect placeholders.
"""
from __future__ import annotations

from datetime import datetime, timezone

from idres.storage import carbon, federation, genealogy, projections, shipments
from idres.storage.engine import Database, Session
from ledger import store as ledger_store

MIGRATION_LOCK = 88118  # advisory lock key for PostgreSQL

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "handle records, mint sequences, audit log", [
        """CREATE TABLE handles (
            handle_key TEXT {binary} PRIMARY KEY,
            handle TEXT NOT NULL,
            prefix_key TEXT {binary} NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX handles_by_prefix ON handles (prefix_key, handle_key)",
        """CREATE TABLE handle_values (
            handle_key TEXT {binary} NOT NULL,
            idx INTEGER NOT NULL,
            type TEXT NOT NULL,
            data_format TEXT NOT NULL,
            data_value TEXT NOT NULL,
            ttl INTEGER NOT NULL,
            permissions TEXT NOT NULL,
            refs TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            PRIMARY KEY (handle_key, idx))""",
        """CREATE TABLE mint_sequences (
            prefix_key TEXT {binary} NOT NULL,
            pattern TEXT NOT NULL,
            next_seq BIGINT NOT NULL,
            PRIMARY KEY (prefix_key, pattern))""",
        """CREATE TABLE audit_log (
            id {serial_pk},
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            handle TEXT NOT NULL,
            detail TEXT NOT NULL)""",
    ]),
    (2, "ledger: entries, tree nodes, checkpoints, anchors", ledger_store.SCHEMA),
    (3, "ledger projections: part state, genealogy, carbon, handle index", projections.SCHEMA),
    (5, "carbon: installations, part types, CBAM default values", carbon.SCHEMA),
    (6, "trace: part dates from the log, parts by folded batch", genealogy.SCHEMA),
    (7, "cbam reports: shipments projection, filled from the log", shipments.SCHEMA),
    (8, "federation: registrations upward, resolution counts per prefix", federation.SCHEMA),
]


def _lock(db: Database, s: Session) -> None:
    """Serialize migrations across processes (SQLite's BEGIN IMMEDIATE already does)."""
    if db.dialect == "postgres":
        s.one("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))


def applied_versions(db: Database) -> set[int]:
    """Versions already applied (empty for a new database)."""
    with db.write() as s:
        _lock(db, s)
        s.run("CREATE TABLE IF NOT EXISTS schema_migrations ("
              "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        return {row["version"] for row in s.all("SELECT version FROM schema_migrations")}


def migrate(db: Database) -> list[int]:
    """Apply every pending migration, each in its own transaction."""
    done = applied_versions(db)
    applied = []
    for version, name, statements in MIGRATIONS:
        if version in done:
            continue
        with db.write() as s:
            _lock(db, s)
            # Re-check inside the lock: another process may have won.
            if s.one("SELECT version FROM schema_migrations WHERE version = ?", (version,)):
                continue
            for statement in statements:
                s.run(db.ddl(statement))
            s.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                  (version, name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
        applied.append(version)
    return applied


def current_version(db: Database) -> int:
    """The highest applied migration, 0 for an empty database."""
    return max(applied_versions(db), default=0)
