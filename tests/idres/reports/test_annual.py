"""The definitive-period annual summary over the shared plant: figures by hand, CSV, de minimis."""
from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

from tests.conftest import ADMIN_AUTH, ENT, ENT_AUTH, OTHER_AUTH
from tests.idres.carbon import HEAVY_IMPORTER, IMPORTER
from tests.idres.reports import post_report

SEVEN = Decimal("0.0000001")


def q7(value: Decimal) -> str:
    return format(value.quantize(SEVEN, rounding=ROUND_HALF_UP), "f")


def annual(shared, body: dict, auth: dict = ENT_AUTH, status: int = 200, query: str = "") -> dict:
    return post_report(shared.client, "annual", body, auth, status, query).json


# Per good (grams, direct and indirect SEE in 2026), all made at CN-BOLT-01 (see test_quarterly):
BOLTS_2026 = {"A3": (52, "2.418", "0.4836"), "B1": (52, "2.63", "0.568"), "B2": (52, "2.63", "0.568"),
              "D1": (52, "2.526", "0.594"), "E1": (52, "1.98", "0.33"), "G1": (52, "2.1", "0"),
              "G2": (104, "2.1", "0")}
# Emissions resting on defaults: E1 wholly (1.98 + 0.33), D1's coil (2.376 + 0.594), grams CO2e per gram
DEFAULT_G = 52 * (Decimal("1.98") + Decimal("0.33")) + 52 * (Decimal("2.376") + Decimal("0.594"))


def test_the_bolts_shipped_to_one_importer_in_2026(shared):
    """One row (CN 73181590, CN-BOLT-01): 416 g, direct 961.168 g CO2e, indirect 132.2672 g."""
    answer = annual(shared, {"importer": IMPORTER, "year": 2026})
    direct = sum(m * Decimal(d) for m, d, _ in BOLTS_2026.values()) / 10**6
    indirect = sum(m * Decimal(i) for m, _, i in BOLTS_2026.values()) / 10**6
    assert (direct, indirect) == (Decimal("0.000961168"), Decimal("0.0001322672"))
    (row,) = answer["rows"]
    assert row == {
        "cn_code": "73181590", "installation_id": "CN-BOLT-01", "country": "CN", "goods": 7,
        "net_mass_t": "0.000416", "see_direct": "2.3105000", "see_indirect": "0.3179500",
        "direct_emissions_t": q7(direct), "indirect_emissions_t": q7(indirect),
        "total_embedded_emissions_t": q7(direct + indirect),
        "emissions_counted_t": q7(direct),          # steel: only direct emissions count from 2026
        "carbon_price_paid_eur_per_tco2e": None, "carbon_price_deduction_t": "0.0000000",
        "certificates": q7(direct), "default_share": q7(DEFAULT_G / 10**6 / (direct + indirect))}
    totals = answer["totals"]
    assert (totals["net_mass_t"], totals["certificates_whole"], totals["de_minimis"],
            totals["certificates_to_surrender"]) == ("0.000416", 1, True, 0)
    assert answer["left_out"] == {"not a CBAM good": 2}  # K1 (CN 8409) and the spring S1 (CN 7320)
    assert (answer["shipped_handles"], answer["markup"], answer["exporter"]) == (9, "0.10", ENT)


def test_the_next_year_takes_that_years_markup(shared):
    """2027: only D1 was shipped; its coil's default is 2.00 x 1.2 x 1.08 = 2.592 (0.648 indirect)."""
    (row,) = annual(shared, {"importer": IMPORTER, "year": 2027})["rows"]
    assert (row["goods"], row["see_direct"], row["see_indirect"]) == (1, "2.7420000", "0.6480000")
    assert row["direct_emissions_t"] == q7(52 * Decimal("2.742") / 10**6)


