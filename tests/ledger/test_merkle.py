"""Tests for ledger.merkle: published vectors, RFC 9162 definitions, random trees."""
from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import (
    EMPTY_ROOT,
    NodeKey,
    VerificationError,
    consistency_proof,
    fold_subtrees,
    inclusion_proof,
    leaf_hash,
    new_perfect_nodes,
    node_hash,
    nodes_needed_for_consistency,
    nodes_needed_for_inclusion,
    nodes_needed_for_root,
    perfect_subtrees,
    root_from_nodes,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# The shared data folder sits beside the project root (/work/shared next to /work/main).
VECTORS = Path(__file__).resolve().parents[3] / "shared" / "data" / "merkle"


# --- helpers --------------------------------------------------------------


def _vector_files(kind: str) -> list[Any]:
    files = sorted((VECTORS / kind).rglob("*.json")) if VECTORS.is_dir() else []
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no vectors in {VECTORS}"))]
    return [pytest.param(f, id=str(f.relative_to(VECTORS / kind))) for f in files]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    for key in ("root", "root1", "root2", "leafHash"):
        if key in data:
            data[key] = base64.b64decode(data[key])
    data["proof"] = [base64.b64decode(p) for p in data["proof"] or []]
    return data


def _eight_leaves() -> list[bytes]:
    if not VECTORS.is_dir():
        pytest.skip(f"vectors directory {VECTORS} is absent")
    tree = json.loads((VECTORS / "tree-8-leaves.json").read_text())
    return [leaf_hash(bytes.fromhex(x)) for x in tree["leaf_inputs_hex"]]


def _check_vector_convention(path: Path, kind: str, want_err: bool) -> None:
    # README: in the numbered directories only happy-path.json verifies.
    if path.parent.name.isdigit() and path.parent.parent.name == kind:
        assert want_err == (path.name != "happy-path.json")


def _build_store(leaves: list[bytes], rng: random.Random, max_batch: int) -> dict[NodeKey, bytes]:
    store: dict[NodeKey, bytes] = {}
    size = 0
    while size < len(leaves):
        batch = leaves[size:size + rng.randint(1, max_batch)]
        for level, index, h in new_perfect_nodes(size, batch, lambda lv, ix: store[(lv, ix)]):
            store[(level, index)] = h
        size += len(batch)
    return store


def _rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1, transcribed literally."""
    n = len(d)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return _rfc_path(m, d[:k]) + [root_of(d[k:])]
    return _rfc_path(m - k, d[k:]) + [root_of(d[:k])]


def _rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1, transcribed literally."""
    n = len(d)
    if m == n:
        return [] if b else [root_of(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _rfc_subproof(m, d[:k], b) + [root_of(d[k:])]
    return _rfc_subproof(m - k, d[k:], False) + [root_of(d[:k])]


def _random_leaves(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [leaf_hash(rng.randbytes(rng.randint(0, 40))) for _ in range(n)]


def _flip(proof: list[bytes], position: int, byte: int) -> list[bytes]:
    changed = bytearray(proof[position])
    changed[byte] ^= 0x10
    return proof[:position] + [bytes(changed)] + proof[position + 1:]


def _log_bound(n: int) -> int:  # the "c * log2(n) + c" budget for stored-node reads, c = 2
    return 2 * n.bit_length() + 2


# --- hashing and published vectors ----------------------------------------


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert node_hash(b"a", b"b") != node_hash(b"b", b"a")
    assert leaf_hash(b"\x01ab") != node_hash(b"a", b"b")  # domain separation


def test_tree_8_leaves_roots() -> None:
    leaves = _eight_leaves()
    expected = json.loads((VECTORS / "tree-8-leaves.json").read_text())["root_by_size_hex"]
    store = _build_store(leaves, random.Random(1), 3)
    for size, root_hex in enumerate(expected):
        assert root_of(leaves[:size]).hex() == root_hex
        assert root_from_nodes(size, store).hex() == root_hex


@pytest.mark.parametrize("path", _vector_files("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    _check_vector_convention(path, "inclusion", v["wantErr"])
    args = (v["leafHash"], v["leafIdx"], v["treeSize"], v["proof"], v["root"])
    if v["wantErr"]:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _vector_files("consistency"))
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    _check_vector_convention(path, "consistency", v["wantErr"])
    args = (v["size1"], v["size2"], v["proof"], v["root1"], v["root2"])
    if v["wantErr"]:
        with pytest.raises(VerificationError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_generated_proofs_equal_published_happy_paths() -> None:
    leaves = _eight_leaves()
    store = _build_store(leaves, random.Random(2), 8)
    checked = 0
    for path in sorted(VECTORS.glob("*/*/happy-path.json")):
        v = _load(path)
        if "leafIdx" in v and v["root"] == root_of(leaves[:v["treeSize"]]):
            assert inclusion_proof(v["leafIdx"], v["treeSize"], store) == v["proof"]
            checked += 1
        elif "size1" in v and v["root2"] == root_of(leaves[:v["size2"]]):
            assert consistency_proof(v["size1"], v["size2"], store) == v["proof"]
            checked += 1
    assert checked >= 8


# --- precise failures -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((b"\0" * 32, 3, 3, [], EMPTY_ROOT), "not below tree size"),
        ((b"\0" * 32, -1, 3, [], EMPTY_ROOT), "must not be negative"),
        ((b"\0" * 31, 0, 1, [], EMPTY_ROOT), "leaf hash is 31 bytes"),
        ((b"\0" * 32, 0, 4, [b"\0" * 32], EMPTY_ROOT), "has 1 hashes, expected 2"),
        ((b"\0" * 32, 0, 2, [b""], EMPTY_ROOT), "proof hash #0 is 0 bytes"),
        ((b"\0" * 32, 0, 1, [], EMPTY_ROOT), "leads to root"),
    ],
)
def test_inclusion_messages(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        verify_inclusion(*args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((3, 2, [], EMPTY_ROOT, EMPTY_ROOT), "cannot shrink"),
        ((2, 2, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT), "must be empty"),
        ((0, 0, [], b"x" * 32, b"x" * 32), "empty root"),
        ((2, 2, [], b"a" * 32, b"b" * 32), "different roots"),
        ((0, 5, [], EMPTY_ROOT, b"b" * 32), "empty tree"),
        ((3, 5, [], b"a" * 32, b"b" * 32), "is empty"),
        ((3, 5, [b"c" * 32], b"a" * 32, b"b" * 32), "has 1 hashes, expected"),
    ],
)
def test_consistency_messages(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        verify_consistency(*args)


def test_equal_sizes_are_consistent() -> None:
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    verify_consistency(7, 7, [], b"r" * 32, b"r" * 32)
    assert consistency_proof(5, 5, {}) == []


def test_generation_rejects_impossible_requests() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(4, 4, {})
    with pytest.raises(ValueError):
        consistency_proof(0, 3, {})
    with pytest.raises(ValueError):
        consistency_proof(4, 3, {})
    with pytest.raises(KeyError, match="level=2, index=0"):
        root_from_nodes(4, {})


# --- perfect subtrees -------------------------------------------------------


def test_perfect_subtrees_right_fold_is_mth() -> None:
    leaves = _random_leaves(64, seed=3)
    for start in range(64):
        for end in range(start + 1, 65):
            span = 1 << (end - start - 1).bit_length()
            if start % span:
                with pytest.raises(ValueError, match="not a node"):
                    perfect_subtrees(start, end)
                continue
            pieces = perfect_subtrees(start, end)
            hashes = [root_of(leaves[i << lv:(i + 1) << lv]) for lv, i in pieces]
            assert fold_subtrees(hashes) == root_of(leaves[start:end])
            assert len(pieces) == (end - start).bit_count()


def test_left_fold_would_be_wrong() -> None:
    # Why the fold goes from the right: for 7 leaves = 4 + 2 + 1 pieces,
    # MTH = H(p4, H(p2, p1)), not H(H(p4, p2), p1).
    leaves = _random_leaves(7, seed=4)
    p4, p2, p1 = root_of(leaves[:4]), root_of(leaves[4:6]), leaves[6]
    assert fold_subtrees([p4, p2, p1]) == root_of(leaves)
    assert node_hash(node_hash(p4, p2), p1) != root_of(leaves)
    assert perfect_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert perfect_subtrees(0, 0) == [] == nodes_needed_for_root(0)


# --- random trees -----------------------------------------------------------


def _all_perfect_nodes(leaves: list[bytes]) -> dict[NodeKey, bytes]:
    nodes: dict[NodeKey, bytes] = {}
    level = 0
    while (1 << level) <= len(leaves):
        for index in range(len(leaves) >> level):
            nodes[(level, index)] = root_of(leaves[index << level:(index + 1) << level])
        level += 1
    return nodes


@pytest.mark.parametrize("seed", range(6))
def test_new_perfect_nodes_batches(seed: int) -> None:
    rng = random.Random(seed)
    leaves = _random_leaves(rng.randint(1, 300), seed)
    store: dict[NodeKey, bytes] = {}
    size = 0
    while size < len(leaves):
        batch = leaves[size:size + rng.choice([1, 1, 2, 3, 7, 16, 33, 100])]
        reads: list[NodeKey] = []

        def read(level: int, index: int) -> bytes:
            reads.append((level, index))
            return store[(level, index)]

        new = new_perfect_nodes(size, batch, read)
        assert len(reads) == len(set(reads)) <= size.bit_count()
        assert set(reads) <= set(nodes_needed_for_root(size))
        # Exactly the perfect subtrees of the bigger tree that the smaller lacked.
        after = size + len(batch)
        assert len(new) == 2 * len(batch) - after.bit_count() + size.bit_count()
        assert not {(lv, ix) for lv, ix, _ in new} & store.keys()
        store.update({(lv, ix): h for lv, ix, h in new})
        size = after
    assert store == _all_perfect_nodes(leaves)


def test_new_perfect_nodes_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="31 bytes"):
        new_perfect_nodes(0, [b"x" * 31], lambda lv, ix: b"")
    with pytest.raises(ValueError, match="expected 32"):
        new_perfect_nodes(1, [b"x" * 32], lambda lv, ix: b"short")
    assert new_perfect_nodes(5, [], lambda lv, ix: b"") == []


def _only(store: dict[NodeKey, bytes], keys: list[NodeKey], n: int) -> dict[NodeKey, bytes]:
    """The subset of the store a caller would read; also checks keys exist at size n."""
    assert len(keys) == len(set(keys)) <= _log_bound(n)
    assert all((index + 1) << level <= n for level, index in keys)
    return {key: store[key] for key in keys}


def _check_inclusion(store: dict[NodeKey, bytes], leaves: list[bytes], index: int, n: int,
                     root: bytes, rng: random.Random) -> None:
    proof = inclusion_proof(index, n, _only(store, nodes_needed_for_inclusion(index, n), n))
    assert proof == _rfc_path(index, leaves[:n])
    verify_inclusion(leaves[index], index, n, proof, root)
    leaf = leaves[index]
    shorter = [proof[:-1], proof[1:]] if proof else []
    bad_proofs = [proof + [root], [root] + proof, *shorter]
    bad_proofs += [_flip(proof, pos, rng.randrange(32)) for pos in range(len(proof))]
    bad_args: list[tuple[Any, ...]] = [(leaf, index, n, bad, root) for bad in bad_proofs]
    bad_args += [(leaf, index, n, proof, b"\0" * 32), (leaf_hash(leaf), index, n, proof, root)]
    bad_args += [(leaf, index, 2 * n, proof, root)]
    bad_args += [(leaf, other, n, proof, root) for other in rng.sample(range(n), min(n, 4))
                 if other != index]
    for args in bad_args:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)


def _check_consistency(store: dict[NodeKey, bytes], leaves: list[bytes], m: int, n: int,
                       roots: list[bytes], rng: random.Random) -> None:
    proof = consistency_proof(m, n, _only(store, nodes_needed_for_consistency(m, n), n))
    assert proof == _rfc_subproof(m, leaves[:n], True)
    verify_consistency(m, n, proof, roots[m], roots[n])
    if m == n:
        return
    r1, r2 = roots[m], roots[n]
    bad_proofs = [proof[:-1], proof[1:], proof + [r1], [r2] + proof]
    bad_proofs += [_flip(proof, pos, rng.randrange(32)) for pos in range(len(proof))]
    bad_args: list[tuple[Any, ...]] = [(m, n, bad, r1, r2) for bad in bad_proofs]
    zero = b"\0" * 32
    bad_args += [(m, n, proof, r2, r1), (m, n, proof, zero, r2), (m, n, proof, r1, zero)]
    bad_args += [(m, 2 * n, proof, r1, r2), (m - 1, n, proof, r1, r2), (m + 1, n, proof, r1, r2)]
    for args in bad_args:
        with pytest.raises(VerificationError):
            verify_consistency(*args)


@pytest.mark.parametrize("seed", range(3))
def test_random_trees_up_to_300(seed: int) -> None:
    rng = random.Random(100 + seed)
    leaves = _random_leaves(300, seed)
    roots = [root_of(leaves[:n]) for n in range(301)]
    store: dict[NodeKey, bytes] = {}
    size = 0
    while size < len(leaves):
        # Grow in random batches and check proofs at every intermediate size,
        # using only what the store holds at that size.
        batch = leaves[size:size + rng.choice([1, 1, 1, 2, 5, 13])]
        store.update({(lv, ix): h for lv, ix, h in
                      new_perfect_nodes(size, batch, lambda lv, ix: store[(lv, ix)])})
        size += len(batch)
        assert root_from_nodes(size, _only(store, nodes_needed_for_root(size), size)) == roots[size]
        exhaustive = size <= 24
        indexes = range(size) if exhaustive else rng.sample(range(size), 3)
        for index in indexes:
            _check_inclusion(store, leaves, index, size, roots[size], rng)
        olds = range(1, size + 1) if exhaustive else rng.sample(range(1, size + 1), 3) + [size]
        for old in olds:
            _check_consistency(store, leaves, old, size, roots, rng)


def test_every_byte_of_a_proof_matters() -> None:
    leaves = _random_leaves(13, seed=7)
    store = _all_perfect_nodes(leaves)
    root, root5 = root_of(leaves), root_of(leaves[:5])
    incl = inclusion_proof(9, 13, store)
    cons = consistency_proof(5, 13, store)
    for position in range(len(incl)):
        for byte in range(32):
            with pytest.raises(VerificationError):
                verify_inclusion(leaves[9], 9, 13, _flip(incl, position, byte), root)
    for position in range(len(cons)):
        for byte in range(32):
            with pytest.raises(VerificationError):
                verify_consistency(5, 13, _flip(cons, position, byte), root5, root)


def test_node_reads_grow_logarithmically() -> None:
    for n in (1, 2, 3, 255, 256, 257, 1000, 2**20 - 1, 2**20 + 12345, 2**40 + 7):
        assert len(nodes_needed_for_root(n)) == n.bit_count()
        for index in {0, n // 3, n // 2, n - 2, n - 1} - {-1}:
            assert len(nodes_needed_for_inclusion(index, n)) <= _log_bound(n)
        for old in {1, n // 3, n // 2, n - 1, n} - {0}:
            assert len(nodes_needed_for_consistency(old, n)) <= _log_bound(n)
