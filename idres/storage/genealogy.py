"""SQL for genealogy walks, recall scopes and the part-dates tables.

Two walks follow ``genealogy_edges`` as of a time.  Both start from
*seeds*, a union of parameterized selects (a node's own links, a batch's
members and outputs, suspect handles, parts of a type made in a window),
read in one statement:

- :func:`walk_paths` (genealogy, up or down) keeps one row per path, with
  the path's display spellings joined by a control character (handles cannot
  contain one) and a *trail* of folded keys that stops a path from
  re-entering a node; the depth limit bounds the rest.
- :func:`reach_up` (recall scopes) keeps each walked link once per depth
  (as a ``UNION`` would), so many suspects meeting in one product cost one
  row per link instead of one per path; paths are rebuilt from the links.
  It runs the recursion itself, a generation at a time (a statement per
  500 distinct nodes), so a node is looked up once however many links
  reached it.

The same text runs on SQLite and PostgreSQL: anchor columns come from table
columns or explicit casts, so PostgreSQL sees the same types and collations
in both terms of a recursion.
"""
from __future__ import annotations

import re
from typing import Any

from idres.storage.engine import Session, chunks

SEP = "\x1f"  # joins path elements; never inside a handle (control characters are rejected)

SCHEMA: list[str] = [
    """CREATE TABLE trace_parts (
        handle_key TEXT {binary} PRIMARY KEY,
        handle TEXT NOT NULL,
        part_type TEXT NOT NULL,
        commissioned_at TEXT NOT NULL,
        commissioned_seq BIGINT NOT NULL)""",
    "CREATE INDEX trace_parts_by_type ON trace_parts (part_type, commissioned_at)",
    """CREATE TABLE trace_moves (
        seq BIGINT PRIMARY KEY,
        kind TEXT NOT NULL,
        at TEXT NOT NULL)""",
    "CREATE TABLE trace_sync (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL)",
    "INSERT INTO trace_sync (id, seq) VALUES (1, 0)",
    "CREATE INDEX part_state_by_folded_batch ON part_state (lower(batch))",
]

_NAME = re.compile(r":([a-z][a-z0-9_]*)")


