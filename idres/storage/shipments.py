"""SQL for the ``shipments`` projection and the reads of the CBAM reports.

One row per handle of each ``shipped`` event: who shipped it (the event's
actor, which intake holds equal to ``from_party``), to whom, and when.
The projector writes the rows in the append transaction and ``idres ledger
replay`` rebuilds them, like the other projections.

``event_time`` here is the event's time in UTC to the *second*
(``YYYY-MM-DDThh:mm:ssZ``, fraction dropped): a format that Python, SQLite
and PostgreSQL all produce the same way, so the migration can fill the table
from the log of an upgraded database (:data:`BACKFILL`) with exactly the
rows a replay would write.  Reporting periods begin on whole seconds, so
dropping the fraction never moves a shipment across a period boundary.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Sequence

from idres.storage.engine import Session, chunks
from idres.storage.projections import _insert_grouped


class PerDialect(str):
    """A migration statement with its own text per dialect.

    ``Database.ddl`` fills a statement with ``str.format(**DDL[dialect])``;
    this statement answers ``format`` with the text of the dialect named
    there (the ``dialect`` key), so a migration can hold SQL that the two
    databases spell differently (JSON functions) without a second code path.
    """

    def __new__(cls, sqlite: str, postgres: str) -> "PerDialect":
        obj = super().__new__(cls, sqlite)
        obj.texts = {"sqlite": sqlite, "postgres": postgres}  # type: ignore[attr-defined]
        return obj

    def format(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        return self.texts[kwargs["dialect"]].format(*args, **kwargs)  # type: ignore[attr-defined]


_COLUMNS = ("seq, handle_key, handle, actor_key, actor, from_party, to_party_key, to_party, "
            "event_time")

# Filling the table from the log (databases that had events before migration 7).
# Keys fold ASCII letters only, as idres.handles.fold does: SQLite's lower() is
# ASCII-only, PostgreSQL's is under the "C" collation.  Times: the offset time
# without its fraction, converted to UTC.
_SQLITE_BACKFILL = f"""INSERT INTO shipments ({_COLUMNS})
    SELECT e.seq, lower(j.value), j.value, lower(json_extract(e.entry, '$.actor')),
        json_extract(e.entry, '$.actor'), json_extract(e.entry, '$.from_party'),
        lower(json_extract(e.entry, '$.to_party')), json_extract(e.entry, '$.to_party'),
        strftime('%Y-%m-%dT%H:%M:%SZ', substr(json_extract(e.entry, '$.event_time'), 1, 19)
            || CASE WHEN json_extract(e.entry, '$.event_time') LIKE '%Z' THEN 'Z'
               ELSE substr(json_extract(e.entry, '$.event_time'), -6) END)
    FROM ledger_entries e, json_each(e.entry, '$.handles') j
    WHERE json_extract(e.entry, '$.event_type') = 'shipped'"""
_POSTGRES_BACKFILL = f"""INSERT INTO shipments ({_COLUMNS})
    SELECT e.seq, lower(j.value COLLATE "C"), j.value, lower((e.entry::jsonb ->> 'actor') COLLATE "C"),
        e.entry::jsonb ->> 'actor', e.entry::jsonb ->> 'from_party',
        lower((e.entry::jsonb ->> 'to_party') COLLATE "C"), e.entry::jsonb ->> 'to_party',
        to_char((e.entry::jsonb ->> 'event_time')::timestamptz AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    FROM ledger_entries e, jsonb_array_elements_text(e.entry::jsonb -> 'handles') AS j(value)
    WHERE e.entry::jsonb ->> 'event_type' = 'shipped'"""
BACKFILL = PerDialect(_SQLITE_BACKFILL, _POSTGRES_BACKFILL)

SCHEMA: list[str] = [
    """CREATE TABLE shipments (
        seq BIGINT NOT NULL,
        handle_key TEXT {binary} NOT NULL,
        handle TEXT NOT NULL,
        actor_key TEXT {binary} NOT NULL,
        actor TEXT NOT NULL,
        from_party TEXT NOT NULL,
        to_party_key TEXT {binary} NOT NULL,
        to_party TEXT NOT NULL,
        event_time TEXT NOT NULL,
        PRIMARY KEY (seq, handle_key))""",
    "CREATE INDEX shipments_by_actor ON shipments (actor_key, to_party_key, event_time)",
    "CREATE INDEX shipments_by_party ON shipments (to_party_key, event_time)",
    "CREATE INDEX shipments_by_handle ON shipments (handle_key, event_time)",
    BACKFILL,
]


@lru_cache(maxsize=4096)
def second_text(event_time: str) -> str:
    """An offset date-time as UTC ``YYYY-MM-DDThh:mm:ssZ``, the fraction dropped (not rounded)."""
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00")).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def rows_of(seq: int, event: dict[str, Any], fold: Any) -> list[tuple]:
    """The rows of one ``shipped`` event (``fold``: the handle key function)."""
    at = second_text(event["event_time"])
    return [(seq, fold(h), h, fold(event["actor"]), event["actor"], event["from_party"],
             fold(event["to_party"]), event["to_party"], at) for h in event["handles"]]


def insert(s: Session, rows: list[tuple]) -> None:
    """Many rows of :func:`rows_of`, grouped like the other projections' inserts."""
    if rows:
        _insert_grouped(s, f"INSERT INTO shipments ({_COLUMNS})", 9, rows)


# --- report reads -----------------------------------------------------------

def shipped_between(s: Session, to_party_key: str, start: str, end: str,
                    actor_key: str | None) -> list[Any]:
    """Shipments to a party with ``start <= event_time < end``, by one actor or (None) any."""
    sql = ("SELECT seq, handle_key, handle, actor_key FROM shipments WHERE to_party_key = ? "
           "AND event_time >= ? AND event_time < ?")
    params: list[Any] = [to_party_key, start, end]
    if actor_key is not None:
        sql += " AND actor_key = ?"
        params.append(actor_key)
    return s.all(sql + " ORDER BY seq, handle_key", params)


def shipments_of(s: Session, handle_keys: Sequence[str], start: str, end: str) -> list[Any]:
    """Every shipment of ``handle_keys`` with ``start <= event_time < end``, in log order."""
    out: list[Any] = []
    for part, marks in chunks(handle_keys):
        out += s.all(f"SELECT {_COLUMNS} FROM shipments WHERE handle_key IN ({marks}) "
                     "AND event_time >= ? AND event_time < ?", [*part, start, end])
    return sorted(out, key=lambda r: (int(r["seq"]), r["handle_key"]))
