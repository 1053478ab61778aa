"""Tests for ledger.verify: a healthy log verifies; every kind of tampering names the right entry.

Database checks run on both backends.  Exports are verified the way an
auditor would, with ``python -m ledger.verify`` in a separate process, which
is also checked (``-X importtime``) never to import ``idres``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from ledger import store
from ledger.log import Log
from ledger.note import Checkpoint, Signer, parse_checkpoint, parse_note
from ledger.replay import TreeBuilder
from ledger.verify import EXPORT_FORMAT, LedgerVerificationError, verify_database
from tests.ledger.conftest import ORIGIN, LedgerDB, append_events, event

REPO = Path(__file__).resolve().parents[2]
SIZE, K, J = 40, 13, 29  # a 40-entry log in batches of 8; entries k < j get tampered with
Session = Any


@pytest.fixture
def small(ledger_db: LedgerDB, log: Log) -> LedgerDB:
    append_events(ledger_db, log, SIZE, 8)
    return ledger_db


def _verify(db: LedgerDB, signer: Signer, origin: str | None = ORIGIN) -> int:
    with db.read() as s:
        return verify_database(s, [signer.verifier()], origin)


def _fails_at(db: LedgerDB, signer: Signer, match: str = "") -> int | None:
    with pytest.raises(LedgerVerificationError, match=match) as err:
        _verify(db, signer)
    return err.value.seq


def _tamper(db: LedgerDB, change: Callable[[Session], None]) -> None:
    with db.write() as s:
        change(s)


def _set(s: Session, seq: int, column: str, value: str) -> None:
    assert s.run(f"UPDATE ledger_entries SET {column} = ? WHERE seq = ?", (value, seq)) == 1


def _flip_hex(value: str) -> str:
    return ("1" if value[0] == "0" else "0") + value[1:]


def test_healthy_log_verifies(ledger_db: LedgerDB, log: Log, signer: Signer) -> None:
    n = 0
    for count in (1, 2, 5, 64, 100, 3, 128, 17):
        with ledger_db.write() as s:
            log.append(s, [event(i) for i in range(n, n + count)])
        n += count
    seen: list[tuple[int, int]] = []
    with ledger_db.read() as s:
        assert verify_database(s, [signer.verifier()], ORIGIN, lambda d, t: seen.append((d, t))) == n == 320
    assert seen[-1] == (320, 320)
    with ledger_db.write() as s:
        log.ensure_checkpoint(s)
    assert _verify(ledger_db, signer, origin=None) == 320


def test_empty_log_verifies(ledger_db: LedgerDB, log: Log, signer: Signer) -> None:
    assert _verify(ledger_db, signer) == 0
    with ledger_db.write() as s:
        log.ensure_checkpoint(s)
    assert _verify(ledger_db, signer) == 0


def test_wrong_origin_or_key(small: LedgerDB, signer: Signer) -> None:
    with pytest.raises(LedgerVerificationError, match="origin"):
        _verify(small, signer, origin="other.test/log")
    with pytest.raises(LedgerVerificationError, match="no signature by a known key"):
        _verify(small, Signer.generate(ORIGIN))


class _AppendsMeanwhile:
    """A session under which another connection appends (and commits) right after the head is read."""

    def __init__(self, session: Session, other: Any, log: Log) -> None:
        self.session, self.other, self.log, self.done = session, other, log, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def one(self, sql: str, params: Any = ()) -> Any:
        row = self.session.one(sql, params)
        if "FROM ledger_head" in sql and not self.done:
            self.done = True
            with self.other.write() as s:
                self.log.append(s, [event(n, "late") for n in range(5)])
        return row


def test_appends_during_verification_are_no_tampering(small: LedgerDB, log: Log, signer: Signer,
                                                       session_factory: Callable[[], Any]) -> None:
    # PostgreSQL's default READ COMMITTED gives every statement a new snapshot,
    # so rows committed by a live node while verifying must not look forged.
    with small.read() as s:
        assert verify_database(_AppendsMeanwhile(s, session_factory(), log), [signer.verifier()]) == SIZE
    assert _verify(small, signer) == SIZE + 5


# --- tampering with entries ---------------------------------------------------


def test_changed_entry_byte(small: LedgerDB, signer: Signer) -> None:
    with small.read() as s:
        text = store.entry(s, K)["entry"]
    _tamper(small, lambda s: _set(s, K, "entry", text.replace(f"P{K}", f"Q{K}")))
    assert _fails_at(small, signer, "leaf hash") == K


def test_deleted_entry(small: LedgerDB, signer: Signer) -> None:
    _tamper(small, lambda s: s.run("DELETE FROM ledger_entries WHERE seq = ?", (K,)))
    assert _fails_at(small, signer, "missing") == K


def test_deleted_last_entry(small: LedgerDB, signer: Signer) -> None:
    _tamper(small, lambda s: s.run("DELETE FROM ledger_entries WHERE seq = ?", (SIZE - 1,)))
    assert _fails_at(small, signer, "missing") == SIZE - 1


def test_swapped_entries(small: LedgerDB, signer: Signer) -> None:
    def swap(s: Session) -> None:
        a, b = store.entry(s, K), store.entry(s, J)
        _set(s, K, "entry_id", "swapping")
        for seq, row in ((J, a), (K, b)):
            for column in ("entry_id", "entry", "leaf_hash", "chain_hash"):
                _set(s, seq, column, row[column])
    _tamper(small, swap)
    assert _fails_at(small, signer, "chain hash") == K


def test_extra_entry_beyond_head(small: LedgerDB, signer: Signer) -> None:
    _tamper(small, lambda s: store.insert_entries(s, [(SIZE, "extra", '{"x":1}', "00" * 32, "00" * 32)]))
    assert _fails_at(small, signer, "beyond the head") == SIZE


@pytest.mark.parametrize("column", ["leaf_hash", "chain_hash"])
def test_changed_stored_hash(small: LedgerDB, signer: Signer, column: str) -> None:
    with small.read() as s:
        value = store.entry(s, K)[column]
    _tamper(small, lambda s: _set(s, K, column, _flip_hex(value)))
    assert _fails_at(small, signer, "hash") == K


def test_changed_head(small: LedgerDB, signer: Signer) -> None:
    _tamper(small, lambda s: s.run("UPDATE ledger_head SET chain_hash = ?", ("ab" * 32,)))
    assert _fails_at(small, signer, "head chain") == SIZE - 1
    _tamper(small, lambda s: s.run("UPDATE ledger_head SET size = ?", (SIZE - 3,)))
    assert _fails_at(small, signer, "beyond the head") == SIZE - 3


def test_checkpoint_or_entry_outside_the_log(small: LedgerDB, signer: Signer) -> None:
    forged = signer.sign(Checkpoint(ORIGIN, SIZE + 2, bytes(32)).body())
    _tamper(small, lambda s: store.insert_checkpoint(s, SIZE + 2, bytes(32), forged, "now"))
    _fails_at(small, signer, "checkpoint at size 42 beyond the log's 40")
    _tamper(small, lambda s: s.run("DELETE FROM ledger_checkpoints WHERE size = 42"))
    _tamper(small, lambda s: store.insert_entries(s, [(-1, "neg", "{}", "00" * 32, "00" * 32)]))
    assert _fails_at(small, signer, "1 entries beyond") == SIZE


def _rewrite_from(s: Session, start: int, texts: dict[int, str], size: int) -> None:
    """What an attacker without the key can do: rewrite entries, hashes, nodes and head."""
    builder = TreeBuilder()
    for row in store.entries(s, 0, size):
        seq = int(row["seq"])
        leaf, completed = builder.add(texts.get(seq, row["entry"]).encode("utf-8"))
        if seq >= start:
            s.run("DELETE FROM ledger_entries WHERE seq = ?", (seq,))
            store.insert_entries(s, [(seq, row["entry_id"], texts.get(seq, row["entry"]), leaf.hex(),
                                      builder.chain)])
            for level, idx, h in completed:
                s.run("UPDATE ledger_nodes SET hash = ? WHERE level = ? AND idx = ?", (h.hex(), level, idx))
    store.set_head(s, size, builder.chain)


def test_rewritten_history_fails_at_the_next_checkpoint(small: LedgerDB, signer: Signer) -> None:
    with small.read() as s:
        text = store.entry(s, K)["entry"].replace(f"P{K}", f"Q{K}")
    _tamper(small, lambda s: _rewrite_from(s, K, {K: text}, SIZE))
    assert _fails_at(small, signer, "differs from checkpoint") == 15  # checkpoint at size 16


def test_unsigned_tail_is_rejected(small: LedgerDB, signer: Signer) -> None:
    def forge(s: Session) -> None:  # correct hashes and nodes for 3 more entries, no checkpoint
        texts = {SIZE + n: json.dumps({"event_id": f"forged-{n}"}) for n in range(3)}
        store.insert_entries(s, [(seq, f"forged-{seq}", t, "", "") for seq, t in texts.items()])
        store.insert_nodes(s, [(level, idx, bytes(32)) for level, idx in [(0, 40), (0, 41), (0, 42), (1, 20)]])
        _rewrite_from(s, SIZE, texts, SIZE + 3)
    _tamper(small, forge)
    assert _fails_at(small, signer, "not covered by a signed checkpoint") == SIZE


# --- tampering with tree nodes and checkpoints --------------------------------


def test_changed_or_missing_tree_node(small: LedgerDB, signer: Signer) -> None:
    _tamper(small, lambda s: s.run("UPDATE ledger_nodes SET hash = ? WHERE level = 2 AND idx = 3", ("cd" * 32,)))
    assert _fails_at(small, signer, r"node \(2, 3\)") == 15
    _tamper(small, lambda s: s.run("DELETE FROM ledger_nodes WHERE level = 2 AND idx = 3"))
    assert _fails_at(small, signer, r"node \(2, 3\)") == 15


def _set_checkpoint(s: Session, size: int, column: str, value: str) -> None:
    assert s.run(f"UPDATE ledger_checkpoints SET {column} = ? WHERE size = ?", (value, size)) == 1


def _note_of(db: LedgerDB, size: int) -> str:
    with db.read() as s:
        return next(r["note"] for r in store.checkpoints(s) if int(r["size"]) == size)


def test_changed_checkpoint_root_column(small: LedgerDB, signer: Signer) -> None:
    _tamper(small, lambda s: _set_checkpoint(s, 24, "root", "ef" * 32))
    _fails_at(small, signer, "stored root differs")


def test_changed_checkpoint_note(small: LedgerDB, signer: Signer) -> None:
    note = _note_of(small, 24)
    _tamper(small, lambda s: _set_checkpoint(s, 24, "note", note.replace("\n24\n", "\n25\n", 1)))
    _fails_at(small, signer, "does not verify")


def test_changed_checkpoint_signature(small: LedgerDB, signer: Signer) -> None:
    note = _note_of(small, 24)
    body, signature = note.rsplit(" ", 1)
    flipped = ("A" if signature[10] != "A" else "B").join([signature[:10], signature[11:]])
    _tamper(small, lambda s: _set_checkpoint(s, 24, "note", f"{body} {flipped}"))
    _fails_at(small, signer, "checkpoint at size 24")


def test_checkpoint_signed_by_another_key(small: LedgerDB, signer: Signer) -> None:
    text, _ = parse_note(_note_of(small, 24))
    forged = Signer.generate(ORIGIN).sign(text)  # same body, same name, other key
    _tamper(small, lambda s: _set_checkpoint(s, 24, "note", forged))
    _fails_at(small, signer, "checkpoint at size 24: note has no signature by a known key")


def test_checkpoint_for_a_wrong_root(small: LedgerDB, signer: Signer) -> None:
    wrong = Checkpoint(ORIGIN, 24, bytes(32))  # properly signed, but not this log's tree
    _tamper(small, lambda s: _set_checkpoint(s, 24, "note", signer.sign(wrong.body())))
    _tamper(small, lambda s: _set_checkpoint(s, 24, "root", bytes(32).hex()))
    assert _fails_at(small, signer, "differs from checkpoint") == 23


# --- exports, verified by a separate process ------------------------------------


def export_lines(db: LedgerDB) -> list[str]:
    """The export format of ledger.verify, built from the database."""
    with db.read() as s:
        size, _ = store.head(s)
        marks = {int(r["size"]): r["note"] for r in store.checkpoints(s)}
        rows = store.entries(s, 0, size)
    lines = [{"format": EXPORT_FORMAT, "origin": ORIGIN, "size": size}]
    if 0 in marks:
        lines.append({"type": "checkpoint", "size": 0, "note": marks[0]})
    for row in rows:
        seq = int(row["seq"])
        lines.append({"type": "entry", "seq": seq, "entry": row["entry"], "chain_hash": row["chain_hash"]})
        if seq + 1 in marks:
            lines.append({"type": "checkpoint", "size": seq + 1, "note": marks[seq + 1]})
    return [json.dumps(line, ensure_ascii=False) + "\n" for line in lines]


def run_verifier(tmp_path: Path, lines: list[str], key: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ledger.verify", str(path), "--key", key],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")]
    assert "ledger.verify" in imported or "ledger.note" in imported
    assert not [m for m in imported if m == "idres" or m.startswith("idres.")]
    return proc


def _entry_line(lines: list[str], seq: int) -> int:
    return next(i for i, line in enumerate(lines) if f'"type": "entry", "seq": {seq},' in line)


@pytest.fixture
def exported(ledger_db: LedgerDB, log: Log) -> list[str]:
    n = 0
    for count in (1, 3, 50, 100, 46):
        with ledger_db.write() as s:
            log.append(s, [event(i) for i in range(n, n + count)])
        n += count
    return export_lines(ledger_db)


def test_export_round_trip(exported: list[str], signer: Signer, tmp_path: Path) -> None:
    proc = run_verifier(tmp_path, exported, signer.verifier_key)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK: 200 entries, 5 checkpoints verified")


def _change_byte(lines: list[str]) -> list[str]:
    i = _entry_line(lines, 77)
    return lines[:i] + [lines[i].replace("P77", "P78")] + lines[i + 1:]


def _drop(lines: list[str]) -> list[str]:
    i = _entry_line(lines, 77)
    return lines[:i] + lines[i + 1:]


def _reorder(lines: list[str]) -> list[str]:
    i, j = _entry_line(lines, 77), _entry_line(lines, 78)
    return lines[:i] + [lines[j], lines[i]] + lines[j + 1:]


def _reorder_renumbered(lines: list[str]) -> list[str]:
    i, j = _entry_line(lines, 77), _entry_line(lines, 78)
    a, b = json.loads(lines[i]), json.loads(lines[j])
    a["entry"], b["entry"] = b["entry"], a["entry"]
    return lines[:i] + [json.dumps(a) + "\n", json.dumps(b) + "\n"] + lines[j + 1:]


def _drop_last_checkpoint(lines: list[str]) -> list[str]:
    return lines[:-1]


def _forged_tail(lines: list[str]) -> list[str]:
    builder = TreeBuilder()
    for line in lines[1:]:
        record = json.loads(line)
        if record["type"] == "entry":
            builder.add(record["entry"].encode("utf-8"))
    text = json.dumps({"event_id": "forged"})
    builder.add(text.encode("utf-8"))
    header = json.loads(lines[0]) | {"size": 201}
    forged = {"type": "entry", "seq": 200, "entry": text, "chain_hash": builder.chain}
    return [json.dumps(header) + "\n", *lines[1:], json.dumps(forged) + "\n"]


@pytest.mark.parametrize(("tamper", "message"), [
    (_change_byte, "entry 77: chain hash"),
    (_drop, "entry 77: missing"),
    (_reorder, "entry 77: missing"),
    (_reorder_renumbered, "entry 77: chain hash"),
    (_drop_last_checkpoint, "entry 154: entries 154..199 are not covered"),
    (_forged_tail, "entry 200: entries 200..200 are not covered"),
])
def test_tampered_export_fails(exported: list[str], signer: Signer, tmp_path: Path,
                               tamper: Callable[[list[str]], list[str]], message: str) -> None:
    proc = run_verifier(tmp_path, tamper(exported), signer.verifier_key)
    assert proc.returncode == 1
    assert "FAILED: " + message in proc.stderr
    assert "OK" not in proc.stdout


def test_export_with_wrong_key_or_foreign_checkpoint(exported: list[str], signer: Signer,
                                                     tmp_path: Path) -> None:
    other = Signer.generate(ORIGIN)
    proc = run_verifier(tmp_path, exported, other.verifier_key)
    assert proc.returncode == 1 and "FAILED: checkpoint at size 1: note has no signature" in proc.stderr
    i = next(i for i, line in enumerate(exported) if '"size": 54' in line)
    record = json.loads(exported[i])
    body, _ = parse_note(record["note"])
    assert parse_checkpoint(body).size == 54
    record["note"] = other.sign(body)
    lines = exported[:i] + [json.dumps(record) + "\n"] + exported[i + 1:]
    proc = run_verifier(tmp_path, lines, signer.verifier_key)
    assert proc.returncode == 1 and "FAILED: checkpoint at size 54" in proc.stderr
    proc = run_verifier(tmp_path, ["not json\n"], signer.verifier_key)
    assert proc.returncode == 1 and "FAILED" in proc.stderr
