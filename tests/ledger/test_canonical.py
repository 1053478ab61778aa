"""ledger.log.canonical: the json fast path is byte-identical to rfc8785, and falls back when not.

A property test over random JSON-like trees (control characters, quotes,
backslashes, U+2028, BMP and astral characters in keys and values, integer
bounds, floats, tuples, lone surrogates) compares ``canonical`` with
``rfc8785.dumps``: the same bytes, or the same exception type.
"""
from __future__ import annotations

import json
import random
from typing import Any

import pytest
import rfc8785

from ledger import log as ledger_log
from ledger.log import canonical

# Characters chosen to hit every escaping and ordering rule.
CONTROLS = [chr(c) for c in range(0x20)] + ['"', "\\", "/", "\x7f"]
BMP = ["a", "Z", "0", " ", "é", "ß", "\u00ff", "\u0100", "\u2028", "\u2029", "中", "✓",
       "\ue000", "\uf8ff", "\ufb33", "\ufeff", "\ufffd", "\uffff"]
ASTRAL = ["\U0001f600", "\U00010000", "\U0010ffff", "\U0001d11e"]
SURROGATES = ["\ud800", "\udfff", "\udc00"]
SAFE = 2**53 - 1


def _text(rnd: random.Random, astral: float, surrogate: float) -> str:
    out = []
    for _ in range(rnd.randint(0, 8)):
        pick = rnd.random()
        if pick < surrogate:
            out.append(rnd.choice(SURROGATES))
        elif pick < surrogate + astral:
            out.append(rnd.choice(ASTRAL))
        elif pick < 0.35:
            out.append(rnd.choice(CONTROLS))
        else:
            out.append(rnd.choice(BMP))
    return "".join(out)


def _scalar(rnd: random.Random, odd: bool) -> Any:
    kinds = ["str", "str", "int", "bool", "none", "bound"]
    if odd:
        kinds += ["float", "big", "surrogate"]
    kind = rnd.choice(kinds)
    if kind == "str":
        return _text(rnd, astral=0.1, surrogate=0.0)
    if kind == "int":
        return rnd.randint(-10**6, 10**6)
    if kind == "bool":
        return rnd.random() < 0.5
    if kind == "none":
        return None
    if kind == "bound":
        return rnd.choice([SAFE, -SAFE, 0, -1, SAFE - 1])
    if kind == "float":
        return rnd.choice([1.5, 2.0, 1e21, -0.0, 5e-7, 123.456])
    if kind == "big":
        return rnd.choice([SAFE + 1, -SAFE - 1, 2**64])
    return _text(rnd, astral=0.0, surrogate=0.5) + rnd.choice(SURROGATES)


def _tree(rnd: random.Random, depth: int, odd: bool) -> Any:
    pick = rnd.random()
    if depth <= 0 or pick < 0.4:
        return _scalar(rnd, odd)
    if pick < 0.7:
        items = [_tree(rnd, depth - 1, odd) for _ in range(rnd.randint(0, 4))]
        return tuple(items) if odd and rnd.random() < 0.1 else items
    astral = 0.15 if odd else 0.0
    return {_text(rnd, astral=astral, surrogate=0.0): _tree(rnd, depth - 1, odd)
            for _ in range(rnd.randint(0, 5))}


def _event(rnd: random.Random, odd: bool) -> dict[str, Any]:
    """An event-shaped object with random extra fields."""
    event = {"event_id": f"{rnd.getrandbits(128):032x}", "event_type": "inspected",
             "event_time": "2026-11-05T10:00:00+08:00", "actor": "88.118.8",
             "handles": [f"88.118.8/ENG-{rnd.randint(0, 10**6):06}"], "result": "conformant"}
    for _ in range(rnd.randint(0, 6)):
        event[_text(rnd, astral=0.1 if odd else 0.0, surrogate=0.0)] = _tree(rnd, 3, odd)
    return event


def _outcome(fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except Exception as err:  # noqa: BLE001 - the exception type is the outcome
        return type(err)


@pytest.mark.parametrize("odd", [False, True], ids=["plain", "with-fallbacks"])
def test_byte_identical_to_rfc8785(odd: bool) -> None:
    rnd = random.Random(8785 + odd)
    fast = 0
    for _ in range(5_000):
        event = _event(rnd, odd)
        assert _outcome(canonical, event) == _outcome(rfc8785.dumps, event), event
        fast += ledger_log._plain(event)
    if not odd:
        assert fast == 5_000  # plain trees really take the json path
    else:
        assert 0 < fast < 5_000  # and both paths were exercised


def test_plain_values_take_the_json_path() -> None:
    value = {"b": [1, True, None, "x\u2028\x00\x1f\"\\\x7f😀"], "a": {"é": -SAFE, "z": SAFE}}
    assert ledger_log._plain(value)
    assert canonical(value) == rfc8785.dumps(value)
    assert canonical(value) == json.dumps(value, sort_keys=True, separators=(",", ":"),
                                          ensure_ascii=False).encode("utf-8")


def test_non_bmp_keys_fall_back_to_utf16_order() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FB33; by code point it sorts after.
    value = {"\ufb33": 1, "\U0001f600": 2}
    assert not ledger_log._plain(value)
    assert canonical(value) == rfc8785.dumps(value) == '{"\U0001f600":2,"\ufb33":1}'.encode("utf-8")
    assert canonical(value) != json.dumps(value, sort_keys=True, separators=(",", ":"),
                                          ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("value", [
    {"x": 1.5}, {"x": 2.0}, {"x": (1, 2)}, {1: "int key"}, {"x": SAFE + 1},
    {"x": type("I", (int,), {})(1)}, {"x": type("S", (str,), {})("sub")}, {"x": {"\ud800": 1}},
])
def test_everything_else_goes_to_rfc8785(value: Any) -> None:
    assert not ledger_log._plain(value)
    assert _outcome(canonical, value) == _outcome(rfc8785.dumps, value)


def test_lone_surrogate_in_a_value_is_rejected_like_rfc8785() -> None:
    value = {"x": "a\ud800"}
    assert ledger_log._plain(value)  # json could render it, but not as UTF-8
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical(value)