def test_over_the_threshold_with_carbon_price_paid(shared):
    """HEAVY: 60 t of rod from IN-MILL-B without data: the '*' default 3.00 / 0.90 x 1.1 = 3.3 / 0.99.
    Direct 198 t, indirect 59.4 t; counted 198 t.  Price paid in India 10 EUR/t at a certificate
    price of 80 EUR: 198 x 10 / 80 = 24.75 certificates less, 173.25, rounded up to 174."""
    body = {"importer": HEAVY_IMPORTER, "year": 2026, "certificate_price": "80",
            "carbon_prices_paid": [{"country": "IN", "eur_per_tco2e": "10"}]}
    answer = annual(shared, body, OTHER_AUTH)
    (row,) = answer["rows"]
    assert (row["cn_code"], row["installation_id"], row["country"], row["net_mass_t"]) == (
        "72139110", "IN-MILL-B", "IN", "60.000000")
    assert (row["see_direct"], row["see_indirect"], row["direct_emissions_t"], row["indirect_emissions_t"],
            row["total_embedded_emissions_t"], row["emissions_counted_t"]) == (
        "3.3000000", "0.9900000", "198.0000000", "59.4000000", "257.4000000", "198.0000000")
    assert (row["carbon_price_paid_eur_per_tco2e"], row["carbon_price_deduction_t"], row["certificates"],
            row["default_share"]) == ("10", "24.7500000", "173.2500000", "1.0000000")
    totals = answer["totals"]
    assert (totals["de_minimis"], totals["certificates_whole"], totals["certificates_to_surrender"],
            totals["cost_eur"]) == (False, 174, 174, "13920.00")
    # the installation's own price wins over its country's: 198 x 20 / 80 = 49.5 -> 148.5 -> 149
    body["carbon_prices_paid"].append({"installation_id": "in-mill-b", "eur_per_tco2e": "20"})
    assert annual(shared, body, OTHER_AUTH)["totals"]["certificates_to_surrender"] == 149


def test_csv_parses_back_to_the_json_figures(shared):
    body = {"importer": HEAVY_IMPORTER, "year": 2026}
    as_json = annual(shared, body, ADMIN_AUTH)
    for query, headers in (("?format=csv", {}), ("", {"Accept": "text/csv"})):
        r = shared.client.post(f"/api/reports/cbam/annual{query}", json=body, headers={**ADMIN_AUTH, **headers})
        assert (r.status_code, r.mimetype) == (200, "text/csv")
        rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
        assert [row["cn_code"] for row in rows] == ["72139110", "TOTAL"]
        want = {k: "" if v is None else str(v) for k, v in as_json["rows"][0].items()}
        assert {k: v for k, v in rows[0].items() if k in want} == want
        assert (rows[1]["net_mass_t"], rows[1]["de_minimis"], rows[1]["certificates_to_surrender"]) == (
            "60.000000", "false", "198")


def test_only_asked_cn_codes(shared):
    body = {"importer": IMPORTER, "year": 2026, "cn_codes": ["72139110"]}
    answer = annual(shared, body)
    assert answer["rows"] == [] and answer["left_out"] == {"not a CBAM good": 2, "CN code not asked for": 7}
    assert answer["totals"]["de_minimis"] is True


def test_proofs_on_request(shared):
    seq = shared.plant.seq
    plain = annual(shared, {"importer": HEAVY_IMPORTER, "year": 2026}, OTHER_AUTH)["proof_of_origin"]
    assert [e["seq"] for e in plain["entries"]] == [seq["c-HEAVY"], seq["s-HEAVY"]]
    assert "proof" not in plain["entries"][0]
    full = annual(shared, {"importer": HEAVY_IMPORTER, "year": 2026, "include_proofs": True},
                  OTHER_AUTH)["proof_of_origin"]
    assert all(e["proof"] and e["entry"] for e in full["entries"])


def test_asking_fewer_cn_codes_does_not_lower_the_de_minimis_mass(shared):
    """HEAVY imported 60 t of rod: a summary of its bolts alone must not call it exempt."""
    body = {"importer": HEAVY_IMPORTER, "year": 2026, "cn_codes": ["73181590"]}
    answer = annual(shared, body, OTHER_AUTH)
    assert answer["rows"] == [] and answer["left_out"] == {"CN code not asked for": 1}
    totals = answer["totals"]
    assert (totals["net_mass_t"], totals["de_minimis_net_mass_t"], totals["de_minimis"]) == (
        "0.000000", "60.000000", False)
