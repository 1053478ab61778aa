"""Anchoring checkpoint roots to an EVM chain with web3.py.

An anchor is a 0-value transaction from the anchoring account to itself
whose data is ``TAG || size (8 bytes, big-endian) || root (32 bytes)``.
Once mined, it shows that the log had that tree head no later than the
block's time, and anyone with the transaction hash can check it against
the chain without trusting the node.

``connect(None)`` gives an in-process chain (eth-tester with py-evm): ten
funded, unlocked accounts and no network, for tests and the embedded
default.  ``connect(url)`` talks JSON-RPC over HTTP(S).  A production
signing key comes from the environment as hex; it is kept only inside an
``eth_account`` account object and never appears in a repr or a message.

Anchors are recorded in ``ledger_anchors`` through the caller's session
(see ``ledger.store``); ``verify_recorded_anchors`` re-checks every stored
anchor against the chain and, when given, against the checkpoint roots.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from eth_account import Account
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.exceptions import TimeExhausted, TransactionNotFound

from ledger import store
from ledger.store import Session

TAG = b"idresCP1"
"""The 8 bytes that open every anchor's transaction data."""

DATA_LENGTH = len(TAG) + 8 + 32
DEFAULT_RPC_TIMEOUT = 30.0
DEFAULT_RECEIPT_TIMEOUT = 120.0


class AnchorError(Exception):
    """An anchor could not be made, or does not match what is on chain."""


@dataclass(frozen=True)
class Anchor:
    """A checkpoint root anchored on chain.

    ``root`` is lowercase hex without a prefix (as in ``ledger_checkpoints``);
    ``tx_hash`` is ``0x``-prefixed lowercase hex, as chain explorers show it.
    """

    size: int
    root: str
    chain_id: int
    tx_hash: str
    block_number: int


def encode_data(size: int, root: bytes) -> bytes:
    """The transaction data that anchors ``root`` at tree ``size``."""
    if not 0 <= size < 2 ** 64:
        raise ValueError(f"tree size {size} does not fit in 8 bytes")
    if len(root) != 32:
        raise ValueError(f"a root is 32 bytes, not {len(root)}")
    return TAG + size.to_bytes(8, "big") + bytes(root)


def decode_data(data: bytes) -> tuple[int, bytes]:
    """``(size, root)`` from anchor transaction data; ``AnchorError`` if it is not one."""
    data = bytes(data)
    if len(data) != DATA_LENGTH or not data.startswith(TAG):
        raise AnchorError("transaction data is not a checkpoint anchor")
    return int.from_bytes(data[len(TAG):len(TAG) + 8], "big"), data[len(TAG) + 8:]


def connect(rpc_url: str | None, timeout: float = DEFAULT_RPC_TIMEOUT) -> Web3:
    """A ``Web3`` for ``rpc_url`` (HTTP or HTTPS), or an in-process chain for ``None``.

    The HTTP provider gives up on a request after ``timeout`` seconds.  The
    URL is not echoed in errors, since hosted endpoints often carry an API
    key in it.
    """
    if rpc_url is None:
        return Web3(EthereumTesterProvider())
    if not rpc_url.startswith(("http://", "https://")):
        raise ValueError("the anchoring RPC URL must start with http:// or https://")
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


def _hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


class Anchorer:
    """Sends anchor transactions from one account.

    Without ``account_key`` the node's first account sends them (on the
    in-process chain it is unlocked and funded).  With a hex private key the
    transaction is signed locally and sent raw, so the node needs no
    unlocked account.  Calls are serialized so that one process never
    reuses a nonce.
    """

    def __init__(self, w3: Web3, account_key: str | None = None, *,
                 receipt_timeout: float = DEFAULT_RECEIPT_TIMEOUT,
                 poll_latency: float = 0.1) -> None:
        self.w3 = w3
        self.receipt_timeout = receipt_timeout
        self.poll_latency = poll_latency
        self._lock = threading.Lock()
        if account_key is None:
            accounts = w3.eth.accounts
            if not accounts:
                raise AnchorError("the node has no unlocked account; give a private key")
            self._local = None
            self.address: str = accounts[0]
        else:
            try:
                self._local = Account.from_key(account_key)
            except Exception:  # the message could quote the key
                raise AnchorError("the anchoring private key is not a valid key") from None
            self.address = self._local.address

    def __repr__(self) -> str:
        kind = "local key" if self._local is not None else "node account"
        return f"Anchorer(address={self.address}, {kind})"

    def anchor(self, size: int, root: bytes) -> Anchor:
        """Anchor ``root`` at tree ``size``; returns once the transaction is mined.

        Raises ``AnchorError`` if the node refuses or cannot be reached, the
        receipt does not come within the timeout, or the transaction failed.
        """
        data = encode_data(size, root)
        tx: dict[str, Any] = {"from": self.address, "to": self.address, "value": 0, "data": data}
        with self._lock:
            try:
                chain_id = self.w3.eth.chain_id
                if self._local is None:
                    tx_hash = self.w3.eth.send_transaction(tx)  # type: ignore[arg-type]
                else:
                    tx_hash = self.w3.eth.send_raw_transaction(self._signed(tx, chain_id))
            except Exception as err:  # node refusals differ by node (eth-tester's, JSON-RPC's), and OSError
                raise AnchorError(f"sending the anchor transaction failed: {err}") from err
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout, poll_latency=self.poll_latency)
        except TimeExhausted:
            raise AnchorError(f"anchor transaction {_hex32(tx_hash)} not mined within "
                              f"{self.receipt_timeout:g} s") from None
        if receipt["status"] != 1:
            raise AnchorError(f"anchor transaction {_hex32(tx_hash)} failed")
        return Anchor(size=size, root=bytes(root).hex(), chain_id=chain_id,
                      tx_hash=_hex32(tx_hash), block_number=int(receipt["blockNumber"]))

    def _signed(self, tx: dict[str, Any], chain_id: int) -> bytes:
        """Fill nonce, gas and fees, and sign with the local key."""
        assert self._local is not None
        tx["nonce"] = self.w3.eth.get_transaction_count(self.address, "pending")
        tx["chainId"] = chain_id
        tx["gas"] = self.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:  # a chain without EIP-1559
            tx["gasPrice"] = self.w3.eth.gas_price
        else:
            tip = self.w3.eth.max_priority_fee
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = 2 * int(base_fee) + tip
        del tx["from"]
        return bytes(self._local.sign_transaction(tx).raw_transaction)


