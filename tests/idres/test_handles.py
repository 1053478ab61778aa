"""The identifier model: parsing, validation and ASCII case folding."""
from __future__ import annotations

import pytest

from idres.errors import InvalidHandle
from idres.handles import fold, is_within, parse_handle, prefix_record


def test_parse_keeps_spelling_and_folds_key() -> None:
    h = parse_handle("88.118.8/ENG-2026-000123")
    assert (h.prefix, h.suffix, h.text) == ("88.118.8", "ENG-2026-000123", "88.118.8/ENG-2026-000123")
    assert h.key == "88.118.8/eng-2026-000123"


def test_fold_touches_only_ascii_letters() -> None:
    assert fold("ABC-Äé-ǅ") == "abc-Äé-ǅ"


def test_suffix_may_contain_slashes_and_unicode() -> None:
    h = parse_handle("88.118.8/lot/2026/零件")
    assert h.suffix == "lot/2026/零件"


@pytest.mark.parametrize("text, reason", [
    ("", "Empty"),
    ("88.118.8", "prefix/suffix"),
    ("88.118.8/", "prefix/suffix"),
    ("/ENG-1", "Empty prefix"),
    ("88..118/x", "Invalid prefix"),
    ("88.118 8/x", "Invalid prefix"),
    ("88.118.8/a\x00b", "control"),
    ("88.118.8/a\nb", "control"),
    ("88.118.8/a\x7fb", "control"),
    ("88.118.8/" + "x" * 247, "255 bytes"),
    ("88.118.8/" + "é" * 124, "255 bytes"),
    ("0.NA/88 118", "Invalid prefix"),
])
def test_bad_handles_are_rc_102(text: str, reason: str) -> None:
    with pytest.raises(InvalidHandle) as info:
        parse_handle(text)
    assert info.value.rc == 102 and info.value.status == 400
    assert reason in info.value.message


def test_255_bytes_is_the_limit() -> None:
    ok = "88.118.8/" + "x" * (255 - len("88.118.8/"))
    assert len(parse_handle(ok).text.encode()) == 255


def test_prefix_records() -> None:
    record = prefix_record("88.118.8")
    assert record.text == "0.NA/88.118.8" and record.is_prefix_record
    assert parse_handle("0.na/88.118.8").is_prefix_record
    assert not parse_handle("88.118.8/0.NA").is_prefix_record


def test_is_within() -> None:
    assert is_within("88.118.8", "88.118") and is_within("88.118", "88.118")
    assert not is_within("88.1189", "88.118") and not is_within("88.11", "88.118")
