"""CBAM scope, mark-ups and the default-value table, without a database."""
from __future__ import annotations

from decimal import Decimal

import pytest

from idres.carbon.defaults import SHIPPED_CSV, DefaultValue, match, parse_csv
from idres.carbon.scope import is_cbam_good, is_cbam_prefix, markup
from idres.errors import BadRequest

HEADER = "country,cn_code,direct,indirect,source\n"


@pytest.mark.parametrize("code, covered", [
    ("73181590", True), ("72139110", True), ("73269098", True), ("76012000", True), ("76169910", True),
    ("73069000", True), ("76149000", True), ("72024190", True),
    ("73202081", False), ("87089997", False), ("84099100", False), ("76020000", False),
    ("76151000", False), ("73120000", False), ("72044910", False), ("72029980", False),
    ("7318159", False), ("731815900", False), ("7318159a", False), (None, False)])
def test_cbam_goods_follow_reference_section_7(code, covered):
    assert is_cbam_good(code) is covered


def test_a_default_row_may_only_cover_codes_all_in_scope():
    assert is_cbam_prefix("7318") and is_cbam_prefix("720241") and is_cbam_prefix("7616")
    assert not is_cbam_prefix("72") and not is_cbam_prefix("7202") and not is_cbam_prefix("7320")
    assert not is_cbam_prefix("73181") and not is_cbam_prefix("8708")


def test_markup_by_year():
    assert [markup(y) for y in (2026, 2027, 2028, 2035)] == [Decimal("0.10"), Decimal("0.20"),
                                                           Decimal("0.30"), Decimal("0.30")]
    with pytest.raises(ValueError):
        markup(2025)


def test_longest_prefix_of_the_country_wins_then_any_country():
    rows = [DefaultValue("CN", "7318", Decimal("2.6"), Decimal("0.7"), "t"),
            DefaultValue("CN", "731815", Decimal("2.55"), Decimal("0.7"), "t"),
            DefaultValue("*", "73181590", Decimal("9"), Decimal("9"), "t")]
    assert match(rows, "CN", "73181590").cn_code == "731815"
    assert match(rows, "CN", "73182100").cn_code == "7318"
    assert match(rows, "IN", "73181590").country == "*"
    assert match(rows, None, "73181590").country == "*"
    assert match(rows, "IN", "73182100") is None


def test_the_shipped_table_parses_and_says_it_is_illustrative():
    text = SHIPPED_CSV.read_text(encoding="utf-8")
    assert "ILLUSTRATIVE PLACEHOLDERS" in text and "NOT the official default values" in text
    rows = parse_csv(text, SHIPPED_CSV.name)
    assert len(rows) >= 10 and all(is_cbam_prefix(r.cn_code) for r in rows)


@pytest.mark.parametrize("lines, field", [
    ("CN,8708,1.0,0.1,x\n", "line 2.cn_code"),
    ("CN,7320,1.0,0.1,x\n", "line 2.cn_code"),
    ("CN,731815901,1.0,0.1,x\n", "line 2.cn_code"),
    ("XX,7318,1.0,0.1,x\n", "line 2.country"),
    ("CN,7318,-1.0,0.1,x\n", "line 2.direct"),
    ("CN,7318,1e3,0.1,x\n", "line 2.direct"),
    ("CN,7318,1.0,,x\n", "line 2.indirect"),
    ("CN,7318,1.0\n", "line 2"),
    ("CN,7318,1.0,0.1,x\n# comment\nCN,7318,2.0,0.1,x\n", "line 4.cn_code"),
])
def test_a_bad_line_is_named(lines, field):
    with pytest.raises(BadRequest) as err:
        parse_csv(HEADER + lines, "test")
    assert err.value.field == field, err.value.message


def test_the_header_is_required():
    with pytest.raises(BadRequest) as err:
        parse_csv("land,cn,d,i\nCN,7318,1,1\n", "test")
    assert err.value.field == "line 1"
