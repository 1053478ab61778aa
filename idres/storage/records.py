"""SQL for handle records: handles, their values and the audit log."""
from __future__ import annotations

import json
from json.decoder import scanstring
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from idres.storage.engine import Session, chunks
from idres.values import ADMIN_READ, PUBLIC_READ, HandleValue, encode_data, rest_json, utc_timestamp


@dataclass(frozen=True)
class StoredRecord:
    """A handle as stored: its registered spelling and its values."""

    handle: str
    values: list[HandleValue]


_VALUE_COLUMNS = "idx, type, data_format, data_value, ttl, permissions, refs, timestamp"


def _data(text: str) -> Any:
    """Stored data JSON, decoded; most data are one string, which the C scanner
    decodes without json.loads' layers of Python calls."""
    if text[:1] == '"':
        value, end = scanstring(text, 1)
        if end == len(text):
            return value
    return json.loads(text)


def _fields(row: Sequence[Any]) -> tuple[Any, ...]:
    """A :data:`_LOAD_RECORD` row's value fields, decoded, in HandleValue order
    (by position: cheaper than by name)."""
    refs = row[7]
    return (row[1], row[2], row[3], _data(row[4]), row[5], row[6],
            [] if refs == "[]" else json.loads(refs), row[8])


def _value(row: Sequence[Any]) -> HandleValue:
    return HandleValue(*_fields(row))


# One round trip per lookup: resolution is the hot path.  The column order is
# what _value, value_rows' callers and idres.values.stored_json rely on.
_LOAD_RECORD = ("SELECT h.handle, v.idx, v.type, v.data_format, v.data_value, v.ttl, v.permissions, "
                "v.refs, v.timestamp FROM handles h LEFT JOIN handle_values v "
                "ON v.handle_key = h.handle_key WHERE h.handle_key = ? ORDER BY v.idx")


def value_rows(s: Session, handle_key: str) -> list[Sequence[Any]]:
    """A handle's stored rows, empty when it does not exist: ``(handle, index, type,
    format, data JSON, ttl, permissions, references JSON, timestamp)`` each, index
    order; a handle without values is one row whose other columns are ``None``."""
    return s.tuples(_LOAD_RECORD, (handle_key,))


def record_of(rows: Sequence[Sequence[Any]]) -> StoredRecord:
    """The :class:`StoredRecord` of non-empty :func:`value_rows`."""
    return StoredRecord(rows[0][0], [_value(r) for r in rows if r[1] is not None])


def readable_json(rows: Sequence[Sequence[Any]], admin_read: bool) -> list[dict[str, Any]]:
    """The REST form of the publicly readable values in :func:`value_rows`, and with
    ``admin_read`` of those an administrator may read too."""
    return [rest_json(*_fields(r)) for r in rows
            if r[1] is not None and (r[6][PUBLIC_READ] == "1" or (admin_read and r[6][ADMIN_READ] == "1"))]


def has_hidden(rows: Sequence[Sequence[Any]]) -> bool:
    """True when a value in :func:`value_rows` is not publicly readable."""
    return any(r[1] is not None and r[6][PUBLIC_READ] != "1" for r in rows)


def load_record(s: Session, handle_key: str) -> StoredRecord | None:
    """A handle's record by folded key, or ``None`` when it does not exist."""
    rows = value_rows(s, handle_key)
    return record_of(rows) if rows else None


_SECRET_KEYS = ("SELECT idx, data_value FROM handle_values "
                "WHERE handle_key = ? AND type = 'HS_SECKEY' ORDER BY idx")


def secret_keys(s: Session, handle_key: str) -> list[tuple[int, Any]]:
    """A handle's HS_SECKEY values as ``(index, data)``, index order; empty when it has
    none or does not exist.  Authentication runs on every write: one statement that
    returns and decodes only the keys, not the whole record."""
    return [(row[0], _data(row[1])) for row in s.tuples(_SECRET_KEYS, (handle_key,))]


def handle_exists(s: Session, handle_key: str) -> bool:
    return s.one("SELECT 1 AS one FROM handles WHERE handle_key = ?", (handle_key,)) is not None


def _value_row(handle_key: str, v: HandleValue) -> tuple:
    return (handle_key, v.index, v.type, v.format, encode_data(v), v.ttl, v.permissions,
            json.dumps(v.references), v.timestamp)