def bind(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """Turn ``:name`` placeholders into ``?`` with the values in textual order."""
    values: list[Any] = []

    def take(match: re.Match) -> str:
        values.append(params[match.group(1)])
        return "?"
    return _NAME.sub(take, sql), values


# --- the walks -------------------------------------------------------------

SEEDS = "via, via_key, node_key, node, depth, kind, seq, ended_seq, valid_from, valid_to, mass"
PATHS = "node_key, node, depth, kind, seq, ended_seq, valid_from, valid_to, mass, path, trail, links"
REACH = "via, node_key, node, depth, kind, seq"
_VALID = "{e}.valid_from <= :as_of AND ({e}.valid_to IS NULL OR {e}.valid_to > :as_of)"
_ESCAPED = r"replace(replace(replace(e.{far}_key, '\', '\\'), '%', '\%'), '_', '\_')"
_DIRECTIONS = {"down": ("parent", "child"), "up": ("child", "parent")}
_NO_LINK = ("CAST(NULL AS TEXT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS TEXT), "
            "CAST(NULL AS TEXT), CAST(NULL AS BIGINT)")
Seed = tuple[str, dict[str, Any]]


def _head(seeds: list[Seed], nonconformant: bool) -> tuple[str, str]:
    """The seeds CTE and the filter its rows pass (last inspection non_conformant, if asked)."""
    union = " UNION ALL ".join(select for select, _ in seeds)
    only = ("WHERE EXISTS (SELECT 1 FROM part_state q WHERE q.handle_key = seeds.node_key "
            "AND q.inspection = 'non_conformant')") if nonconformant else ""
    return f"WITH RECURSIVE seeds({SEEDS}) AS ({union})", only


def _beyond(near: str, alias: str) -> str:
    """1 for a row at the depth limit that has a further link (the walk was cut there)."""
    return (f"CASE WHEN {alias}.depth < :depth THEN 0 WHEN EXISTS (SELECT 1 FROM genealogy_edges x "
            f"WHERE x.{near}_key = {alias}.node_key AND {_VALID.format(e='x')}) THEN 1 ELSE 0 END")


def _paths_sql(direction: str, seeds: list[Seed]) -> str:
    near, far = _DIRECTIONS[direction]
    head, only = _head(seeds, False)
    return f"""{head},
walk({PATHS}) AS (
  SELECT node_key, node, depth, kind, seq, ended_seq, valid_from, valid_to, mass,
         COALESCE(via || :sep, '') || node, :sep || COALESCE(via_key || :sep, '') || node_key || :sep,
         CASE WHEN depth = 0 THEN '' ELSE ',' || COALESCE(CAST(seq AS TEXT), '') END
  FROM seeds {only}
  UNION ALL
  SELECT e.{far}_key, e.{far}, w.depth + 1, e.kind, e.created_seq, e.ended_seq, e.valid_from,
         e.valid_to, e.consumed_mass_g, w.path || :sep || e.{far}, w.trail || e.{far}_key || :sep,
         w.links || ',' || CAST(e.created_seq AS TEXT)
  FROM walk w JOIN genealogy_edges e ON e.{near}_key = w.node_key
  WHERE w.depth < :depth AND {_VALID.format(e="e")}
    AND w.trail NOT LIKE ('%' || :sep || {_ESCAPED.format(far=far)} || :sep || '%') ESCAPE '\\'
)
SELECT w.node_key, w.node, w.depth, w.kind, w.seq, w.ended_seq, w.valid_from, w.valid_to, w.mass,
       w.path, w.links, {_beyond(near, "w")} AS more, p.part_type, p.status, p.holder
FROM walk w LEFT JOIN part_state p ON p.handle_key = w.node_key"""


def _reach_seeds_sql(seeds: list[Seed], nonconformant: bool) -> str:
    head, only = _head(seeds, nonconformant)
    return f"{head} SELECT {REACH} FROM seeds {only}"


_PARENTS = ("SELECT e.child_key, e.parent_key, e.parent, e.kind, e.created_seq FROM genealogy_edges e "
            "WHERE e.child_key IN ({marks}) AND " + _VALID.format(e="e").replace(":as_of", "?"))


def _tuples(rows: list[Any]) -> list[tuple]:
    """Rows as plain tuples in column order (psycopg's dict rows keep that order)."""
    if rows and isinstance(rows[0], dict):
        return [tuple(row.values()) for row in rows]
    return [tuple(row) for row in rows]


def _parents(s: Session, keys: list[str], as_of: str) -> dict[str, list[tuple]]:
    """The links valid at ``as_of`` above each key: (parent key, parent, kind, seq), in index order."""
    found: dict[str, list[tuple]] = {}
    get = found.get
    for chunk, marks in chunks(keys):
        for row in _tuples(s.all(_PARENTS.format(marks=marks), [*chunk, as_of, as_of])):
            links = get(row[0])
            if links is None:
                found[row[0]] = [row[1:]]
            else:
                links.append(row[1:])
    return found


def prefer_index_lookups(s: Session, dialect: str) -> None:
    """On PostgreSQL, plan this transaction's walks as index lookups.

    The planner cannot estimate a recursion: it guesses hundreds of
    thousands of rows, then picks hash joins over whole-table scans and JIT
    compilation, seconds for a walk that touches a thousand rows.  Every
    join of a walk is a key lookup from a small frontier, so nested loops
    over the indexes are always right.  SQLite plans them that way already.
    """
    if dialect == "postgres":
        s.one("SELECT set_config('jit', 'off', true), set_config('enable_hashjoin', 'off', true), "
              "set_config('enable_mergejoin', 'off', true)")


def _run(s: Session, sql: str, seeds: list[Seed], as_of: str, depth: int) -> list[Any]:
    params: dict[str, Any] = {"sep": SEP, "as_of": as_of, "depth": depth}
    for _, extra in seeds:
        params.update(extra)
    return s.all(*bind(sql, params))


def walk_paths(s: Session, direction: str, seeds: list[Seed], as_of: str, depth: int) -> list[Any]:
    """Every path from the seeds within ``depth`` links valid at ``as_of``, one row per path.

    A path never re-enters a node (``trail``).  ``more`` marks rows cut by the depth limit.
    """
    return _run(s, _paths_sql(direction, seeds), seeds, as_of, depth) if seeds else []


def reach_up(s: Session, seeds: list[Seed], as_of: str, depth: int, nonconformant: bool = False) -> list[tuple]:
    """The links walked going up from the seeds, each (via, node, depth) once.

    Where many suspects meet (a lot's bolts in one vehicle) this stays
    linear in the links, where one row per path would multiply.  ``via``
    is the node the link was walked from (a batch's name for its parts).
    Rows are tuples ``(via, node_key, node, depth, kind, seq, more)``;
    ``more`` marks rows cut by the depth limit.

    The walk is that of a ``WITH RECURSIVE ... UNION`` over the links (same
    rows, in the same first-in first-out order), run one generation at a
    time: the parents of a generation's nodes are read with one lookup per
    distinct node (chunked IN lists).  The recursive CTE looked a node up once per link that
    reached it (a block once per bolt) and removed the repeats afterwards.
    """
    if not seeds:
        return []
    params: dict[str, Any] = {"sep": SEP, "as_of": as_of, "depth": depth}
    for _, extra in seeds:
        params.update(extra)
    seen: set[tuple] = set()  # rows are (via, node_key, node, depth, kind, seq, more = 0 for now)
    generation: list[tuple] = []
    for row in _tuples(s.all(*bind(_reach_seeds_sql(seeds, nonconformant), params))):
        row += (0,)
        if row not in seen:
            seen.add(row)
            generation.append(row)
    out: list[tuple] = []
    while generation:
        parents = _parents(s, list(dict.fromkeys([row[1] for row in generation])), as_of)
        following: list[tuple] = []
        for row in generation:
            above = parents.get(row[1])
            if row[3] >= depth:  # not walked on; ``more`` when a link was cut here
                out.append(row[:6] + (1,) if above else row)
                continue
            out.append(row)
            if above:
                via, up = row[2], row[3] + 1
                for parent_key, parent, kind, seq in above:
                    link = (via, parent_key, parent, up, kind, seq, 0)
                    if link not in seen:
                        seen.add(link)
                        following.append(link)
        generation = following
    return out


def seed_links(direction: str, root: str, root_key: str) -> Seed:
    """The links of one node (depth 1): the start of a genealogy walk."""
    near, far = _DIRECTIONS[direction]
    return (f"SELECT CAST(:root AS TEXT), CAST(:root_key AS TEXT), e.{far}_key, e.{far}, 1, e.kind, "
            f"e.created_seq, e.ended_seq, e.valid_from, e.valid_to, e.consumed_mass_g "
            f"FROM genealogy_edges e WHERE e.{near}_key = :root_key AND {_VALID.format(e='e')}",
            {"root": root, "root_key": root_key})


def seed_batch(n: int, text: str, key: str, actor_key: str, name: str) -> Seed:
    """A batch's outputs (parts transformed from it) and members (parts commissioned in it), depth 1."""
    p = f"b{n}_"
    outputs = (f"SELECT CAST(:{p}text AS TEXT), CAST(:{p}key AS TEXT), e.parent_key, e.parent, 1, e.kind, "
               f"e.created_seq, e.ended_seq, e.valid_from, e.valid_to, e.consumed_mass_g "
               f"FROM genealogy_edges e WHERE e.child_key = :{p}key AND {_VALID.format(e='e')}")
    members = (f"SELECT CAST(:{p}text AS TEXT), CAST(:{p}key AS TEXT), m.handle_key, m.handle, 1, 'member', "
               f"c.commissioned_seq, CAST(NULL AS BIGINT), c.commissioned_at, CAST(NULL AS TEXT), "
               f"CAST(NULL AS BIGINT) FROM part_state m LEFT JOIN trace_parts c ON c.handle_key = m.handle_key "
               f"WHERE lower(m.batch) = lower(:{p}name) AND substr(m.handle_key, 1, :{p}plen) = :{p}pfx "
               f"AND (c.commissioned_at IS NULL OR c.commissioned_at <= :as_of)")
    return (f"{outputs} UNION ALL {members}",
            {f"{p}text": text, f"{p}key": key, f"{p}name": name, f"{p}pfx": actor_key + "/",
             f"{p}plen": len(actor_key) + 1})


def _itself(alias: str) -> str:
    """Seed columns of a suspect part itself (depth 0, no link), read from ``alias``."""
    return (f"CAST(NULL AS TEXT), CAST(NULL AS TEXT), {alias}.handle_key, {alias}.handle, 0, {_NO_LINK}")


def seed_handles(keys: list[str]) -> Seed:
    """Suspect handles themselves (depth 0): known to the ledger, or only registered."""
    names = {f"h{i}": key for i, key in enumerate(keys)}
    marks = ", ".join(f":{name}" for name in names)
    return (f"SELECT {_itself('k')} FROM part_state k WHERE k.handle_key IN ({marks}) UNION ALL "
            f"SELECT {_itself('r')} FROM handles r WHERE r.handle_key IN ({marks}) AND NOT EXISTS "
            f"(SELECT 1 FROM part_state z WHERE z.handle_key = r.handle_key)", names)


def seed_window(part_type: str, start: str, end: str) -> Seed:
    """Parts of a type commissioned in ``[start, end)`` (depth 0)."""
    return (f"SELECT {_itself('t')} FROM trace_parts t WHERE t.part_type = :w_type "
            f"AND t.commissioned_at >= :w_from AND t.commissioned_at < :w_to",
            {"w_type": part_type, "w_from": start, "w_to": end})


# --- what exists ----------------------------------------------------------

def part(s: Session, key: str) -> Any:
    """A node's state row joined with its dates, or ``None``."""
    return s.one("SELECT p.handle, p.part_type, p.status, p.holder, p.batch, p.inspection, "
                 "p.recall_campaign, c.commissioned_at FROM part_state p "
                 "LEFT JOIN trace_parts c ON c.handle_key = p.handle_key WHERE p.handle_key = ?", (key,))


def registered(s: Session, key: str) -> str | None:
    row = s.one("SELECT handle FROM handles WHERE handle_key = ?", (key,))
    return row["handle"] if row else None


def known_keys(s: Session, keys: list[str]) -> set[str]:
    """Which keys are in the part state or registered (chunked IN lists)."""
    found: set[str] = set()
    for chunk, marks in chunks(keys):
        for table in ("part_state", "handles"):
            rows = s.all(f"SELECT handle_key FROM {table} WHERE handle_key IN ({marks})", chunk)
            found.update(r["handle_key"] for r in rows)
    return found


def _last_move(kind: str) -> str:
    """The time of a part's last ``shipped`` or ``received`` event (its handle_events, newest first)."""
    return (f"(SELECT m.at FROM handle_events h JOIN trace_moves m ON m.seq = h.seq "
            f"WHERE h.handle_key = p.handle_key AND h.role = 'handles' AND m.kind = '{kind}' "
            f"ORDER BY h.seq DESC LIMIT 1) AS {kind}_at")


def details(s: Session, keys: list[str]) -> dict[str, Any]:
    """State and dates of parts, by key (chunked IN lists; parts without state are left out)."""
    found: dict[str, Any] = {}
    for chunk, marks in chunks(keys):
        for row in s.all("SELECT p.handle_key, p.handle, p.part_type, p.status, p.holder, p.recall_campaign, "
                         f"c.commissioned_at, {_last_move('shipped')}, {_last_move('received')} "
                         "FROM part_state p LEFT JOIN trace_parts c ON c.handle_key = p.handle_key "
                         f"WHERE p.handle_key IN ({marks})", chunk):
            found[row["handle_key"]] = row
    return found


def batch_exists(s: Session, key: str, actor_key: str, name: str) -> bool:
    """True when a transformation consumed the batch or a part was commissioned in it."""
    if s.one("SELECT 1 AS x FROM genealogy_edges WHERE child_key = ? LIMIT 1", (key,)):
        return True
    return s.one("SELECT 1 AS x FROM part_state WHERE lower(batch) = lower(?) "
                 "AND substr(handle_key, 1, ?) = ? LIMIT 1",
                 (name, len(actor_key) + 1, actor_key + "/")) is not None


# --- the part-dates tables (trace_parts, trace_moves), caught up from the log -----

_WANTED = ('%"event_type":"commissioned"%', '%"event_type":"shipped"%', '%"event_type":"received"%')


def sync_position(s: Session) -> tuple[int, int]:
    """(entries folded into the date tables, log size) in one round trip."""
    row = s.one("SELECT (SELECT seq FROM trace_sync WHERE id = 1) AS mark, "
                "(SELECT size FROM ledger_head WHERE id = 1) AS size")
    return int(row["mark"]), int(row["size"])


def dated_entries(s: Session, start: int, end: int) -> list[Any]:
    """Entries in ``[start, end)`` that may be commissioning, shipping or receiving events."""
    return s.all("SELECT seq, entry FROM ledger_entries WHERE seq >= ? AND seq < ? "
                 "AND (entry LIKE ? OR entry LIKE ? OR entry LIKE ?) ORDER BY seq",
                 (start, end, *_WANTED))


def _upsert(s: Session, head: str, tail: str, rows: list[tuple]) -> None:
    """``head VALUES (...), (...) tail`` in statements of 500 rows (one round trip each)."""
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        marks = ", ".join(["(" + ", ".join("?" * len(chunk[0])) + ")"] * len(chunk))
        s.run(f"{head} VALUES {marks} {tail}", [value for row in chunk for value in row])


def upsert_commissioned(s: Session, rows: list[tuple[str, str, str, str, int]]) -> None:
    """(handle_key, handle, part_type, commissioned_at, seq), one row per key: the latest commissioning wins."""
    _upsert(s, "INSERT INTO trace_parts (handle_key, handle, part_type, commissioned_at, commissioned_seq)",
            "ON CONFLICT (handle_key) DO UPDATE SET handle = excluded.handle, part_type = excluded.part_type, "
            "commissioned_at = excluded.commissioned_at, commissioned_seq = excluded.commissioned_seq "
            "WHERE trace_parts.commissioned_seq < excluded.commissioned_seq", rows)


def insert_moves(s: Session, rows: list[tuple[int, str, str]]) -> None:
    """(seq, kind, at) of ``shipped`` and ``received`` events (the parts are in handle_events)."""
    _upsert(s, "INSERT INTO trace_moves (seq, kind, at)", "ON CONFLICT (seq) DO NOTHING", rows)


def advance(s: Session, seq: int) -> None:
    s.run("UPDATE trace_sync SET seq = ? WHERE id = 1 AND seq < ?", (seq, seq))
