"""RFC 9162 (RFC 6962) Merkle tree hashing, proof verification and proof generation.

Everything here is a pure function over bytes and integers: no I/O, no clock,
no global state. Verification follows RFC 9162 sections 2.1.3.2 (inclusion)
and 2.1.4.2 (consistency) step by step, and raises :class:`VerificationError`
with a message that says exactly which check failed.

Proof *generation* works from stored perfect subtrees. A log keeps, for every
complete subtree, its hash under the key ``(level, index)``: level ``L``,
index ``i`` covers leaves ``[i * 2**L, (i + 1) * 2**L)``; level 0 holds the
leaf hashes. Every node of an RFC 9162 tree is either such a perfect subtree
or lies on the right border, where it splits into at most log2(n) perfect
pieces. So roots and proofs need O(log n) stored hashes; ``nodes_needed_for_*``
name them, a database fetches them in one query, and ``root_from_nodes`` /
``inclusion_proof`` / ``consistency_proof`` assemble the result.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]
"""``(level, index)`` of a perfect subtree covering ``[index << level, (index + 1) << level)``."""


class VerificationError(Exception):
    """An inclusion or consistency proof does not prove what it claims."""


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (``n >= 2``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH(D[n]) computed straight from the RFC 9162 definition.

    This is the reference implementation (O(n) hashing); logs should use
    :func:`root_from_nodes` over stored subtrees instead.
    """
    def mth(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaf_hashes[start]
        mid = start + _split(end - start)
        return node_hash(mth(start, mid), mth(mid, end))

    if not leaf_hashes:
        return EMPTY_ROOT
    return mth(0, len(leaf_hashes))


# --- verification ---------------------------------------------------------


def _check_hash(what: str, value: bytes) -> None:
    # Inputs that get hashed must be real SHA-256 outputs; a short or empty
    # element would otherwise only surface later as an unexplained mismatch.
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        _check_hash(f"proof hash #{position}", value)


def _check_non_negative(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise VerificationError(f"{name} must not be negative, got {value}")


def _inclusion_proof_length(index: int, size: int) -> int:
    # Below the level where the paths to `index` and `size - 1` meet, every
    # level contributes a sibling; above it, only levels where `index` is a
    # right child do (the border has no right siblings).
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, steps 2 to 5 (without the final root comparison)."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof has more hashes than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:  # skip levels where the node has no right sibling
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("inclusion proof has fewer hashes than the path to the root")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    Raises :class:`VerificationError` on any failure; returns ``None`` on success.
    """
    _check_non_negative(index=index, size=size)
    if index >= size:
        raise VerificationError(f"leaf index {index} is not below tree size {size}")
    _check_hash("leaf hash", leaf_hash)
    expected = _inclusion_proof_length(index, size)
    if len(proof) != expected:
        raise VerificationError(
            f"inclusion proof for leaf {index} in a tree of size {size} has "
            f"{len(proof)} hashes, expected {expected}"
        )
    _check_proof_hashes(proof)
    calculated = _root_from_inclusion(leaf_hash, index, size, proof)
    if calculated != root:
        raise VerificationError(
            f"inclusion proof leads to root {calculated.hex()}, expected {root.hex()}"
        )


def _consistency_proof_length(size1: int, size2: int) -> int:
    # The proof is the part of the inclusion path of leaf size1 - 1 above the
    # largest perfect subtree ending at size1, plus that subtree's hash unless
    # it is the whole old tree (then the verifier already has it as root1).
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = ((size1 - 1) >> inner).bit_count()
    shift = (size1 & -size1).bit_length() - 1
    seed = 0 if size1 == 1 << shift else 1
    return seed + inner - shift + border


def _roots_from_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> tuple[bytes, bytes]:
    """RFC 9162 section 2.1.4.2, steps 2 to 7 (without the final root comparisons)."""
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)  # the old tree is itself a subtree of the new one
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof has more hashes than the path to the root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("consistency proof has fewer hashes than the path to the root")
    return fr, sr


def _verify_equal_sizes(size: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    if proof:
        raise VerificationError(
            f"both trees have size {size}, so the consistency proof must be empty, "
            f"got {len(proof)} hashes"
        )
    if size == 0 and (root1 != EMPTY_ROOT or root2 != EMPTY_ROOT):
        # The empty tree has exactly one root; anything else is a false claim.
        raise VerificationError("a tree of size 0 must have the empty root SHA-256('')")
    if root1 != root2:
        raise VerificationError(
            f"both trees have size {size} but different roots {root1.hex()} and {root2.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree (``size1``, ``root1``) is a prefix of the tree (``size2``, ``root2``).

    Equal sizes need an empty proof and equal roots. ``size1 == 0 < size2`` is
    always rejected: RFC 9162 defines consistency proofs only for
    ``0 < size1 < size2`` (its step 1 fails an empty path), and every tree
    extends the empty one, so such a "proof" would prove nothing. A client
    seeing its first tree head has nothing to check it against.
    Raises :class:`VerificationError` on any failure.
    """
    _check_non_negative(size1=size1, size2=size2)
    if size1 > size2:
        raise VerificationError(f"size1 {size1} > size2 {size2}: a log cannot shrink")
    if size1 == size2:
        _verify_equal_sizes(size1, proof, root1, root2)
        return
    if size1 == 0:
        raise VerificationError(
            "no consistency proof exists from the empty tree (size1 = 0); "
            f"got {len(proof)} hashes for size2 = {size2}"
        )
    if not proof:
        raise VerificationError(f"consistency proof from size {size1} to {size2} is empty")
    expected = _consistency_proof_length(size1, size2)
    if len(proof) != expected:
        raise VerificationError(
            f"consistency proof from size {size1} to {size2} has {len(proof)} hashes, "
            f"expected {expected}"
        )
    _check_proof_hashes(proof)
    fr, sr = _roots_from_consistency(size1, size2, proof, root1)
    for name, got, want in (("root1", fr, root1), ("root2", sr, root2)):
        if got != want:
            raise VerificationError(
                f"consistency proof leads to {name} {got.hex()}, expected {want.hex()}"
            )


# --- proof generation from stored perfect subtrees ------------------------


def perfect_subtrees(start: int, end: int) -> list[NodeKey]:
    """Split the tree node covering leaves ``[start, end)`` into stored perfect subtrees.

    Returns ``(level, index)`` keys left to right, largest first. The range
    must be a node of an RFC 9162 tree, i.e. ``start`` is a multiple of the
    smallest power of two >= ``end - start``. Its hash is then
    :func:`fold_subtrees` of the pieces' hashes (combined from the right,
    because RFC 9162 splits off the largest power of two on the left).
    """
    if not 0 <= start <= end:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    span = 1 << (end - start - 1).bit_length() if end > start else 1
    if start % span:
        raise ValueError(f"leaf range [{start}, {end}) is not a node of an RFC 9162 tree")
    pieces: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        pieces.append((level, start >> level))
        start += 1 << level
    return pieces


def fold_subtrees(piece_hashes: Sequence[bytes]) -> bytes:
    """Hash of a node from its perfect pieces (as ordered by :func:`perfect_subtrees`)."""
    if not piece_hashes:
        raise ValueError("a tree node has at least one perfect piece")
    h = piece_hashes[-1]
    # MTH splits off the largest power of two on the left, so each piece pairs
    # with the hash of everything to its right, not with what precedes it.
    for piece in reversed(piece_hashes[:-1]):
        h = node_hash(piece, h)
    return h


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges of RFC 9162 PATH(index, D[size]), bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not below tree size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start = mid
    return ranges[::-1]


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges of RFC 9162 PROOF(size1, D[size2]), i.e. SUBPROOF(.., true), bottom-up."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"need 0 <= size1 <= size2, got {size1} and {size2}")
    if size1 == size2:
        return []
    if size1 == 0:
        raise ValueError("no consistency proof exists from the empty tree")
    ranges: list[tuple[int, int]] = []
    start, end, whole_old_tree = 0, size2, True
    while end != size1:
        mid = start + _split(end - start)
        if size1 <= mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start, whole_old_tree = mid, False
    if not whole_old_tree:
        # SUBPROOF(m, D[m], false) = [MTH(D[m])]; with b = true the verifier
        # already knows it as root1, so it is left out.
        ranges.append((start, end))
    return ranges[::-1]


def _keys_for(ranges: Sequence[tuple[int, int]]) -> list[NodeKey]:
    keys: dict[NodeKey, None] = {}  # dict keeps first-seen order and drops duplicates
    for start, end in ranges:
        keys.update(dict.fromkeys(perfect_subtrees(start, end)))
    return list(keys)


def _range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    pieces = []
    for key in perfect_subtrees(start, end):
        if key not in nodes:
            raise KeyError(f"stored node (level={key[0]}, index={key[1]}) was not provided")
        pieces.append(nodes[key])
    return fold_subtrees(pieces)


def nodes_needed_for_root(size: int) -> list[NodeKey]:
    """Stored nodes that :func:`root_from_nodes` reads: one per set bit of ``size``."""
    return perfect_subtrees(0, size)


def nodes_needed_for_inclusion(index: int, size: int) -> list[NodeKey]:
    """Stored nodes that :func:`inclusion_proof` reads (at most ~2 log2(size))."""
    return _keys_for(_inclusion_ranges(index, size))


def nodes_needed_for_consistency(size1: int, size2: int) -> list[NodeKey]:
    """Stored nodes that :func:`consistency_proof` reads (at most ~2 log2(size2))."""
    return _keys_for(_consistency_ranges(size1, size2))


def root_from_nodes(size: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """Root hash of the tree of ``size`` leaves from the nodes of :func:`nodes_needed_for_root`."""
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, nodes)


def inclusion_proof(index: int, size: int, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """RFC 9162 inclusion proof PATH(index, D[size]), leaf to root, from stored nodes."""
    return [_range_hash(start, end, nodes) for start, end in _inclusion_ranges(index, size)]


def consistency_proof(size1: int, size2: int, nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """RFC 9162 consistency proof PROOF(size1, D[size2]) from stored nodes.

    Empty for equal sizes; ``ValueError`` for ``size1 == 0 < size2``, which
    has no proof (see :func:`verify_consistency`).
    """
    return [_range_hash(start, end, nodes) for start, end in _consistency_ranges(size1, size2)]


def new_perfect_nodes(
    size_before: int, new_leaf_hashes: Sequence[bytes], read: Callable[[int, int], bytes]
) -> list[tuple[int, int, bytes]]:
    """Perfect subtrees completed by appending ``new_leaf_hashes`` to a tree of ``size_before``.

    Returns ``(level, index, hash)`` for every new leaf and every interior
    node that became complete, in creation order (children before parents).
    ``read(level, index)`` fetches stored nodes; it is only asked for left
    siblings that existed before this call, which are among the
    ``popcount(size_before)`` nodes of :func:`nodes_needed_for_root`, and each
    at most once. Work is O(k + log n) for k new leaves.
    """
    if size_before < 0:
        raise ValueError(f"size_before must not be negative, got {size_before}")
    created: dict[NodeKey, bytes] = {}
    fetched: dict[NodeKey, bytes] = {}

    def left_sibling(key: NodeKey) -> bytes:
        if key in created:
            return created[key]
        if key not in fetched:
            value = read(*key)
            if len(value) != HASH_SIZE:
                raise ValueError(f"stored node {key} is {len(value)} bytes, expected {HASH_SIZE}")
            fetched[key] = value
        return fetched[key]

    result: list[tuple[int, int, bytes]] = []
    for offset, leaf in enumerate(new_leaf_hashes):
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"new leaf hash #{offset} is {len(leaf)} bytes, expected {HASH_SIZE}")
        level, index, h = 0, size_before + offset, leaf
        created[(level, index)] = h
        result.append((level, index, h))
        while index & 1:  # a right child just became complete, so its parent did too
            h = node_hash(left_sibling((level, index - 1)), h)
            level, index = level + 1, index >> 1
            created[(level, index)] = h
            result.append((level, index, h))
    return result
