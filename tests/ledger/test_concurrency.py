"""Concurrency and crash tests for ledger.log, with real processes on both backends.

Child processes run this module (``python -m tests.ledger.test_concurrency``)
and talk to the test over stdin/stdout: they report each append only after
its transaction committed, so the test knows exactly which entries were
acknowledged.  Every wait is bounded.
"""
from __future__ import annotations

import json
import queue
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from ledger import store
from ledger.log import Log
from ledger.note import Signer
from ledger.verify import verify_database
from tests.ledger.conftest import ORIGIN, LedgerDB, append_events, connect, event

REPO = Path(__file__).resolve().parents[2]
WORKERS, BATCHES, BATCH = 4, 12, 40
CRASH_BATCH = 10_000
TIMEOUT = 30.0
SPAWNED: list[subprocess.Popen[str]] = []


# --- the child side -------------------------------------------------------------


def _say(message: Any) -> None:
    print(json.dumps(message), flush=True)


class _StallBeforeCheckpoint:
    """A session that stops, mid-transaction, just before the checkpoint is written."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def run(self, sql: str, params: Any = ()) -> int:
        if sql.startswith("INSERT INTO ledger_checkpoints"):
            _say("stalled")  # everything but the checkpoint and COMMIT is done
            time.sleep(4 * TIMEOUT)
        return self.session.run(sql, params)


def child(args: dict[str, Any]) -> None:
    conn = connect(args["kind"], args["target"])
    log = Log(Signer(args["key"]), ORIGIN)
    if args["mode"] == "append":
        _say("ready")
        if sys.stdin.readline().strip() != "go":
            return
        w, pause = args["worker"], random.Random(args["worker"])
        _say({"started": time.time()})
        for b in range(args["batches"]):
            batch = [event(i, f"w{w}-b{b}") for i in range(args["size"])]
            batch.insert(b % len(batch), event(b, "shared"))  # every worker sends it
            with conn.write() as s:
                result = log.append(s, batch)
            _say([[r.entry_id, r.seq, r.duplicate] for r in result.receipts])
            time.sleep(pause.uniform(0, 0.01))  # SQLite's busy wait is unfair without a gap
        _say({"finished": time.time()})
        return
    events = [event(i, args["prefix"]) for i in range(CRASH_BATCH)]
    _say("start")
    with conn.write() as s:
        store.lock_head(s)
        _say("begun")
        log.append(_StallBeforeCheckpoint(s) if args["mode"] == "stall" else s, events)
    _say("committed")
    time.sleep(4 * TIMEOUT)  # wait to be killed


# --- the test side --------------------------------------------------------------


class Child:
    """A child process with a bounded line reader on its stdout."""

    def __init__(self, db: LedgerDB, signer: Signer, **args: Any) -> None:
        args |= {"kind": db.kind, "target": db.target, "key": signer.private_key}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.ledger.test_concurrency", json.dumps(args)],
                                     cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        SPAWNED.append(self.proc)
        self.lines: queue.Queue[Any] = queue.Queue()
        self.seen: list[Any] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def expect(self, wanted: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                pytest.fail(f"child did not say {wanted!r} within {timeout}s")
            if message is None:
                pytest.fail(f"child exited before {wanted!r}: {self.stderr()}")
            self.seen.append(message)
            if message == wanted:
                return

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self) -> list[Any]:
        """Wait for a clean exit; every message it printed."""
        try:
            code = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("child did not finish in time")
        assert code == 0, self.stderr()
        while (message := self.lines.get(timeout=TIMEOUT)) is not None:
            self.seen.append(message)
        return self.seen

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL
        self.proc.wait(timeout=TIMEOUT)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "(still running)"
        return self.proc.stderr.read()


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    """Whatever a failing test leaves running is killed (by pid, SIGKILL)."""
    yield
    while SPAWNED:
        proc = SPAWNED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)


def _verified(db: LedgerDB, signer: Signer) -> tuple[int, list[Any]]:
    with db.read() as s:
        size = verify_database(s, [signer.verifier()], ORIGIN)
        return size, store.entries(s, 0, size)


# --- (a) concurrent appenders end with one linear log -----------------------------


def test_concurrent_processes_build_one_linear_log(ledger_db: LedgerDB, signer: Signer) -> None:
    children = [Child(ledger_db, signer, mode="append", worker=w, batches=BATCHES, size=BATCH)
                for w in range(WORKERS)]
    for c in children:
        c.expect("ready")
    for c in children:
        c.send("go")
    messages = [c.finish() for c in children]
    receipts = [r for seen in messages for message in seen if isinstance(message, list) for r in message]
    started = max(m["started"] for seen in messages for m in seen if isinstance(m, dict) and "started" in m)
    finished = min(m["finished"] for seen in messages for m in seen if isinstance(m, dict) and "finished" in m)
    assert started < finished, "the appenders did not run at the same time"
    fresh = [(entry_id, seq) for entry_id, seq, duplicate in receipts if not duplicate]
    acknowledged = {entry_id for entry_id, _, _ in receipts}
    assert len(acknowledged) == WORKERS * BATCHES * BATCH + BATCHES

    size, rows = _verified(ledger_db, signer)
    assert size == len(acknowledged) == len(fresh)
    assert sorted(seq for _, seq in fresh) == list(range(size))  # no seq handed out twice
    stored = {row["entry_id"]: int(row["seq"]) for row in rows}
    assert stored == dict(fresh)
    for entry_id, seq, _ in receipts:  # duplicates point at the first writer's entry
        assert stored[entry_id] == seq
    assert sum(1 for entry_id, _ in fresh if entry_id.startswith("shared-")) == BATCHES
    writers = [row["entry_id"].split("-")[0] for row in rows if not row["entry_id"].startswith("shared-")]
    switches = sum(1 for a, b in zip(writers, writers[1:]) if a != b)
    assert switches >= WORKERS, "the appenders' entries did not interleave"
    with ledger_db.read() as s:
        sizes = [int(c["size"]) for c in store.checkpoints(s)]
    assert sizes == sorted(sizes) and sizes[-1] == size
    assert len(sizes) == WORKERS * BATCHES  # one signed checkpoint per committed append


# --- (b) a killed appender leaves all of its batch or none --------------------------


def _size(db: LedgerDB) -> int:
    with db.read() as s:
        return store.head(s)[0]


def test_killed_mid_transaction_leaves_nothing(ledger_db: LedgerDB, log: Log, signer: Signer) -> None:
    append_events(ledger_db, log, 5, 5)
    victim = Child(ledger_db, signer, mode="stall", prefix="crash")
    victim.expect("stalled")  # 10,000 entries, nodes and head written, not committed
    victim.kill()
    size, _ = _verified(ledger_db, signer)
    assert size == 5
    with ledger_db.read() as s:
        assert store.entries_by_id(s, ["crash-0", f"crash-{CRASH_BATCH - 1}"]) == {}
        assert int(s.one("SELECT COUNT(*) AS n FROM ledger_nodes")["n"]) == 5 + 2 + 1
    other = ledger_db.connect()  # the lock is released: appending works again
    with other.write() as s:
        result = log.append(s, [event(i, "crash") for i in range(3)])
    assert [r.seq for r in result.receipts] == [5, 6, 7]
    assert _verified(ledger_db, signer)[0] == 8


def test_killed_at_random_moments_all_or_nothing(ledger_db: LedgerDB, log: Log, signer: Signer) -> None:
    append_events(ledger_db, log, 3, 3)
    first = Child(ledger_db, signer, mode="commit", prefix="a0")
    first.expect("begun")
    began = time.monotonic()
    first.expect("committed")  # killed after COMMIT: the whole batch stays
    duration = time.monotonic() - began
    first.kill()
    expected = 3 + CRASH_BATCH
    assert _verified(ledger_db, signer)[0] == expected
    rng = random.Random(20261130)
    mid_transaction = 0
    for attempt in range(1, 7):
        victim = Child(ledger_db, signer, mode="commit", prefix=f"a{attempt}")
        victim.expect("begun")
        time.sleep(duration * rng.uniform(0.05, 0.9))
        committed_before_kill = not victim.lines.empty()
        victim.kill()
        size, rows = _verified(ledger_db, signer)
        assert size in (expected, expected + CRASH_BATCH)
        if size > expected:
            assert {r["entry_id"] for r in rows[expected:]} == {f"a{attempt}-{i}" for i in range(CRASH_BATCH)}
            expected = size
        elif not committed_before_kill:  # it had begun and not committed: killed mid-transaction
            mid_transaction += 1
            if mid_transaction == 2:
                break
    assert mid_transaction == 2, "too few kills landed inside the transaction"


if __name__ == "__main__":
    child(json.loads(sys.argv[1]))
