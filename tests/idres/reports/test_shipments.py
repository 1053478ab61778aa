"""The shipments projection: written with the append, rebuilt by replay, filled by migration 7."""
from __future__ import annotations

from idres.events.service import replay
from idres.storage import projections
from idres.storage.migrations import migrate
from idres.storage.shipments import BACKFILL, second_text
from tests.conftest import ENT, OTHER, OTHER_AUTH
from tests.idres.events import accepted, event, setup_parts

TIMES = ("2026-11-02T08:00:00.999999+08:00", "2026-12-31T23:59:59Z", "2027-01-01T00:30:00+01:00")


def rows(db) -> list[tuple]:
    with db.read() as s:
        return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in s.all(
            "SELECT seq, handle_key, handle, actor_key, actor, from_party, to_party_key, to_party, event_time "
            "FROM shipments ORDER BY seq, handle_key")]


def ship_some(client, db, config) -> tuple[list[str], list[int]]:
    mine, theirs = setup_parts(client, db, config, ent=3, other=1)
    lower = mine[2].lower()  # another spelling of the same handle: one key
    seqs = [e["seq"] for e in accepted(client, {"events": [
        event("shipped", TIMES[0], handles=[mine[0], mine[1]], from_party=ENT, to_party="EU-Imp-1"),
        event("shipped", TIMES[1], handles=[lower], from_party=ENT, to_party="eu-imp-1"),
        event("received", TIMES[1], handles=[mine[0]], from_party=ENT, to_party=ENT)]})["entries"]]
    seqs += [e["seq"] for e in accepted(client, {"events": [
        event("shipped", TIMES[2], OTHER, handles=theirs, from_party=OTHER, to_party="EU-IMP-2")]},
        OTHER_AUTH)["entries"]]
    return mine + theirs, seqs


def test_one_row_per_shipped_handle_in_utc_seconds(client, db, config):
    handles, seqs = ship_some(client, db, config)
    mine, theirs = handles[:3], handles[3:]
    assert rows(db) == sorted([
        (seqs[0], mine[0].lower(), mine[0], ENT, ENT, ENT, "eu-imp-1", "EU-Imp-1", "2026-11-02T00:00:00Z"),
        (seqs[0], mine[1].lower(), mine[1], ENT, ENT, ENT, "eu-imp-1", "EU-Imp-1", "2026-11-02T00:00:00Z"),
        (seqs[1], mine[2].lower(), mine[2].lower(), ENT, ENT, ENT, "eu-imp-1", "eu-imp-1", "2026-12-31T23:59:59Z"),
        (seqs[3], theirs[0].lower(), theirs[0], OTHER, OTHER, OTHER, "eu-imp-2", "EU-IMP-2",
         "2026-12-31T23:30:00Z")])  # received events are no shipments
    assert second_text("2026-11-02T08:00:00.999999+08:00") == "2026-11-02T00:00:00Z"  # dropped, not rounded


def test_replay_rebuilds_the_same_rows(client, db, config):
    ship_some(client, db, config)
    with db.read() as s:
        before = projections.dump(s)
    assert before["shipments"]
    with db.write() as s:
        s.run("DELETE FROM shipments")
    replay(db)
    with db.read() as s:
        assert projections.dump(s) == before


def test_the_migration_fills_the_table_from_the_log(client, db, config):
    """An upgraded database: events logged before migration 7 get the rows a replay would write."""
    ship_some(client, db, config)
    want = rows(db)
    with db.write() as s:
        s.run("DROP TABLE shipments")
        s.run("DELETE FROM schema_migrations WHERE version = 7")
    assert migrate(db) == [7]
    assert rows(db) == want
    with db.write() as s:  # the backfill statement alone, on this dialect
        s.run("DELETE FROM shipments")
        s.run(db.ddl(BACKFILL))
    assert rows(db) == want


def test_a_report_snapshot_does_not_see_later_commits(client, db, config):
    """Reports read in Database.snapshot(): a shipment committed meanwhile (another connection) stays
    out of it, on SQLite (WAL read transaction) and PostgreSQL (REPEATABLE READ)."""
    import threading

    handles, _ = ship_some(client, db, config)
    with db.snapshot() as s:
        before = s.one("SELECT COUNT(*) AS n FROM shipments")["n"]
        if db.dialect == "postgres":
            assert s.one("SHOW transaction_isolation")["transaction_isolation"] == "repeatable read"
        writer = threading.Thread(target=lambda: accepted(client, event(
            "shipped", TIMES[1], handles=[handles[0]], from_party=ENT, to_party="EU-IMP-3")))
        writer.start()
        writer.join()
        assert s.one("SELECT COUNT(*) AS n FROM shipments")["n"] == before
    with db.snapshot() as s:
        assert s.one("SELECT COUNT(*) AS n FROM shipments")["n"] == before + 1
