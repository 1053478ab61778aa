"""Fixtures for the ledger package on real databases, without importing ``idres``.

``ledger_db`` is an empty database holding :data:`ledger.store.SCHEMA`, once
on a SQLite file (WAL, ``BEGIN IMMEDIATE`` for writes) and once on a fresh
PostgreSQL schema (psycopg 3, ``?`` rewritten to ``%s``, rows as dicts).
``session_factory`` opens further connections to the same database; child
processes rebuild one from ``LedgerDB.kind`` and ``LedgerDB.target`` with
:func:`connect`.  PostgreSQL comes from ``IDRES_TEST_POSTGRES``; when it is
unreachable the PostgreSQL cases skip, except under ``CI=true``, where they fail.
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import psycopg
import pytest
from psycopg.rows import dict_row

from ledger.log import Log
from ledger.note import Signer
from ledger.store import SCHEMA

PG_URL = os.environ.get("IDRES_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
ORIGIN = "ledger.test/log"


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row)}


def _to_psycopg(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s``; literal ``%`` doubled first."""
    return sql.replace("%", "%%").replace("?", "%s")


class Session:
    """The ledger's Session protocol over one DB-API connection."""

    def __init__(self, conn: Any, translate: Callable[[str], str]) -> None:
        self.conn = conn
        self.translate = translate

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self.translate(sql), tuple(params)).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.conn.execute(self.translate(sql), tuple(params)).fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.conn.execute(self.translate(sql), tuple(params)).rowcount)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            cursor = self.conn.cursor()
            try:
                cursor.executemany(self.translate(sql), batch)
            finally:
                cursor.close()


class Connection:
    """One connection with ``read()``/``write()`` transactions yielding a :class:`Session`."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind = kind
        if kind == "sqlite":
            conn = sqlite3.connect(target, isolation_level=None, timeout=30)
            conn.row_factory = _dict_row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self.conn: Any = conn
            self.translate: Callable[[str], str] = lambda sql: sql
        else:
            self.conn = psycopg.connect(target, autocommit=True, row_factory=dict_row,
                                        connect_timeout=5)
            self.translate = _to_psycopg

    @contextmanager
    def _sqlite(self, begin: str) -> Iterator[Session]:
        self.conn.execute(begin)
        try:
            yield Session(self.conn, self.translate)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Session]:
        if self.kind == "sqlite":
            with self._sqlite("BEGIN") as s:
                yield s
        else:
            with self.conn.transaction():
                yield Session(self.conn, self.translate)

    @contextmanager
    def write(self) -> Iterator[Session]:
        if self.kind == "sqlite":
            with self._sqlite("BEGIN IMMEDIATE") as s:
                yield s
        else:
            with self.conn.transaction():
                yield Session(self.conn, self.translate)

    def close(self) -> None:
        self.conn.close()


def connect(kind: str, target: str) -> Connection:
    return Connection(kind, target)


class LedgerDB(Connection):
    """The test's main connection; ``connect()`` opens another to the same database."""

    def __init__(self, kind: str, target: str) -> None:
        super().__init__(kind, target)
        self.target = target
        self.others: list[Connection] = []

    def connect(self) -> Connection:
        other = Connection(self.kind, self.target)
        self.others.append(other)
        return other

    def close(self) -> None:
        for other in self.others:
            other.close()
        super().close()


def create_schema(db: Connection) -> None:
    with db.write() as s:
        for statement in SCHEMA:
            s.run(statement)


@pytest.fixture(scope="session")
def ledger_pg_url() -> str:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            pass
    except psycopg.Error as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unreachable at {PG_URL} under CI: {err}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {err}")
    return PG_URL


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerDB]:
    """An empty ledger database on each backend."""
    if request.param == "sqlite":
        db = LedgerDB("sqlite", str(tmp_path / "ledger.db"))
        create_schema(db)
        yield db
        db.close()
        return
    base = request.getfixturevalue("ledger_pg_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    db = LedgerDB("postgres", f"{base}{sep}options=-csearch_path%3D{schema}")
    try:
        create_schema(db)
        yield db
    finally:
        db.close()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def session_factory(ledger_db: LedgerDB) -> Callable[[], Connection]:
    """Opens another connection to ``ledger_db`` (closed with it)."""
    return ledger_db.connect


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def log(signer: Signer) -> Log:
    return Log(signer, ORIGIN)


def event(n: int, prefix: str = "ev", **extra: Any) -> dict[str, Any]:
    """A small lifecycle-ish event with a unique id."""
    return {"event_id": f"{prefix}-{n}", "type": "ObjectEvent", "part": f"88.118.8/P{n}",
            "mass_g": n * 7, "note": "ünïcode ✓", **extra}


def append_events(db: Connection, log: Log, count: int, batch: int, prefix: str = "ev") -> None:
    """Append ``count`` events in batches of ``batch``, one transaction per batch."""
    for start in range(0, count, batch):
        with db.write() as s:
            log.append(s, [event(n, prefix) for n in range(start, min(count, start + batch))])
