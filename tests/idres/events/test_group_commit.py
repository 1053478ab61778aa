"""Group commit: concurrent requests share a transaction, and each keeps its own outcome."""
from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from typing import Any

import pytest

from idres.api.ledger import current_committer
from idres.auth import Identity
from idres.cli import gunicorn_argv
from idres.errors import HandleError
from idres.events import service
from idres.events.group import GroupCommitter
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.note import Verifier, open_checkpoint
from ledger.verify import verify_database
from tests.conftest import ENT, ENT_AUTH, row_count
from tests.idres.events import counts, event, setup_parts

LATER = "2026-11-03T08:00:00+08:00"


def inspected(handle: str) -> dict[str, Any]:
    return event("inspected", LATER, handles=[handle], result="conformant")


class Gate:
    """Holds the first (single-request) commit until ``waiting`` requests have queued behind it.

    That makes the grouping deterministic: the requests queued meanwhile
    are committed as one group, through ``together``, which records them.
    """

    def __init__(self, committer: GroupCommitter, waiting: int) -> None:
        self.committer, self.waiting = committer, waiting
        self.groups: list[list[Any]] = []
        self.entered, self.released = threading.Event(), threading.Event()

    def single(self, db: Any, log: Any, prepared: Any) -> dict:
        if not self.released.is_set():
            self.entered.set()
            while self.committer.waiting() < self.waiting:
                threading.Event().wait(0.005)
            self.released.set()
        return service.commit_prepared(db, log, prepared)

    def together(self, db: Any, log: Any, group: list) -> list[dict]:
        self.groups.append(group)
        return service.commit_together(db, log, group)


def committer_with_gate(app, waiting: int, monkeypatch) -> tuple[GroupCommitter, Gate]:
    with app.test_request_context():
        base = current_committer()
    committer = GroupCommitter(base.db, base.log, base.max_events)
    gate = Gate(committer, waiting)
    committer._together = gate.together
    monkeypatch.setattr("idres.events.group.commit_prepared", gate.single)
    return committer, gate


def identity(app) -> Identity:
    with app.test_request_context(headers=ENT_AUTH):
        from idres.api.context import caller
        return caller()


def run_concurrently(committer: GroupCommitter, gate: Gate, config, who, bodies: list[Any]) -> list[Any]:
    """Each body committed from its own thread; the answer or the raised error, in order."""
    outcomes: list[Any] = [None] * len(bodies)
    prepared = [service.prepare_events(config, who, body) for body in bodies]  # all valid requests

    def one(k: int) -> None:
        try:
            outcomes[k] = committer.commit(prepared[k])
        except HandleError as err:
            outcomes[k] = err

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(bodies))]
    threads[0].start()  # the first leads alone and is held at the gate
    assert gate.entered.wait(30)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def verified_size(app, db) -> int:
    """The whole log verified (chain, nodes, every checkpoint signature) with the node's key."""
    log = app.extensions["idres.log"]
    with db.read() as s:
        return verify_database(s, [Verifier(log.signer.verifier_key)], log.origin)


def checkpoint_covers(client, answer: dict) -> None:
    """The answer's checkpoint is signed by the node key and includes every entry it acknowledges."""
    key = client.get("/api/ledger/key").json
    cp = open_checkpoint(answer["checkpoint"]["note"], [Verifier(key["verifierKey"])], key["origin"])
    assert cp.size == answer["checkpoint"]["size"]
    for entry in answer["entries"]:
        proof = client.get(f"/api/ledger/proof/inclusion?entry={entry['seq']}&size={cp.size}").json
        raw = client.get(f"/api/ledger/entries/{entry['seq']}").json["entry"].encode()
        verify_inclusion(leaf_hash(raw), entry["seq"], cp.size,
                         [base64.b64decode(p) for p in proof["proof"]], cp.root)


def test_concurrent_requests_share_one_transaction_and_checkpoint(client, app, db, config, monkeypatch):
    parts, _ = setup_parts(client, db, config, ent=6, other=0)
    committer, gate = committer_with_gate(app, 5, monkeypatch)
    before = counts(db)
    bodies = [inspected(parts[0])] + [inspected(h) for h in parts[1:]]
    answers = run_concurrently(committer, gate, config, identity(app), bodies)
    assert [len(g) for g in gate.groups] == [5]  # one shared transaction for the five that queued
    assert all(isinstance(a, dict) for a in answers), answers
    seqs = [a["entries"][0]["seq"] for a in answers]
    assert sorted(seqs) == list(range(before["ledger_entries"], before["ledger_entries"] + 6))
    grouped = answers[1:]
    assert len({a["checkpoint"]["size"] for a in grouped}) == 1  # one signature for the group
    after = counts(db)
    assert after["ledger_checkpoints"] == before["ledger_checkpoints"] + 2
    assert after["audit_log"] == before["audit_log"] + 6  # one audit row per request, as before
    for a in answers:
        checkpoint_covers(client, a)
    assert verified_size(app, db) == after["ledger_entries"]


