"""Recomputing a log from its entries alone: leaves, chain, perfect subtrees, roots.

Used by both verifiers (database and export); keeps only the right edge of
the tree (O(log n) memory), so a million entries verify in constant space.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ledger import merkle
from ledger.store import ZERO_CHAIN


def chain_next(previous_hex: str, leaf: bytes) -> str:
    """The chain hash linking an entry to the one before it."""
    return hashlib.sha256(bytes.fromhex(previous_hex) + leaf).hexdigest()


@dataclass
class TreeBuilder:
    """Feed entries in order; read back the chain hash and root at any size."""

    size: int = 0
    chain: str = ZERO_CHAIN
    edge: list[tuple[int, int, bytes]] = field(default_factory=list)  # (level, index, hash)

    def add(self, entry: bytes) -> tuple[bytes, list[tuple[int, int, bytes]]]:
        """Add one entry; returns its leaf hash and the perfect subtrees it completed."""
        leaf = merkle.leaf_hash(entry)
        self.chain = chain_next(self.chain, leaf)
        completed = [(0, self.size, leaf)]
        self.edge.append(completed[0])
        while len(self.edge) >= 2 and self.edge[-1][0] == self.edge[-2][0]:
            right, left = self.edge.pop(), self.edge.pop()
            node = (left[0] + 1, left[1] // 2, merkle.node_hash(left[2], right[2]))
            self.edge.append(node)
            completed.append(node)
        self.size += 1
        return leaf, completed

    def edge_text(self) -> str:
        """The right edge as stored in ``ledger_head.edge``."""
        return ",".join(f"{level}:{idx}:{h.hex()}" for level, idx, h in self.edge)

    @staticmethod
    def parse_edge(text: str) -> list[tuple[int, int, bytes]]:
        out = []
        for item in filter(None, text.split(",")):
            level, idx, h = item.split(":")
            out.append((int(level), int(idx), bytes.fromhex(h)))
        return out

    def root(self) -> bytes:
        """The Merkle root of everything added so far."""
        if not self.edge:
            return merkle.EMPTY_ROOT
        return merkle.fold_subtrees([h for _, _, h in self.edge])
