"""SQL for carbon reference data and the reads of the embedded-emissions roll-up.

Reference data (installations, part types, CBAM default values) lives in
its own tables; the roll-up reads the ledger projections (``carbon_records``,
``genealogy_edges``, ``part_state``) and, for a part's commissioning
installation, the logged event itself.  Decimal quantities are stored as
text so both backends keep them exact.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from idres.storage.engine import Session, chunks

SCHEMA: list[str] = [
    """CREATE TABLE carbon_installations (
        installation_key TEXT {binary} PRIMARY KEY,
        installation_id TEXT NOT NULL,
        name TEXT NOT NULL,
        country TEXT NOT NULL,
        city TEXT NOT NULL,
        unlocode TEXT,
        latitude TEXT,
        longitude TEXT,
        operator TEXT,
        owner TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE carbon_part_types (
        owner_key TEXT {binary} NOT NULL,
        code_key TEXT {binary} NOT NULL,
        owner TEXT NOT NULL,
        code TEXT NOT NULL,
        description TEXT,
        cn_code TEXT NOT NULL,
        net_mass_g BIGINT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (owner_key, code_key))""",
    """CREATE TABLE cbam_default_values (
        country TEXT NOT NULL,
        cn_code TEXT NOT NULL,
        direct TEXT NOT NULL,
        indirect TEXT NOT NULL,
        source TEXT NOT NULL,
        loaded_at TEXT NOT NULL,
        PRIMARY KEY (country, cn_code))""",
]

INSTALLATION_COLUMNS = ("installation_id", "name", "country", "city", "unlocode", "latitude",
                        "longitude", "operator", "owner")
PART_TYPE_COLUMNS = ("owner", "code", "description", "cn_code", "net_mass_g")


# --- installations --------------------------------------------------------

def installation(s: Session, key: str) -> Any:
    return s.one("SELECT * FROM carbon_installations WHERE installation_key = ?", (key,))


def installations(s: Session) -> list[Any]:
    return s.all("SELECT * FROM carbon_installations ORDER BY installation_key")


def upsert_installation(s: Session, key: str, row: dict[str, Any], at: str) -> None:
    """Insert or replace an installation (every column of :data:`INSTALLATION_COLUMNS`)."""
    values = [row.get(c) for c in INSTALLATION_COLUMNS]
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*INSTALLATION_COLUMNS, "updated_at"))
    s.run(f"INSERT INTO carbon_installations (installation_key, {', '.join(INSTALLATION_COLUMNS)}, "
          f"updated_at) VALUES (?, {', '.join('?' * len(values))}, ?) "
          f"ON CONFLICT (installation_key) DO UPDATE SET {updates}", (key, *values, at))


# --- part types -----------------------------------------------------------

def part_type(s: Session, owner_key: str, code_key: str) -> Any:
    return s.one("SELECT * FROM carbon_part_types WHERE owner_key = ? AND code_key = ?",
                 (owner_key, code_key))


def part_types(s: Session, owner_key: str | None = None) -> list[Any]:
    if owner_key is None:
        return s.all("SELECT * FROM carbon_part_types ORDER BY owner_key, code_key")
    return s.all("SELECT * FROM carbon_part_types WHERE owner_key = ? ORDER BY code_key", (owner_key,))


def upsert_part_type(s: Session, keys: tuple[str, str], row: dict[str, Any], at: str) -> None:
    """Insert or replace a part type (every column of :data:`PART_TYPE_COLUMNS`)."""
    values = [row.get(c) for c in PART_TYPE_COLUMNS]
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*PART_TYPE_COLUMNS, "updated_at"))
    s.run(f"INSERT INTO carbon_part_types (owner_key, code_key, {', '.join(PART_TYPE_COLUMNS)}, "
          f"updated_at) VALUES (?, ?, {', '.join('?' * len(values))}, ?) "
          f"ON CONFLICT (owner_key, code_key) DO UPDATE SET {updates}", (*keys, *values, at))


# --- default values -------------------------------------------------------

def default_values(s: Session) -> list[Any]:
    return s.all("SELECT country, cn_code, direct, indirect, source, loaded_at "
                 "FROM cbam_default_values ORDER BY country, cn_code")


def replace_default_values(s: Session, rows: Iterable[tuple[str, str, str, str, str]], at: str) -> None:
    """Swap the whole table for ``rows`` of (country, cn_code, direct, indirect, source)."""
    s.run("DELETE FROM cbam_default_values")
    s.many("INSERT INTO cbam_default_values (country, cn_code, direct, indirect, source, loaded_at) "
           "VALUES (?, ?, ?, ?, ?, ?)", [(*row, at) for row in rows])


# --- roll-up reads --------------------------------------------------------

def carbon_records(s: Session, subject_key: str) -> list[Any]:
    """The ``carbon.recorded`` projections of one handle or batch, in log order."""
    return s.all("SELECT seq, subject, installation_id, period, direct_g, indirect_g, "
                 "activity_level_g, method FROM carbon_records WHERE subject_key = ? ORDER BY seq",
                 (subject_key,))


def carbon_records_of(s: Session, subject_keys: Sequence[str]) -> dict[str, list[Any]]:
    """:func:`carbon_records` of many subjects in a few queries (subjects without any left out)."""
    found: dict[str, list[Any]] = {}
    for part, marks in chunks(subject_keys):
        for row in s.all("SELECT seq, subject_key, subject, installation_id, period, direct_g, indirect_g, "
                         "activity_level_g, method FROM carbon_records "
                         f"WHERE subject_key IN ({marks}) ORDER BY seq", part):
            found.setdefault(row["subject_key"], []).append(row)
    return found


def parts(s: Session, handle_keys: Sequence[str], own_records: bool = False) -> dict[str, Any]:
    """Part state rows (handle, part type, batch, net mass) by handle key.

    With ``own_records`` each row also says (1 or 0) whether the part has carbon records
    of its own, so a report over many parts need not read records per part.
    """
    columns = "p.handle_key, p.handle, p.part_type, p.batch, p.net_mass_g"
    if own_records:
        columns += (", CASE WHEN EXISTS (SELECT 1 FROM carbon_records c WHERE c.subject_key = p.handle_key) "
                    "THEN 1 ELSE 0 END AS own_records")
    found: dict[str, Any] = {}
    for part, marks in chunks(handle_keys):
        for row in s.all(f"SELECT {columns} FROM part_state p WHERE p.handle_key IN ({marks})", part):
            found[row["handle_key"]] = row
    return found


def batch_members(s: Session, batch: str) -> list[Any]:
    """Parts commissioned in a batch of this name (any maker: the caller filters by prefix)."""
    return s.all("SELECT handle_key, handle, part_type, batch, net_mass_g FROM part_state "
                 "WHERE lower(batch) = ? ORDER BY handle_key", (batch.lower(),))


def transformation_edges(s: Session, output_keys: Sequence[str]) -> list[Any]:
    """Every edge of every transformation event that made one of ``output_keys``.

    All of an event's outputs come back, so the caller can tell what share
    of the inputs went into the outputs it asked about.
    """
    # Two steps: the events first, then their edges by primary key.  One statement with
    # a subquery let PostgreSQL misjudge how many events match and scan the whole table.
    seqs: set[int] = set()
    for part, marks in chunks(output_keys):
        seqs.update(int(r["created_seq"]) for r in s.all(
            "SELECT DISTINCT created_seq FROM genealogy_edges WHERE kind = 'transformation' "
            f"AND parent_key IN ({marks})", part))
    rows: list[Any] = []
    for part, marks in chunks(sorted(seqs)):  # type: ignore[arg-type]
        rows += s.all("SELECT created_seq, parent_key, child_key, child, consumed_mass_g FROM genealogy_edges "
                      f"WHERE kind = 'transformation' AND created_seq IN ({marks})", part)
    return sorted(rows, key=lambda r: (r["created_seq"], r["parent_key"], r["child_key"]))


def assembly_children(s: Session, parent_keys: Sequence[str]) -> list[Any]:
    """The components currently assembled into ``parent_keys`` (open assembly edges)."""
    out: list[Any] = []
    for part, marks in chunks(parent_keys):
        out += s.all("SELECT created_seq, parent_key, child_key, child FROM genealogy_edges "
                     f"WHERE kind = 'assembly' AND valid_to IS NULL AND parent_key IN ({marks})", part)
    return sorted(out, key=lambda r: (r["created_seq"], r["child_key"]))


def subject_entries(s: Session, handle_keys: Sequence[str]) -> list[Any]:
    """The logged events naming ``handle_keys`` as their ``handle`` (commissioned, carbon.recorded)."""
    out: list[Any] = []
    for part, marks in chunks(handle_keys):
        out += s.all("SELECT h.handle_key, e.seq, e.entry FROM handle_events h "
                     "JOIN ledger_entries e ON e.seq = h.seq "
                     f"WHERE h.role = 'handle' AND h.handle_key IN ({marks})", part)
    return sorted(out, key=lambda r: r["seq"])
