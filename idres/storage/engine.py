"""Database engines for SQLite (embedded default) and PostgreSQL (production).

Queries are written once, with ``?`` placeholders; the PostgreSQL engine
rewrites them to psycopg's ``%s`` style (the small dialect shim, in the manner
of Synapse's storage engines).  Writes on SQLite are serialized with
``BEGIN IMMEDIATE`` in WAL mode; on PostgreSQL every write is one transaction.
"""
from __future__ import annotations

import functools
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool


IN_LIST = 500  # keys per "IN (?, ...)" list: well within both backends' parameter limits


def chunks(keys: Sequence[Any], size: int = IN_LIST) -> Iterator[tuple[list[Any], str]]:
    """``keys`` in slices of at most ``size``, each with its ``?, ?, ...`` marks."""
    for start in range(0, len(keys), size):
        part = list(keys[start:start + size])
        yield part, ", ".join("?" * len(part))

Row = Any  # sqlite3.Row or dict: both index by column name
Params = Sequence[Any]

INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)


class Session:
    """A connection inside one transaction, with a tiny query API."""

    def __init__(self, conn: Any, translate: Any) -> None:
        self._conn = conn
        self._translate = translate

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or ``None``."""
        cur = self._conn.execute(self._translate(sql), params)
        return cur.fetchone()

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a query."""
        return list(self._conn.execute(self._translate(sql), params).fetchall())

    def tuples(self, sql: str, params: Params = ()) -> list[Sequence[Any]]:
        """All rows of a query, indexed by position only (cheaper: the resolution hot path)."""
        return self._conn.execute(self._translate(sql), params).fetchall()

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a statement; returns the number of rows it changed."""
        return self._conn.execute(self._translate(sql), params).rowcount

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        """Execute one statement for many parameter rows."""
        cur = self._conn.cursor()
        cur.executemany(self._translate(sql), rows)


class PostgresSession(Session):
    """A :class:`Session` on a psycopg connection."""

    def tuples(self, sql: str, params: Params = ()) -> list[Sequence[Any]]:
        # Plain tuples skip the per-row dict that the connection's dict_row builds in Python.
        return self._conn.cursor(row_factory=tuple_row).execute(self._translate(sql), params).fetchall()


class Database(ABC):
    """A database the node stores its records in."""

    dialect: str

    @abstractmethod
    def read(self) -> Any:
        """Context manager yielding a :class:`Session` for reads."""

    def snapshot(self) -> Any:
        """Like :meth:`read`, with every statement seeing one snapshot (reports over many reads).

        A SQLite read transaction already does (WAL: from its first read on).
        """
        return self.read()

    @abstractmethod
    def write(self) -> Any:
        """Context manager yielding a :class:`Session` in a write transaction."""

    @abstractmethod
    def lookup(self) -> Any:
        """Context manager yielding a :class:`Session` outside any transaction.

        For single-statement reads on the hot path: no BEGIN/COMMIT round trips.
        """

    @abstractmethod
    def refresh_statistics(self) -> None:
        """Refresh the query planner's statistics (after a bulk load or replay)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def ddl(self, sql: str) -> str:
        """Fill the dialect placeholders of a migration statement."""
        return sql.format(**DDL[self.dialect])


DDL = {
    "sqlite": {"serial_pk": "INTEGER PRIMARY KEY AUTOINCREMENT", "binary": "COLLATE BINARY",
               "dialect": "sqlite"},
    "postgres": {"serial_pk": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "binary": 'COLLATE "C"',
                 "dialect": "postgres"},
}


def _same(sql: str) -> str:
    return sql


@functools.lru_cache(maxsize=512)
def _to_psycopg(sql: str) -> str:
    # A literal % must be doubled once parameters are passed.
    return sql.replace("%", "%%").replace("?", "%s")


class SQLiteDatabase(Database):
    """A SQLite file, one connection per thread (and per process after fork)."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before we answer (WAL with NORMAL survives a killed
            # process but may lose the last commits to an OS crash or power cut).
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[Session]:
        conn = self._connection()
        conn.execute(begin)
        try:
            yield Session(conn, _same)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def read(self) -> Any:
        return self._transaction("BEGIN")

    @contextmanager
    def lookup(self) -> Iterator[Session]:
        yield Session(self._connection(), _same)

    def write(self) -> Any:
        return self._transaction("BEGIN IMMEDIATE")

    def refresh_statistics(self) -> None:
        """Nothing: SQLite plans our queries from its index heuristics (no sqlite_stat1), which
        every SQLite measurement in docs/benchmarks.md was made with; ANALYZE could change them."""

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class PostgresDatabase(Database):
    """A PostgreSQL server through a psycopg connection pool.

    The pool is opened by the app factory, i.e. after gunicorn has forked,
    so no worker inherits another's sockets.
    """

    dialect = "postgres"

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        # Autocommit connections: transactions are explicit (conn.transaction()),
        # so lookups need no BEGIN/COMMIT round trips.
        self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True,
                                   kwargs={"row_factory": dict_row, "autocommit": True})

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self.pool.connection() as conn:
            with conn.transaction():
                yield PostgresSession(conn, _to_psycopg)

    @contextmanager
    def lookup(self) -> Iterator[Session]:
        with self.pool.connection() as conn:
            yield PostgresSession(conn, _to_psycopg)

    def read(self) -> Any:
        return self._transaction()

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """REPEATABLE READ: under READ COMMITTED each statement would see later commits."""
        with self._transaction() as s:
            s.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield s

    def write(self) -> Any:
        return self._transaction()

    def refresh_statistics(self) -> None:
        """After a bulk load: ANALYZE this schema's tables now rather than when autovacuum
        gets to them; until then the planner scans whole tables for per-batch genealogy reads
        (19 s instead of under 1 s in bench_cbam on a freshly loaded cluster)."""
        with self.lookup() as s:
            tables = [r["tablename"] for r in s.all(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")]
            for table in tables:
                s.run(f'ANALYZE "{table}"')  # names from the catalogue, quoted

    def close(self) -> None:
        self.pool.close()


def open_database(url: str, pool_size: int = 4) -> Database:
    """Open the database named by ``IDRES_DATABASE``: a path or a postgresql:// URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url, pool_size)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///"):]
    return SQLiteDatabase(url)
