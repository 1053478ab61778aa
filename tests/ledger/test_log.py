"""Tests for ledger.log on both backends: appends, idempotence, conflicts, proofs, checkpoints."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest
import rfc8785

from ledger import merkle, store
from ledger.log import Log, LedgerConflict, canonical, chain_next
from ledger.note import Signer, open_checkpoint
from ledger.store import ZERO_CHAIN
from tests.ledger.conftest import ORIGIN, LedgerDB, append_events, event


def _rows(db: LedgerDB, table: str) -> int:
    with db.read() as s:
        return int(s.one(f"SELECT COUNT(*) AS n FROM {table}")["n"])


def _leaves(db: LedgerDB) -> list[bytes]:
    with db.read() as s:
        size, _ = store.head(s)
        return [bytes.fromhex(r["leaf_hash"]) for r in store.entries(s, 0, size)]


def _checkpoints(db: LedgerDB) -> list[dict[str, Any]]:
    with db.read() as s:
        return list(store.checkpoints(s))


# --- appending ----------------------------------------------------------------


def test_append_single_and_batch(ledger_db: LedgerDB, log: Log) -> None:
    with ledger_db.write() as s:
        one = log.append(s, [event(0)])
    assert [(r.seq, r.entry_id, r.duplicate) for r in one.receipts] == [(0, "ev-0", False)]
    assert one.checkpoint is not None and one.checkpoint.size == 1
    with ledger_db.write() as s:
        batch = log.append(s, [event(n) for n in range(1, 6)])
    assert [r.seq for r in batch.receipts] == [1, 2, 3, 4, 5]
    assert [r.entry_id for r in batch.receipts] == [f"ev-{n}" for n in range(1, 6)]
    assert batch.checkpoint is not None and batch.checkpoint.size == 6
    with ledger_db.read() as s:
        assert store.head(s)[0] == 6
        rows = store.entries(s, 0, 6)
    assert [int(r["seq"]) for r in rows] == list(range(6))
    for n, row in enumerate(rows):
        assert row["entry_id"] == f"ev-{n}"
        assert row["entry"] == rfc8785.dumps(event(n)).decode("utf-8")
        assert row["leaf_hash"] == hashlib.sha256(b"\x00" + row["entry"].encode("utf-8")).hexdigest()
    assert [int(c["size"]) for c in _checkpoints(ledger_db)] == [1, 6]


def test_entries_are_canonical_rfc8785(ledger_db: LedgerDB, log: Log) -> None:
    with ledger_db.write() as s:
        log.append(s, [{"z": 1, "event_id": "x", "a": {"c": [3, "é"], "b": None}}])
    with ledger_db.read() as s:
        text = store.entry(s, 0)["entry"]
    assert text == '{"a":{"b":null,"c":[3,"é"]},"event_id":"x","z":1}'


def test_empty_append_changes_nothing(ledger_db: LedgerDB, log: Log) -> None:
    with ledger_db.write() as s:
        result = log.append(s, [])
    assert result.receipts == [] and result.checkpoint is None
    assert _rows(ledger_db, "ledger_checkpoints") == 0


def test_reappend_same_content_is_a_duplicate(ledger_db: LedgerDB, log: Log) -> None:
    append_events(ledger_db, log, 5, 5)
    with ledger_db.write() as s:
        again = log.append(s, [event(3), event(1)])
    assert [(r.seq, r.entry_id, r.duplicate) for r in again.receipts] == [(3, "ev-3", True), (1, "ev-1", True)]
    assert again.checkpoint is None
    assert _rows(ledger_db, "ledger_entries") == 5
    assert _rows(ledger_db, "ledger_checkpoints") == 1
    # mixed batch: old ids keep their seq, new ones go to the end; key order is irrelevant
    reordered = dict(reversed(list(event(2).items())))
    with ledger_db.write() as s:
        mixed = log.append(s, [event(9), reordered, event(10), event(9)])
    assert [(r.seq, r.duplicate) for r in mixed.receipts] == [(5, False), (2, True), (6, False)]
    assert mixed.checkpoint is not None and mixed.checkpoint.size == 7
    assert _rows(ledger_db, "ledger_entries") == 7


def test_same_id_other_content_conflicts(ledger_db: LedgerDB, log: Log) -> None:
    append_events(ledger_db, log, 3, 3)
    with pytest.raises(LedgerConflict) as err:
        with ledger_db.write() as s:
            log.append(s, [event(7), event(1, mass_g=999)])
    assert err.value.entry_id == "ev-1"
    with pytest.raises(LedgerConflict):  # twice in one batch, not yet in the log
        with ledger_db.write() as s:
            log.append(s, [event(8), event(8, extra=1)])
    with ledger_db.read() as s:
        assert store.head(s)[0] == 3
        assert store.entries_by_id(s, ["ev-7", "ev-8"]) == {}
    assert _rows(ledger_db, "ledger_entries") == 3
    assert _rows(ledger_db, "ledger_checkpoints") == 1


def test_id_field_is_configurable(ledger_db: LedgerDB, log: Log) -> None:
    with ledger_db.write() as s:
        result = log.append(s, [{"uid": 17, "v": "a"}], id_field="uid")
    assert result.receipts[0].entry_id == "17"


def test_canonicalization_rules() -> None:
    # rfc8785 accepts floats (ECMAScript rendering), so the log takes them;
    # the event schemas, not the log, keep binary floats out of events.
    assert canonical({"x": 1.5, "y": 1e21}) == b'{"x":1.5,"y":1e+21}'
    assert canonical({"x": 2.0}) == b'{"x":2}'
    with pytest.raises(ValueError):  # NaN and Infinity have no JSON form
        canonical({"x": float("nan")})
    with pytest.raises(ValueError):  # integers beyond 2^53-1 would not round-trip
        canonical({"x": 2**53})
    assert canonical({"x": 2**53 - 1}) == b'{"x":9007199254740991}'


def test_unrepresentable_entry_appends_nothing(ledger_db: LedgerDB, log: Log) -> None:
    append_events(ledger_db, log, 2, 2)
    with pytest.raises(ValueError):
        with ledger_db.write() as s:
            log.append(s, [event(5), event(6, mass_g=2**60)])
    assert _rows(ledger_db, "ledger_entries") == 2


# --- hashes, checkpoints and proofs -------------------------------------------


def test_chain_hashes(ledger_db: LedgerDB, log: Log) -> None:
    append_events(ledger_db, log, 20, 7)
    with ledger_db.read() as s:
        rows = store.entries(s, 0, 20)
        size, head_chain = store.head(s)
    previous = bytes(32)
    assert ZERO_CHAIN == previous.hex()
    for row in rows:
        leaf = hashlib.sha256(b"\x00" + row["entry"].encode("utf-8")).digest()
        previous = hashlib.sha256(previous + leaf).digest()
        assert row["chain_hash"] == previous.hex()
    assert (size, head_chain) == (20, previous.hex())
    assert chain_next(ZERO_CHAIN, b"\x01" * 32) == hashlib.sha256(bytes(32) + b"\x01" * 32).hexdigest()


def test_every_append_signs_a_verifiable_checkpoint(ledger_db: LedgerDB, log: Log,
                                                    signer: Signer) -> None:
    sizes = [1, 2, 3, 8, 1, 16, 5, 1, 31]
    seen, n = [], 0
    for count in sizes:
        with ledger_db.write() as s:
            result = log.append(s, [event(i) for i in range(n, n + count)])
        n += count
        cp = result.checkpoint
        assert cp is not None and cp.size == n
        opened = open_checkpoint(cp.note, [signer.verifier()], ORIGIN)
        assert (opened.size, opened.root) == (n, cp.root)
        assert cp.root == merkle.root_of(_leaves(ledger_db))
        with ledger_db.read() as s:
            assert log.root(s, n) == cp.root
        seen.append(cp)
    stored = _checkpoints(ledger_db)
    assert [int(c["size"]) for c in stored] == [c.size for c in seen]
    assert [c["note"] for c in stored] == [c.note for c in seen]
    assert [c["root"] for c in stored] == [c.root.hex() for c in seen]
    with pytest.raises(Exception):  # another key does not open them
        open_checkpoint(seen[-1].note, [Signer.generate(ORIGIN).verifier()])


def test_roots_of_every_prefix(ledger_db: LedgerDB, log: Log) -> None:
    append_events(ledger_db, log, 70, 9)
    leaves = _leaves(ledger_db)
    with ledger_db.read() as s:
        for size in range(0, 71):
            assert log.root(s, size) == merkle.root_of(leaves[:size])


def test_inclusion_proofs(ledger_db: LedgerDB, log: Log) -> None:
    append_events(ledger_db, log, 45, 11)
    leaves = _leaves(ledger_db)
    with ledger_db.read() as s:
        for size in (1, 2, 3, 7, 8, 13, 16, 32, 33, 44, 45):
            root = log.root(s, size)
            for seq in range(size):
                proof = log.inclusion_proof(s, seq, size)
                merkle.verify_inclusion(leaves[seq], seq, size, proof, root)
                if size > 1:  # the proof is not valid for another leaf
                    with pytest.raises(merkle.VerificationError):
                        merkle.verify_inclusion(leaves[(seq + 1) % size], seq, size, proof, root)


def test_consistency_between_all_checkpoints(ledger_db: LedgerDB, log: Log) -> None:
    n = 0
    for count in [1, 1, 2, 4, 3, 9, 1, 16, 7, 21]:
        with ledger_db.write() as s:
            log.append(s, [event(i) for i in range(n, n + count)])
        n += count
    checkpoints = [(int(c["size"]), bytes.fromhex(c["root"])) for c in _checkpoints(ledger_db)]
    assert len(checkpoints) == 10
    with ledger_db.read() as s:
        for size1, root1 in checkpoints:
            for size2, root2 in checkpoints:
                if size1 > size2:
                    continue
                proof = log.consistency_proof(s, size1, size2)
                merkle.verify_consistency(size1, size2, proof, root1, root2)
                if size1 < size2:
                    with pytest.raises(merkle.VerificationError):
                        merkle.verify_consistency(size1, size2, proof, root1, root1)


def test_ensure_checkpoint(ledger_db: LedgerDB, log: Log, signer: Signer) -> None:
    with ledger_db.write() as s:
        empty = log.ensure_checkpoint(s)
    assert (empty.size, empty.root) == (0, merkle.EMPTY_ROOT)
    opened = open_checkpoint(empty.note, [signer.verifier()], ORIGIN)
    assert (opened.size, opened.root) == (0, merkle.EMPTY_ROOT)
    with ledger_db.write() as s:
        assert log.ensure_checkpoint(s) == empty  # no second signature
    append_events(ledger_db, log, 3, 3)
    with ledger_db.write() as s:
        latest = log.ensure_checkpoint(s)
    assert latest.size == 3 and latest.root == merkle.root_of(_leaves(ledger_db))
    assert [int(c["size"]) for c in _checkpoints(ledger_db)] == [0, 3]


def test_failed_transaction_leaves_no_trace(ledger_db: LedgerDB, log: Log) -> None:
    append_events(ledger_db, log, 4, 4)
    with pytest.raises(RuntimeError):
        with ledger_db.write() as s:
            log.append(s, [event(10), event(11)])
            raise RuntimeError("caller fails after appending")
    with ledger_db.read() as s:
        assert store.head(s)[0] == 4
    assert _rows(ledger_db, "ledger_nodes") == 4 + 2 + 1
    with ledger_db.write() as s:
        again = log.append(s, [event(10)])
    assert again.receipts[0].seq == 4


def test_never_signs_an_inconsistent_checkpoint(ledger_db: LedgerDB, log: Log) -> None:
    append_events(ledger_db, log, 6, 3)
    with ledger_db.write() as s:  # the stored previous tree head no longer matches the tree
        s.run("UPDATE ledger_checkpoints SET root = ? WHERE size = 6", ("ab" * 32,))
    with pytest.raises(merkle.VerificationError):
        with ledger_db.write() as s:
            log.append(s, [event(6)])
    assert _rows(ledger_db, "ledger_entries") == 6
    assert [int(c["size"]) for c in _checkpoints(ledger_db)] == [3, 6]
