"""What CBAM covers: goods by CN code, default-value mark-ups by year, country codes.

REFERENCE section 7: CN chapter 72 (most), headings 7301-7311, 7318, 7326,
7601, 7603-7614 and 7616 are CBAM goods; springs (7320), vehicle parts
(8708) and engine parts (8409) are not.  "Most" of chapter 72 follows Annex I
of Regulation (EU) 2023/956: ferro-alloys other than ferro-manganese,
ferro-chromium and ferro-nickel (parts of 7202) and ferrous waste and scrap
(7204) are out.
"""
from __future__ import annotations

from decimal import Decimal

# Four-digit headings (besides chapter 72) whose every code is a CBAM good.
_HEADINGS = frozenset(
    [str(h) for h in range(7301, 7312)] + ["7318", "7326", "7601"]
    + [str(h) for h in range(7603, 7615)] + ["7616"])
# Codes starting with these are outside CBAM although their heading or chapter is in.
_EXCLUDED = ("72022", "72023000", "72025000", "72027000", "72028000", "72029100", "72029200",
             "72029300", "72029910", "72029930", "72029980", "7204")

FIRST_YEAR = 2026  # the definitive period begins on 2026-01-01
_MARKUPS = {2026: Decimal("0.10"), 2027: Decimal("0.20")}
LATER_MARKUP = Decimal("0.30")  # from 2028 on

# ISO 3166-1 alpha-2, plus XK (Kosovo), which the EU's code lists use.
COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW""".split())


def _in_headings(code: str) -> bool:
    return code.startswith("72") or code[:4] in _HEADINGS


def is_cbam_good(cn_code: str | None) -> bool:
    """True for an 8-digit CN code of a good CBAM covers (iron, steel, aluminium)."""
    if not cn_code or len(cn_code) != 8 or not cn_code.isdigit():
        return False
    return _in_headings(cn_code) and not cn_code.startswith(_EXCLUDED)


def is_cbam_prefix(prefix: str) -> bool:
    """True when every CN code starting with ``prefix`` (4, 6 or 8 digits) is a CBAM good.

    Default-value tables are published per heading or subheading as well as
    per 8-digit code; a row may only cover codes that are all in scope.
    """
    if len(prefix) not in (4, 6, 8) or not prefix.isdigit() or not _in_headings(prefix):
        return False
    return not prefix.startswith(_EXCLUDED) and not any(x.startswith(prefix) for x in _EXCLUDED)


def markup(year: int) -> Decimal:
    """The mark-up on default values for goods imported in ``year``: 10 %, 20 %, then 30 %."""
    if year < FIRST_YEAR:
        raise ValueError(f"the CBAM definitive period begins in {FIRST_YEAR}")
    return _MARKUPS.get(year, LATER_MARKUP)