def verify_anchor(w3: Web3, anchor: Anchor, sender: str | None = None) -> None:
    """Check ``anchor`` against the chain ``w3`` talks to.

    Raises ``AnchorError`` when the chain id differs, the transaction is not
    found or not yet mined, its data is not an anchor or names another size
    or root, it sits in another block, it is not a self-transfer (or, with
    ``sender``, comes from another account), or its receipt shows failure.
    A node that cannot be reached raises its own error (``OSError``): that
    says nothing about the anchor.
    """
    label = f"anchor of size {anchor.size}"
    chain_id = w3.eth.chain_id
    if chain_id != anchor.chain_id:
        raise AnchorError(f"{label}: recorded on chain {anchor.chain_id}, connected to {chain_id}")
    try:
        tx_hash = bytes.fromhex(anchor.tx_hash.removeprefix("0x"))
        root = bytes.fromhex(anchor.root)
    except ValueError:
        raise AnchorError(f"{label}: malformed transaction hash or root") from None
    if len(tx_hash) != 32:
        raise AnchorError(f"{label}: a transaction hash is 32 bytes")
    try:
        tx = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} not found") from None
    try:
        size, on_chain_root = decode_data(tx["input"])
    except AnchorError:
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} is not a checkpoint anchor") from None
    if size != anchor.size:
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} anchors size {size}")
    if on_chain_root != root:
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} anchors root "
                          f"{on_chain_root.hex()}, not {anchor.root}")
    if tx.get("blockNumber") is None:
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} is not mined yet")
    if int(tx["blockNumber"]) != anchor.block_number or int(receipt["blockNumber"]) != anchor.block_number:
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} is in block "
                          f"{tx['blockNumber']}, not {anchor.block_number}")
    if "chainId" in tx and int(tx["chainId"]) != chain_id:
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} was signed for chain {tx['chainId']}")
    if (tx.get("to") or "").lower() != tx["from"].lower():
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} is not a transfer to self")
    if sender is not None and tx["from"].lower() != sender.lower():
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} was sent by {tx['from']}, "
                          f"not {sender}")
    if receipt["status"] != 1:
        raise AnchorError(f"{label}: transaction {anchor.tx_hash} failed")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_anchor(s: Session, anchor: Anchor, anchored_at: str | None = None) -> None:
    """Store ``anchor`` in ``ledger_anchors`` (one per tree size) in the caller's transaction."""
    store.insert_anchor(s, anchor.size, anchor.root, anchor.chain_id, anchor.tx_hash,
                        anchor.block_number, anchored_at or _now())


def recorded_anchors(s: Session) -> list[Anchor]:
    """Every stored anchor, by tree size."""
    return [Anchor(size=int(r["size"]), root=r["root"], chain_id=int(r["chain_id"]),
                   tx_hash=r["tx_hash"], block_number=int(r["block_number"]))
            for r in store.anchors(s)]


def checkpoint_roots(s: Session) -> dict[int, bytes]:
    """Tree size -> root of every stored checkpoint, for ``verify_recorded_anchors``."""
    return {int(r["size"]): bytes.fromhex(r["root"]) for r in store.checkpoints(s)}


def verify_recorded_anchors(s: Session, w3: Web3,
                            roots_by_size: Mapping[int, bytes] | None = None,
                            sender: str | None = None) -> int:
    """Check every stored anchor against the chain; returns how many were checked.

    With ``roots_by_size`` (e.g. ``checkpoint_roots(s)``) each anchor must
    also name the log's root at its size, and a size the mapping lacks is an
    error.  Raises ``AnchorError`` at the first anchor that fails.
    """
    count = 0
    for anchor in recorded_anchors(s):
        if roots_by_size is not None:
            expected = roots_by_size.get(anchor.size)
            if expected is None:
                raise AnchorError(f"anchor of size {anchor.size}: no checkpoint at that size")
            if bytes(expected).hex() != anchor.root.lower():
                raise AnchorError(f"anchor of size {anchor.size}: root {anchor.root} differs "
                                  f"from the checkpoint's {bytes(expected).hex()}")
        verify_anchor(w3, anchor, sender)
        count += 1
    return count


def anchor_latest(s: Session, anchorer: Anchorer) -> Anchor | None:
    """Anchor and record the latest checkpoint unless it is already anchored.

    Returns the new anchor, or ``None`` when there is no checkpoint or the
    latest one has an anchor.  The transaction is sent before the caller
    commits: if the commit fails, a later call anchors the size again.
    """
    latest = store.latest_checkpoint(s)
    if latest is None:
        return None
    size = int(latest["size"])
    if s.one("SELECT size FROM ledger_anchors WHERE size = ?", (size,)) is not None:
        return None
    made = anchorer.anchor(size, bytes.fromhex(latest["root"]))
    record_anchor(s, made)
    return made


__all__ = ["TAG", "Anchor", "AnchorError", "Anchorer", "anchor_latest", "checkpoint_roots",
           "connect", "decode_data", "encode_data", "record_anchor", "recorded_anchors",
           "verify_anchor", "verify_recorded_anchors"]