_INSERT_VALUE = (f"INSERT INTO handle_values (handle_key, {_VALUE_COLUMNS}) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def insert_handles(s: Session, records: Iterable[tuple[str, str, str, list[HandleValue]]]) -> None:
    """Insert new handles: ``(handle_key, handle, prefix_key, values)`` each."""
    now = utc_timestamp()
    heads, values = [], []
    for key, text, prefix_key, vals in records:
        heads.append((key, text, prefix_key, now, now))
        values.extend(_value_row(key, v) for v in vals)
    s.many("INSERT INTO handles (handle_key, handle, prefix_key, created_at, updated_at) "
           "VALUES (?, ?, ?, ?, ?)", heads)
    s.many(_INSERT_VALUE, values)


def upsert_values(s: Session, handle_key: str, values: list[HandleValue]) -> None:
    """Add or replace the given values of an existing handle."""
    s.many(_INSERT_VALUE + " ON CONFLICT (handle_key, idx) DO UPDATE SET "
           "type = excluded.type, data_format = excluded.data_format, "
           "data_value = excluded.data_value, ttl = excluded.ttl, "
           "permissions = excluded.permissions, refs = excluded.refs, "
           "timestamp = excluded.timestamp",
           [_value_row(handle_key, v) for v in values])
    touch(s, handle_key)


def delete_values(s: Session, handle_key: str, indexes: Iterable[int]) -> None:
    s.many("DELETE FROM handle_values WHERE handle_key = ? AND idx = ?",
           [(handle_key, i) for i in indexes])
    touch(s, handle_key)


def touch(s: Session, handle_key: str) -> None:
    s.run("UPDATE handles SET updated_at = ? WHERE handle_key = ?", (utc_timestamp(), handle_key))


def delete_handle(s: Session, handle_key: str) -> None:
    s.run("DELETE FROM handle_values WHERE handle_key = ?", (handle_key,))
    s.run("DELETE FROM handles WHERE handle_key = ?", (handle_key,))


def count_handles(s: Session, prefix_key: str) -> int:
    row = s.one("SELECT COUNT(*) AS n FROM handles WHERE prefix_key = ?", (prefix_key,))
    return int(row["n"])


def count_derived_prefixes(s: Session, prefix_key: str) -> int:
    """Prefix records ``0.NA/<prefix>.<anything>`` (derived prefixes) this node holds.

    A key range rather than LIKE: '_' may appear in prefixes, and '/' sorts
    right after '.', so the range is exactly the keys starting ``0.na/<prefix>.``
    (keys compare bytewise on both backends).
    """
    low = f"0.na/{prefix_key}."
    row = s.one("SELECT COUNT(*) AS n FROM handles WHERE prefix_key = ? AND handle_key >= ? AND handle_key < ?",
                ("0.na", low, low[:-1] + "/"))
    return int(row["n"])


def list_handles(s: Session, prefix_key: str, offset: int, limit: int | None) -> list[str]:
    """Handles under a prefix, in folded-key order, as registered."""
    sql = "SELECT handle FROM handles WHERE prefix_key = ? ORDER BY handle_key"
    params: tuple = (prefix_key,)
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += (limit, offset)
    return [row["handle"] for row in s.all(sql, params)]


def existing_keys(s: Session, keys: list[str]) -> list[str]:
    """Which of ``keys`` already exist (checked in chunks to bound parameters)."""
    found: list[str] = []
    for chunk, marks in chunks(keys):
        found += [r["handle_key"] for r in
                  s.all(f"SELECT handle_key FROM handles WHERE handle_key IN ({marks})", chunk)]
    return found


def record_audit(s: Session, actor: str, action: str, handle: str, detail: dict) -> None:
    """Note who changed what, and when. Never pass secrets in ``detail``."""
    s.run("INSERT INTO audit_log (at, actor, action, handle, detail) VALUES (?, ?, ?, ?, ?)",
          (utc_timestamp(), actor, action, handle, json.dumps(detail, sort_keys=True)))


def audit_entries(s: Session, handle: str | None = None) -> list[dict]:
    """Audit entries, oldest first, optionally for one handle."""
    sql = "SELECT id, at, actor, action, handle, detail FROM audit_log"
    params: tuple = ()
    if handle is not None:
        sql += " WHERE handle = ?"
        params = (handle,)
    return [dict(r) for r in s.all(sql + " ORDER BY id", params)]


def next_mint_sequence(s: Session, prefix_key: str, pattern: str, count: int) -> int:
    """Reserve ``count`` sequence numbers for a pattern; returns the first.

    The counter only grows, so a suffix is never minted twice even after
    its handle is deleted.
    """
    s.run("INSERT INTO mint_sequences (prefix_key, pattern, next_seq) VALUES (?, ?, 1) "
          "ON CONFLICT (prefix_key, pattern) DO NOTHING", (prefix_key, pattern))
    row = s.one("UPDATE mint_sequences SET next_seq = next_seq + ? "
                "WHERE prefix_key = ? AND pattern = ? RETURNING next_seq",
                (count, prefix_key, pattern))
    return int(row["next_seq"]) - count
