"""SQL for the ledger tables, written once for SQLite and PostgreSQL.

The ledger does not open connections: callers pass a *session* (any object
with ``one``, ``all``, ``run`` and ``many`` taking ``?``-placeholder SQL, such
as idres's storage sessions), so an append can share a transaction with the
caller's own tables.  Hashes are stored as lowercase hex text so that the
same SQL serves both databases.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol, Sequence

ZERO_CHAIN = "00" * 32  # chain hash before entry 0


class Session(Protocol):
    def one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


SCHEMA: list[str] = [
    # edge: the right edge of the tree (its perfect subtrees, "level:index:hash"
    # comma-separated), kept so an append needs no node reads.  Derived state:
    # checked against the last signed root before every signature.
    """CREATE TABLE ledger_head (
        id INTEGER PRIMARY KEY,
        size BIGINT NOT NULL,
        chain_hash TEXT NOT NULL,
        edge TEXT NOT NULL DEFAULT '')""",
    f"INSERT INTO ledger_head (id, size, chain_hash) VALUES (1, 0, '{ZERO_CHAIN}')",
    """CREATE TABLE ledger_entries (
        seq BIGINT PRIMARY KEY,
        entry_id TEXT NOT NULL UNIQUE,
        entry TEXT NOT NULL,
        leaf_hash TEXT NOT NULL,
        chain_hash TEXT NOT NULL)""",
    """CREATE TABLE ledger_nodes (
        level INTEGER NOT NULL,
        idx BIGINT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (level, idx))""",
    """CREATE TABLE ledger_checkpoints (
        size BIGINT PRIMARY KEY,
        root TEXT NOT NULL,
        note TEXT NOT NULL,
        signed_at TEXT NOT NULL)""",
    """CREATE TABLE ledger_anchors (
        size BIGINT PRIMARY KEY,
        root TEXT NOT NULL,
        chain_id BIGINT NOT NULL,
        tx_hash TEXT NOT NULL,
        block_number BIGINT NOT NULL,
        anchored_at TEXT NOT NULL)""",
]


def lock_head(s: Session) -> tuple[int, str]:
    """Lock the log head for this transaction; returns ``(size, chain hash)``.

    The no-op UPDATE takes PostgreSQL's row lock, so concurrent appenders
    queue here; on SQLite the transaction already holds the write lock.
    """
    s.run("UPDATE ledger_head SET size = size WHERE id = 1")
    row = s.one("SELECT size, chain_hash FROM ledger_head WHERE id = 1")
    return int(row["size"]), row["chain_hash"]


def lock_head_edge(s: Session) -> tuple[int, str, str]:
    """Like :func:`lock_head` in one round trip, also returning the stored right edge."""
    row = s.one("UPDATE ledger_head SET size = size WHERE id = 1 RETURNING size, chain_hash, edge")
    return int(row["size"]), row["chain_hash"], row["edge"]


def head(s: Session) -> tuple[int, str]:
    row = s.one("SELECT size, chain_hash FROM ledger_head WHERE id = 1")
    return int(row["size"]), row["chain_hash"]


def set_head(s: Session, size: int, chain_hash: str, edge: str = "") -> None:
    s.run("UPDATE ledger_head SET size = ?, chain_hash = ?, edge = ? WHERE id = 1",
          (size, chain_hash, edge))


def advance_head(s: Session, old_size: int, size: int, chain_hash: str,
                 edge: str) -> tuple[int, tuple[int, str] | None]:
    """Set the head after appending entries ``old_size..size-1``, in one round trip.

    Returns how many entries that range holds (so that an append can tell
    whether :func:`insert_new_entries` skipped any) and the latest
    checkpoint's ``(size, root)``, if any.  Call it with the head locked: the
    statement then starts after every earlier append committed and sees
    their checkpoints.
    """
    row = s.one("UPDATE ledger_head SET size = ?, chain_hash = ?, edge = ? WHERE id = 1 RETURNING "
                "(SELECT COUNT(*) FROM ledger_entries WHERE seq >= ? AND seq < ?) AS appended, "
                "(SELECT size FROM ledger_checkpoints ORDER BY size DESC LIMIT 1) AS cp_size, "
                "(SELECT root FROM ledger_checkpoints ORDER BY size DESC LIMIT 1) AS cp_root",
                (size, chain_hash, edge, old_size, size))
    previous = None if row["cp_size"] is None else (int(row["cp_size"]), row["cp_root"])
    return int(row["appended"]), previous


def entries_by_id(s: Session, entry_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Existing entries among ``entry_ids``: id -> (seq, entry text)."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(entry_ids), 500):
        chunk = list(entry_ids[start:start + 500])
        marks = ", ".join("?" * len(chunk))
        for row in s.all(f"SELECT seq, entry_id, entry FROM ledger_entries WHERE entry_id IN ({marks})",
                         chunk):
            found[row["entry_id"]] = (int(row["seq"]), row["entry"])
    return found


def insert_entries(s: Session, rows: Iterable[tuple[int, str, str, str, str]]) -> None:
    """Rows of ``(seq, entry_id, entry, leaf_hash, chain_hash)``."""
    s.many("INSERT INTO ledger_entries (seq, entry_id, entry, leaf_hash, chain_hash) "
           "VALUES (?, ?, ?, ?, ?)", rows)


def insert_new_entries(s: Session, rows: Iterable[tuple[int, str, str, str, str]]) -> None:
    """Like :func:`insert_entries`, but a row whose entry_id is logged already is skipped.

    Appends insert optimistically instead of looking every id up first;
    :func:`advance_head` then counts the rows that went in.  A short count
    means some ids were logged before: the caller takes its rows back out
    with :func:`discard_uncommitted`, looks the ids up and appends again.
    """
    sql = ("INSERT INTO ledger_entries (seq, entry_id, entry, leaf_hash, chain_hash) "
           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (entry_id) DO NOTHING")
    rows = rows if isinstance(rows, list) else list(rows)
    if len(rows) == 1:  # psycopg's executemany pipelines, which costs more for one row
        s.run(sql, rows[0])
    else:
        s.many(sql, rows)


def discard_uncommitted(s: Session, start: int, end: int) -> int:
    """Delete the entries ``start <= seq < end`` that this transaction inserted.

    Only for an append holding the head lock, with ``start`` the locked size:
    any other row in that range would have made its INSERT fail on the
    primary key, so nothing committed is touched.
    """
    return s.run("DELETE FROM ledger_entries WHERE seq >= ? AND seq < ?", (start, end))


def copy_leaf_nodes(s: Session, start: int, end: int) -> None:
    """Level-0 nodes for entries ``start..end-1``: their leaf hashes, copied inside the database.

    Saves sending a batch's leaf hashes a second time; the interior nodes
    still go through :func:`insert_nodes`.
    """
    s.run("INSERT INTO ledger_nodes (level, idx, hash) "
          "SELECT 0, seq, leaf_hash FROM ledger_entries WHERE seq >= ? AND seq < ?", (start, end))


# Rows per statement in grouped inserts: 16 rows of 3 values stay within the 50
# parameters up to which psycopg caches a statement's parsing and prepares it.
NODE_GROUP = 16


def insert_nodes(s: Session, nodes: Iterable[tuple[int, int, bytes]]) -> None:
    """Perfect subtrees ``(level, index, hash)``, 16 rows per statement.

    A batch completes about two nodes per entry; sent as ``executemany`` of a
    16-row ``INSERT ... VALUES (..), (..)``, they cost a third of the time
    of one statement per row, on both backends.
    """
    flat = [v for level, idx, h in nodes for v in (level, idx, h.hex())]
    width = 3 * NODE_GROUP
    full = len(flat) - len(flat) % width
    if full > width:
        s.many("INSERT INTO ledger_nodes (level, idx, hash) VALUES "
               + ", ".join(["(?, ?, ?)"] * NODE_GROUP),
               [tuple(flat[i:i + width]) for i in range(0, full, width)])
    else:  # one statement: executemany's pipeline would cost more than it saves
        full = 0
    for start in range(full, len(flat), width):  # the rest, up to 16 rows per statement
        chunk = flat[start:start + width]
        s.run("INSERT INTO ledger_nodes (level, idx, hash) VALUES "
              + ", ".join(["(?, ?, ?)"] * (len(chunk) // 3)), chunk)


def read_nodes(s: Session, keys: Iterable[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
    """Several stored perfect-subtree hashes (O(log n) keys) in one query per 250 keys."""
    wanted = list(dict.fromkeys(keys))
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(wanted), 250):
        chunk = wanted[start:start + 250]
        where = " OR ".join(["(level = ? AND idx = ?)"] * len(chunk))
        for row in s.all(f"SELECT level, idx, hash FROM ledger_nodes WHERE {where}",
                         [v for key in chunk for v in key]):
            found[(int(row["level"]), int(row["idx"]))] = bytes.fromhex(row["hash"])
    for level, idx in wanted:
        if (level, idx) not in found:
            raise KeyError(f"ledger node ({level}, {idx}) is missing")
    return found


def entries_at(s: Session, seqs: Sequence[int]) -> dict[int, Any]:
    """``seq -> row`` (seq, entry, leaf_hash) for many entries, one query per 500."""
    found: dict[int, Any] = {}
    for begin in range(0, len(seqs), 500):
        part = list(seqs[begin:begin + 500])
        marks = ", ".join("?" * len(part))
        for row in s.all(f"SELECT seq, entry, leaf_hash FROM ledger_entries WHERE seq IN ({marks})", part):
            found[int(row["seq"])] = row
    return found


def entry(s: Session, seq: int) -> Any:
    return s.one("SELECT seq, entry_id, entry, leaf_hash, chain_hash FROM ledger_entries WHERE seq = ?",
                 (seq,))


def entries(s: Session, start: int, end: int) -> list[Any]:
    """Entries with ``start <= seq < end`` in order."""
    return s.all("SELECT seq, entry_id, entry, leaf_hash, chain_hash FROM ledger_entries "
                 "WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end))


def insert_checkpoint(s: Session, size: int, root: bytes, note: str, signed_at: str) -> None:
    s.run("INSERT INTO ledger_checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (size) DO NOTHING", (size, root.hex(), note, signed_at))


def latest_checkpoint(s: Session) -> Any:
    return s.one("SELECT size, root, note, signed_at FROM ledger_checkpoints "
                 "ORDER BY size DESC LIMIT 1")


def checkpoints(s: Session) -> list[Any]:
    return s.all("SELECT size, root, note, signed_at FROM ledger_checkpoints ORDER BY size")


def insert_anchor(s: Session, size: int, root: str, chain_id: int, tx_hash: str,
                  block_number: int, anchored_at: str) -> None:
    s.run("INSERT INTO ledger_anchors (size, root, chain_id, tx_hash, block_number, anchored_at) "
          "VALUES (?, ?, ?, ?, ?, ?)", (size, root, chain_id, tx_hash, block_number, anchored_at))


def anchors(s: Session) -> list[Any]:
    return s.all("SELECT size, root, chain_id, tx_hash, block_number, anchored_at "
                 "FROM ledger_anchors ORDER BY size")
