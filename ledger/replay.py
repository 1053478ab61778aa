"""Recomputing a log from its entries alone: leaves, chain, perfect subtrees, roots.

Used by both verifiers (database and export) and by appends; keeps only the
right edge of the tree (O(log n) memory), so a million entries verify in
constant space.  Hashes are kept as bytes; the chain hash is exposed as hex
(``chain``), the form the database stores.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

from ledger import merkle
from ledger.store import ZERO_CHAIN

_sha256 = hashlib.sha256

Node = tuple[int, int, bytes]  # (level, index, hash) of a perfect subtree


def chain_next(previous_hex: str, leaf: bytes) -> str:
    """The chain hash linking an entry to the one before it."""
    return _sha256(bytes.fromhex(previous_hex) + leaf).hexdigest()


class TreeBuilder:
    """Feed entries in order; read back the chain hash and root at any size.

    ``edge`` holds the perfect subtrees of the tree so far, largest first:
    one per set bit of ``size`` (RFC 9162 splits off the largest power of
    two on the left), so adding a leaf at index ``i`` merges it with as many
    edge nodes as ``i`` has trailing one bits.
    """

    __slots__ = ("size", "chain_bytes", "edge")

    def __init__(self, size: int = 0, chain: str = ZERO_CHAIN,
                 edge: Iterable[Node] | None = None) -> None:
        self.size = size
        self.chain_bytes = bytes.fromhex(chain)
        self.edge: list[Node] = [] if edge is None else list(edge)

    @property
    def chain(self) -> str:
        """The chain hash of the last entry added (hex)."""
        return self.chain_bytes.hex()

    def add(self, entry: bytes) -> tuple[bytes, list[Node]]:
        """Add one entry; returns its leaf hash and the perfect subtrees it completed."""
        leaf = _sha256(b"\x00" + entry).digest()
        return leaf, self.add_leaf(leaf)

    def add_leaf(self, leaf: bytes) -> list[Node]:
        """Add one leaf hash; returns the perfect subtrees it completed, leaf first."""
        self.chain_bytes = _sha256(self.chain_bytes + leaf).digest()
        index, level, h = self.size, 0, leaf
        completed = [(0, index, leaf)]
        edge = self.edge
        while index & 1:  # a right child: its left sibling is the edge's last node
            h = _sha256(b"\x01" + edge.pop()[2] + h).digest()
            level, index = level + 1, index >> 1
            completed.append((level, index, h))
        edge.append((level, index, h))
        self.size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> tuple[list[bytes], list[Node]]:
        """Add many leaf hashes: :meth:`add_leaf` in one loop.

        Returns each leaf's chain hash and every perfect subtree completed
        (leaves included), in order.
        """
        sha256 = _sha256
        chain, index, edge = self.chain_bytes, self.size, self.edge
        chains: list[bytes] = []
        nodes: list[Node] = []
        for leaf in leaves:
            chain = sha256(chain + leaf).digest()
            chains.append(chain)
            nodes.append((0, index, leaf))
            i, level, h = index, 0, leaf
            while i & 1:
                h = sha256(b"\x01" + edge.pop()[2] + h).digest()
                level, i = level + 1, i >> 1
                nodes.append((level, i, h))
            edge.append((level, i, h))
            index += 1
        self.chain_bytes, self.size = chain, index
        return chains, nodes

    def edge_text(self) -> str:
        """The right edge as stored in ``ledger_head.edge``."""
        return ",".join(f"{level}:{idx}:{h.hex()}" for level, idx, h in self.edge)

    @staticmethod
    def parse_edge(text: str) -> list[Node]:
        out = []
        for item in filter(None, text.split(",")):
            level, idx, h = item.split(":")
            out.append((int(level), int(idx), bytes.fromhex(h)))
        return out

    @staticmethod
    def edge_fits(size: int, edge: Sequence[Node]) -> bool:
        """Whether ``edge`` has exactly the perfect subtrees a tree of ``size`` leaves splits into."""
        return ([(level, idx) for level, idx, _ in edge] == merkle.perfect_subtrees(0, size)
                and all(len(h) == merkle.HASH_SIZE for _, _, h in edge))

    def root(self) -> bytes:
        """The Merkle root of everything added so far."""
        if not self.edge:
            return merkle.EMPTY_ROOT
        return merkle.fold_subtrees([h for _, _, h in self.edge])