def test_a_failing_request_does_not_fail_the_others_in_its_group(client, app, db, config, monkeypatch):
    parts, _ = setup_parts(client, db, config, ent=4, other=0)
    unregistered = f"{ENT}/NEVER-MINTED"  # passes validation; found missing inside the transaction
    committer, gate = committer_with_gate(app, 4, monkeypatch)
    logged_before = row_count(db, "ledger_entries")
    good = [inspected(parts[k]) for k in range(4)]
    again = dict(good[1], result="non_conformant", defect_code="D-1")  # good[1]'s event_id, other content
    bodies = [good[0], good[1], inspected(unregistered), again, good[2]]
    answers = run_concurrently(committer, gate, config, identity(app), bodies)
    assert len(gate.groups) == 1 and len(gate.groups[0]) == 4  # tried together, then one by one
    assert isinstance(answers[2], HandleError) and answers[2].status == 404
    assert answers[2].field == "event.handles[0]"
    assert isinstance(answers[3], HandleError) and answers[3].status == 409
    assert answers[3].field == "event.event_id"
    for k in (0, 1, 4):
        assert answers[k]["entries"][0]["duplicate"] is False
        checkpoint_covers(client, answers[k])
    with db.read() as s:
        ids = {r["entry_id"] for r in s.all("SELECT entry_id FROM ledger_entries WHERE seq >= ?",
                                            (logged_before,))}
    assert ids == {good[0]["event_id"], good[1]["event_id"], good[2]["event_id"]}


def test_the_same_event_twice_in_a_group_is_appended_once(client, app, db, config, monkeypatch):
    parts, _ = setup_parts(client, db, config, ent=2, other=0)
    committer, gate = committer_with_gate(app, 3, monkeypatch)
    same = inspected(parts[1])
    answers = run_concurrently(committer, gate, config, identity(app),
                               [inspected(parts[0]), same, dict(same), {"events": [dict(same)]}])
    assert [len(g) for g in gate.groups] == [3]
    flags = [a["entries"][0]["duplicate"] for a in answers[1:]]
    assert flags == [False, True, True]
    assert len({a["entries"][0]["seq"] for a in answers[1:]}) == 1


def test_a_group_that_breaks_in_the_database_is_retried_request_by_request(client, app, db, config,
                                                                          monkeypatch):
    parts, _ = setup_parts(client, db, config, ent=3, other=0)
    committer, gate = committer_with_gate(app, 2, monkeypatch)

    def broken(db_: Any, log: Any, group: list) -> list[dict]:
        gate.groups.append(group)
        with db_.write() as s:  # something written, then the transaction fails: rolled back
            s.run("UPDATE ledger_head SET size = size + 1000 WHERE id = 1")
            raise RuntimeError("connection lost")

    committer._together = broken
    answers = run_concurrently(committer, gate, config, identity(app), [inspected(h) for h in parts])
    assert all(isinstance(a, dict) for a in answers), answers
    assert verified_size(app, db) == row_count(db, "ledger_entries")


@pytest.mark.parametrize("requests", [1, 3])
def test_limits_take_at_least_one_request(client, app, db, config, requests):
    parts, _ = setup_parts(client, db, config, ent=3, other=0)
    with app.test_request_context():
        base = current_committer()
    committer = GroupCommitter(base.db, base.log, max_events=1, max_requests=requests)
    who = identity(app)
    answer = committer.commit(service.prepare_events(config, who, {"events": [inspected(h) for h in parts]}))
    assert len(answer["entries"]) == 3  # a request above the group's event limit still goes alone
    assert committer.waiting() == 0


def _post_until_refused(port: int, handles: list[str], acked: list[str], stop: threading.Event,
                        other: list[int]) -> None:
    """POST single events on one keep-alive connection; note each id answered 201 (and other codes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    k = 0
    while not stop.is_set():
        body = inspected(handles[k % len(handles)])
        k += 1
        try:
            conn.request("POST", "/api/events", json.dumps(body),
                         {**ENT_AUTH, "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
        except (OSError, http.client.HTTPException):  # the server is gone (or closed this connection): stop or reconnect
            conn.close()
            if stop.is_set():
                return
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        (acked.append(body["event_id"]) if r.status == 201 else other.append(r.status))


def test_everything_acknowledged_by_a_threaded_server_survives_sigkill(client, app, db, config):
    """A real ``idres serve`` gunicorn (threaded, grouping) killed under concurrent appends."""
    parts, _ = setup_parts(client, db, config, ent=8, other=0)
    port = _free_port()
    argv, env = gunicorn_argv(config, f"127.0.0.1:{port}", 2)  # two workers: both locks in play
    assert "gthread" in argv
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_listening(port, proc)
        acked: list[str] = []
        other: list[int] = []
        stop = threading.Event()
        clients = [threading.Thread(target=_post_until_refused, args=(port, parts, acked, stop, other))
                   for _ in range(8)]
        for t in clients:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 200 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # master and worker, mid-load
        proc.wait(10)
        stop.set()
        for t in clients:
            t.join(15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert len(acked) >= 200 and other == []
    with db.read() as s:
        logged = {r["entry_id"] for r in s.all("SELECT entry_id FROM ledger_entries")}
    assert set(acked) <= logged
    assert verified_size(app, db) == len(logged)
    accepted_after = client.post("/api/events", json=inspected(parts[0]), headers=ENT_AUTH)
    assert accepted_after.status_code == 201, accepted_after.json  # appends resume


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("idres serve did not listen")
