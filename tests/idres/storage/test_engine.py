"""The storage engine shim and migrations, on both backends."""
from __future__ import annotations

import threading

import pytest

from idres.storage import open_database
from idres.storage.migrations import MIGRATIONS, current_version, migrate


@pytest.fixture
def raw(database_url: str):
    database = open_database(database_url)
    yield database
    database.close()


def test_migrations_apply_once(raw) -> None:
    assert migrate(raw) == [v for v, _, _ in MIGRATIONS]
    assert migrate(raw) == []
    assert current_version(raw) == MIGRATIONS[-1][0]
    with raw.read() as s:
        assert s.one("SELECT COUNT(*) AS n FROM handles")["n"] == 0


def test_failed_write_rolls_back(raw) -> None:
    migrate(raw)
    with pytest.raises(RuntimeError):
        with raw.write() as s:
            s.run("INSERT INTO mint_sequences (prefix_key, pattern, next_seq) VALUES (?, ?, ?)",
                  ("88.118.8", "A-{seq}", 5))
            raise RuntimeError("abort")
    with raw.read() as s:
        assert s.one("SELECT COUNT(*) AS n FROM mint_sequences")["n"] == 0


def test_percent_and_question_marks_in_values_are_data(raw) -> None:
    migrate(raw)
    with raw.write() as s:
        s.run("INSERT INTO mint_sequences (prefix_key, pattern, next_seq) VALUES (?, ?, ?)",
              ("88.118.8", "100%?{seq}", 1))
    with raw.read() as s:
        row = s.one("SELECT pattern FROM mint_sequences WHERE pattern LIKE ?", ("100%",))
    assert row["pattern"] == "100%?{seq}"


def test_tuples_are_rows_by_position_in_and_out_of_transactions(raw) -> None:
    """``Session.tuples`` (the resolution path) gives the same data as ``all``, by position."""
    migrate(raw)
    with raw.write() as s:
        s.many("INSERT INTO mint_sequences (prefix_key, pattern, next_seq) VALUES (?, ?, ?)",
               [("88.118.8", "B-{seq}", 7), ("88.118.8", "A-{seq}", 3)])
    sql = "SELECT pattern, next_seq FROM mint_sequences WHERE prefix_key = ? ORDER BY pattern"
    for session in (raw.lookup, raw.read):
        with session() as s:
            rows = s.tuples(sql, ("88.118.8",))
            named = s.all(sql, ("88.118.8",))
        assert [(r[0], r[1]) for r in rows] == [("A-{seq}", 3), ("B-{seq}", 7)]
        assert [(r["pattern"], r["next_seq"]) for r in named] == [(r[0], r[1]) for r in rows]


def test_concurrent_sequence_reservations_never_overlap(database_url: str) -> None:
    """Writers in several threads (own connections) reserve disjoint ranges."""
    from idres.storage.records import next_mint_sequence

    setup = open_database(database_url)
    migrate(setup)
    setup.close()
    starts: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        database = open_database(database_url)
        try:
            for _ in range(10):
                with database.write() as s:
                    starts.append(next_mint_sequence(s, "88.118.8", "P-{seq}", 7))
        except BaseException as err:  # surfaced below
            errors.append(err)
        finally:
            database.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(starts) == list(range(1, 1 + 7 * 40, 7))


def test_refresh_statistics_analyses_this_schemas_tables(raw) -> None:
    """After a bulk load PostgreSQL's planner gets statistics at once (bench_cbam: 19 s -> under 1 s)."""
    if raw.dialect != "postgres":
        pytest.skip("SQLite plans without statistics (refresh_statistics does nothing there)")
    migrate(raw)
    with raw.write() as s:
        s.many("INSERT INTO audit_log (at, actor, action, handle, detail) VALUES (?, ?, ?, ?, ?)",
               [("2026-11-30T00:00:00Z", "t", "bulk", f"88.118.8/B{i}", "{}") for i in range(500)])
    raw.refresh_statistics()
    with raw.read() as s:
        row = s.one("SELECT last_analyze FROM pg_stat_user_tables "
                    "WHERE schemaname = current_schema() AND relname = 'audit_log'")
    assert row is not None and row["last_analyze"] is not None
