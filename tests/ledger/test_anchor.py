"""Anchoring checkpoint roots on a real in-process EVM chain (eth-tester + py-evm).

One chain serves the whole module; tests that tamper with anchors change
copies or stored rows, never the chain, so they do not depend on order.
"""
from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
from typing import Any, Iterable, Iterator, Sequence

import pytest
from eth_account import Account
from web3 import Web3

from ledger import store
from ledger.anchor import (TAG, Anchor, AnchorError, Anchorer, anchor_latest, checkpoint_roots,
                           connect, decode_data, encode_data, record_anchor, recorded_anchors,
                           verify_anchor, verify_recorded_anchors)


class SqliteSession:
    """The ledger's session protocol over a plain sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)


def root_of(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


@pytest.fixture(scope="module")
def w3() -> Web3:
    return connect(None)


@pytest.fixture(scope="module")
def anchorer(w3: Web3) -> Anchorer:
    return Anchorer(w3)


@pytest.fixture(scope="module")
def anchored(anchorer: Anchorer) -> Anchor:
    """One anchor made at module start: size 7, root of "seven"."""
    return anchorer.anchor(7, root_of("seven"))


@pytest.fixture
def session() -> Iterator[SqliteSession]:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    for statement in store.SCHEMA:
        conn.execute(statement)
    yield SqliteSession(conn)
    conn.close()


def test_data_layout() -> None:
    data = encode_data(258, bytes(range(32)))
    assert data == TAG + (258).to_bytes(8, "big") + bytes(range(32)) and len(data) == 48
    assert decode_data(data) == (258, bytes(range(32)))
    with pytest.raises(ValueError):
        encode_data(-1, bytes(32))
    with pytest.raises(ValueError):
        encode_data(2 ** 64, bytes(32))
    with pytest.raises(ValueError):
        encode_data(1, bytes(31))
    for bad in (b"", data[:-1], data + b"\0", b"idresCP2" + data[8:]):
        with pytest.raises(AnchorError):
            decode_data(bad)


def test_anchor_is_on_chain_and_verifies(w3: Web3, anchorer: Anchorer, anchored: Anchor) -> None:
    assert anchored.size == 7 and anchored.root == root_of("seven").hex()
    assert anchored.chain_id == w3.eth.chain_id
    assert anchored.tx_hash.startswith("0x") and len(anchored.tx_hash) == 66
    tx = w3.eth.get_transaction(anchored.tx_hash)  # type: ignore[arg-type]
    assert tx["from"] == tx["to"] == anchorer.address and tx["value"] == 0
    assert tx["blockNumber"] == anchored.block_number
    assert decode_data(tx["input"]) == (7, root_of("seven"))
    verify_anchor(w3, anchored)
    verify_anchor(w3, anchored, sender=anchorer.address)
    verify_anchor(w3, anchored, sender=anchorer.address.lower())


@pytest.mark.parametrize("change, message", [
    ({"root": root_of("eight").hex()}, "anchors root"),
    ({"size": 8}, "anchors size 7"),
    ({"tx_hash": "0x" + "ab" * 32}, "not found"),
    ({"block_number": 10_000}, "is in block"),
    ({"chain_id": 1}, "recorded on chain 1"),
    ({"tx_hash": "0xnothex"}, "malformed"),
    ({"tx_hash": "0x" + "ab" * 31}, "32 bytes"),
], ids=["root", "size", "tx-hash", "block", "chain-id", "bad-hex", "short-hash"])
def test_tampered_anchor_is_rejected(w3: Web3, anchored: Anchor, change: dict[str, Any],
                                     message: str) -> None:
    with pytest.raises(AnchorError, match=message):
        verify_anchor(w3, dataclasses.replace(anchored, **change))


def test_anchor_pointing_at_another_anchor_is_rejected(w3: Web3, anchorer: Anchorer,
                                                       anchored: Anchor) -> None:
    other = anchorer.anchor(9, root_of("nine"))
    verify_anchor(w3, other)
    assert other.block_number > anchored.block_number
    with pytest.raises(AnchorError, match="anchors size 9"):
        verify_anchor(w3, dataclasses.replace(anchored, tx_hash=other.tx_hash))
    with pytest.raises(AnchorError, match="is in block"):
        verify_anchor(w3, dataclasses.replace(other, block_number=anchored.block_number))


def test_wrong_sender_is_rejected(w3: Web3, anchored: Anchor) -> None:
    with pytest.raises(AnchorError, match="was sent by"):
        verify_anchor(w3, anchored, sender=w3.eth.accounts[1])


def _send(w3: Web3, tx: dict[str, Any]) -> tuple[int, str]:
    """Send from an unlocked account; ``(block number, 0x tx hash)`` once mined."""
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))  # type: ignore[arg-type]
    return int(receipt["blockNumber"]), "0x" + bytes(receipt["transactionHash"]).hex()


@pytest.mark.parametrize("data, to_self, message", [
    (b"", True, "not a checkpoint anchor"),
    (b"hello, chain", True, "not a checkpoint anchor"),
    (b"idresCP2" + (7).to_bytes(8, "big") + root_of("seven"), True, "not a checkpoint anchor"),
    (TAG + (7).to_bytes(8, "big") + root_of("seven") + b"\0", True, "not a checkpoint anchor"),
    (encode_data(7, root_of("seven")), False, "not a transfer to self"),
], ids=["empty", "text", "other-tag", "too-long", "to-another-account"])
def test_transaction_that_is_not_an_anchor_is_rejected(w3: Web3, data: bytes, to_self: bool,
                                                       message: str) -> None:
    sender, other = w3.eth.accounts[2], w3.eth.accounts[3]
    block, tx_hash = _send(w3, {"from": sender, "to": sender if to_self else other,
                                "value": 0, "data": data})
    forged = Anchor(size=7, root=root_of("seven").hex(), chain_id=w3.eth.chain_id,
                    tx_hash=tx_hash, block_number=block)
    with pytest.raises(AnchorError, match=message):
        verify_anchor(w3, forged)


def test_private_key_account(w3: Web3) -> None:
    account = Account.create()
    key = account.key.hex()
    _send(w3, {"from": w3.eth.accounts[0], "to": account.address, "value": 10 ** 18})
    signer = Anchorer(w3, key)
    assert signer.address == account.address
    assert key.removeprefix("0x") not in repr(signer) and account.address in repr(signer)
    first = signer.anchor(3, root_of("three"))
    second = signer.anchor(4, root_of("four"))  # the nonce advances
    for made in (first, second):
        verify_anchor(w3, made, sender=account.address)
        assert w3.eth.get_transaction(made.tx_hash)["from"] == account.address  # type: ignore[arg-type]
    assert Anchorer(w3, "0x" + key.removeprefix("0x")).address == account.address


def test_unfunded_private_key_account_fails_clearly(w3: Web3) -> None:
    with pytest.raises(AnchorError, match="sending the anchor transaction failed"):
        Anchorer(w3, Account.create().key.hex()).anchor(1, root_of("one"))


def test_invalid_private_key_does_not_leak(w3: Web3) -> None:
    secret = "zz" + "12" * 31
    with pytest.raises(AnchorError) as caught:
        Anchorer(w3, secret)
    assert secret not in str(caught.value) and caught.value.__cause__ is None


def test_record_and_verify_recorded(w3: Web3, anchorer: Anchorer, anchored: Anchor,
                                    session: SqliteSession) -> None:
    assert verify_recorded_anchors(session, w3) == 0
    other = anchorer.anchor(12, root_of("twelve"))
    record_anchor(session, anchored)
    record_anchor(session, other, anchored_at="2026-01-02T03:04:05Z")
    assert recorded_anchors(session) == [anchored, other]
    assert store.anchors(session)[1]["anchored_at"] == "2026-01-02T03:04:05Z"
    store.insert_checkpoint(session, 7, root_of("seven"), "note 7", "t")
    store.insert_checkpoint(session, 12, root_of("twelve"), "note 12", "t")
    roots = checkpoint_roots(session)
    assert roots == {7: root_of("seven"), 12: root_of("twelve")}
    assert verify_recorded_anchors(session, w3) == 2
    assert verify_recorded_anchors(session, w3, roots, sender=anchorer.address) == 2
    with pytest.raises(AnchorError, match="no checkpoint at that size"):
        verify_recorded_anchors(session, w3, {7: root_of("seven")})
    with pytest.raises(AnchorError, match="differs from the checkpoint"):
        verify_recorded_anchors(session, w3, {7: root_of("seven"), 12: root_of("other")})


@pytest.mark.parametrize("column, value, message", [
    ("root", root_of("forged").hex(), "anchors root"),
    ("block_number", 9_999, "is in block"),
    ("tx_hash", "0x" + "cd" * 32, "not found"),
    ("chain_id", 5, "recorded on chain 5"),
])
def test_tampered_recorded_anchor_is_rejected(w3: Web3, anchored: Anchor, session: SqliteSession,
                                              column: str, value: Any, message: str) -> None:
    record_anchor(session, anchored)
    session.run(f"UPDATE ledger_anchors SET {column} = ? WHERE size = 7", (value,))
    with pytest.raises(AnchorError, match=message):
        verify_recorded_anchors(session, w3)


def test_tampered_recorded_size_is_rejected(w3: Web3, anchored: Anchor,
                                            session: SqliteSession) -> None:
    record_anchor(session, anchored)
    session.run("UPDATE ledger_anchors SET size = 8 WHERE size = 7")
    with pytest.raises(AnchorError, match="anchors size 7"):
        verify_recorded_anchors(session, w3)
    store.insert_checkpoint(session, 8, root_of("seven"), "note 8", "t")
    with pytest.raises(AnchorError, match="anchors size 7"):  # the roots agree, the size does not
        verify_recorded_anchors(session, w3, checkpoint_roots(session))


def test_anchor_latest(w3: Web3, anchorer: Anchorer, session: SqliteSession) -> None:
    assert anchor_latest(session, anchorer) is None  # no checkpoint yet
    store.insert_checkpoint(session, 5, root_of("five"), "note 5", "t")
    store.insert_checkpoint(session, 20, root_of("twenty"), "note 20", "t")
    made = anchor_latest(session, anchorer)
    assert made is not None and made.size == 20 and made.root == root_of("twenty").hex()
    assert anchor_latest(session, anchorer) is None  # already anchored
    assert recorded_anchors(session) == [made]
    assert verify_recorded_anchors(session, w3, checkpoint_roots(session)) == 1


def test_connect() -> None:
    with pytest.raises(ValueError, match="http"):
        connect("ws://127.0.0.1:8546")
    remote = connect("http://127.0.0.1:9", timeout=2)  # nothing listens on the discard port
    assert not remote.is_connected()
    with pytest.raises(AnchorError, match="sending the anchor transaction failed"):
        Anchorer(remote, Account.create().key.hex()).anchor(1, root_of("one"))
