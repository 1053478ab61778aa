"""Embedded-emissions roll-ups and footprints over the shared plant, through the public API.

Every expected figure is computed by hand in the comments (grams over grams
= tonnes over tonnes); see :mod:`tests.idres.carbon` for the plant.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from idres.carbon.footprint import footprint_of
from idres.carbon.results import CarbonDataMissing
from idres.carbon.rollup import Rollup, cbam_policy, see_of
from tests.conftest import ENT
from tests.idres.carbon import batch


def see(shared, subject: str, year: int = 2026, status: int = 200) -> dict:
    r = shared.client.get(f"/api/carbon/see/{subject}", query_string={"year": year})
    assert r.status_code == status, r.json
    return r.json


def by_installation(answer: dict) -> dict[tuple[str, bool], tuple[str, str]]:
    return {(c["installation_id"], c["default"]): (c["direct"], c["indirect"])
            for c in answer["installations"]}


def test_reference_worked_example_2_418(shared):
    """1,000 t of bolts, 150 t direct, 1,080 t of wire rod at 2.10: (150 + 1,080 x 2.10) / 1,000."""
    h, seq = shared.plant.h, shared.plant.seq
    lot = see(shared, batch("BOLT-LOT-1"))
    assert (lot["direct"], lot["basis"], lot["default_used"]) == ("2.4180000", "actual", False)
    # indirect: (30 + 1,080 x 0.42) / 1,000 = 0.4836
    assert lot["indirect"] == "0.4836000"
    assert (lot["attributed_direct_g"], lot["activity_level_g"]) == (150_000_000, "1000000000")
    assert lot["contributing_seqs"] == sorted([seq["co2-ROD-LOT-1"], seq["t-A"], seq["co2-BOLT-LOT-1"]])
    bolt = see(shared, h["A2"])  # a bolt takes its batch's figure
    assert (bolt["direct"], bolt["indirect"], bolt["unit"]) == ("2.4180000", "0.4836000", batch("BOLT-LOT-1"))
    assert (bolt["cn_code"], bolt["cbam_good"], bolt["installation_id"], bolt["country"]) == (
        "73181590", True, "CN-BOLT-01", "CN")
    assert bolt["figure"].startswith("CBAM specific embedded emissions") and bolt["units"] == "tCO2e/t"


def test_scrap_is_counted_in_precursor_mass(shared):
    """The precursor mass is the 1,080 t consumed, not the 1,000 t of bolts: 2.418, not 2.25."""
    lot = see(shared, batch("BOLT-LOT-1"))
    (rod,) = lot["inputs"]
    assert (rod["subject"], rod["kind"], rod["mass_g"], rod["direct"]) == (
        batch("ROD-LOT-1"), "transformation", "1080000000", "2.1000000")
    without_scrap = Decimal("0.15") + Decimal("1000") * Decimal("2.10") / Decimal("1000")
    assert Decimal(lot["direct"]) - without_scrap == Decimal("0.168")  # 80 t x 2.10 / 1,000 t


def test_two_installations_of_the_same_precursor_are_kept_apart(shared):
    """(300 kg + 1,100 kg x 2.1 [CN-MILL-A] + 1,060 kg x 2.5 [IN-MILL-B]) / 2,000 kg = 2.63."""
    lot = see(shared, batch("BOLT-LOT-2"))
    assert (lot["direct"], lot["indirect"]) == ("2.6300000", "0.5680000")
    assert by_installation(lot) == {
        ("CN-BOLT-01", False): ("0.1500000", "0.0300000"),     # 300 / 2,000; 60 / 2,000
        ("CN-MILL-A", False): ("1.1550000", "0.2200000"),      # 1,100 x 2.1 / 2,000; 1,100 x 0.4 / 2,000
        ("IN-MILL-B", False): ("1.3250000", "0.3180000")}      # 1,060 x 2.5 / 2,000; 1,060 x 0.6 / 2,000
    coils = {i["subject"]: (i["mass_g"], i["direct"], i["installation_id"]) for i in lot["inputs"]}
    h = shared.plant.h
    assert coils == {h["COIL-001"]: ("1100000", "2.1000000", "CN-MILL-A"),
                     h["COIL-002"]: ("1060000", "2.5000000", "IN-MILL-B")}


@pytest.mark.parametrize("year, coil, bolt_direct, bolt_indirect", [
    (2026, "2.2000000", "2.5260000", "0.5940000"),   # 2.00 x 1.1; 0.15 + 1.08 x 2.2; 1.08 x 0.55
    (2027, "2.4000000", "2.7420000", "0.6480000"),   # 2.00 x 1.2; 0.15 + 1.08 x 2.4; 1.08 x 0.60
    (2028, "2.6000000", "2.9580000", "0.7020000"),   # 2.00 x 1.3; 0.15 + 1.08 x 2.6; 1.08 x 0.65
    (2031, "2.6000000", "2.9580000", "0.7020000")])
def test_missing_precursor_data_takes_the_default_with_the_years_markup(shared, year, coil, bolt_direct,
                                                                         bolt_indirect):
    h = shared.plant.h
    bolt = see(shared, h["D1"], year)
    assert (bolt["direct"], bolt["indirect"], bolt["default_used"], bolt["basis"]) == (
        bolt_direct, bolt_indirect, True, "actual")
    (rod,) = bolt["inputs"]
    assert (rod["subject"], rod["basis"], rod["direct"]) == (h["COIL-003"], "default", coil)
    parts = by_installation(bolt)
    assert set(parts) == {("CN-BOLT-01", False), ("CN-MILL-A", True)}  # the default is flagged
    assert Decimal(bolt["default_share"]) > Decimal("0.9")
    assert bolt["markup"] == {2026: "0.10", 2027: "0.20"}.get(year, "0.30")


def test_a_good_without_any_data_takes_its_own_default(shared):
    """E1: a bolt (CN 7318) from a Chinese installation: CN,7318 = 1.80 / 0.30, x 1.1 in 2026."""
    h, seq = shared.plant.h, shared.plant.seq
    bolt = see(shared, h["E1"])
    assert (bolt["direct"], bolt["indirect"], bolt["basis"], bolt["default_share"]) == (
        "1.9800000", "0.3300000", "default", "1.0000000")
    assert bolt["contributing_seqs"] == [seq["c-E1"]]  # the commissioning event names the installation
    assert see(shared, h["E1"], 2027)["direct"] == "2.1600000"
    coil = see(shared, h["COIL-004"])  # made in India: no IN row, so the '*' row: 3.00 x 1.1
    assert (coil["direct"], coil["country"]) == ("3.3000000", "IN")


def test_wire_rod_into_bolts_into_a_cylinder_block(shared):
    """K1 (40 kg): own 20 kg / 10 kg, 55 kg of aluminium at 1.6 / 6.4, bolts A1 + A2 (104 g) at
    2.418 / 0.4836; the spring S1 is no CBAM good and stays out.
    direct   (20,000 + 55,000 x 1.6 + 104 x 2.418) / 40,000 = 108,251.472 / 40,000 = 2.7062868
    indirect (10,000 + 55,000 x 6.4 + 104 x 0.4836) / 40,000 = 362,050.2944 / 40,000 = 9.05125736
    """
    h, seq = shared.plant.h, shared.plant.seq
    block = see(shared, h["K1"])
    assert (block["direct"], block["indirect"]) == ("2.7062868", "9.0512574")
    assert (block["cn_code"], block["cbam_good"]) == ("84099100", False)  # 8409: not itself a CBAM good
    assert by_installation(block) == {
        ("CN-ENG-01", False): ("0.5000000", "0.2500000"),
        ("CN-ALU-01", False): ("2.2000000", "8.8000000"),
        ("CN-BOLT-01", False): ("0.0003900", "0.0000780"),      # 104 x 0.15 / 40,000
        ("CN-MILL-A", False): ("0.0058968", "0.0011794")}       # 104 x 2.268 / 40,000
    inputs = {i["subject"]: (i["kind"], i["mass_g"], i["included"]) for i in block["inputs"]}
    assert inputs == {batch("ALU-LOT-1"): ("transformation", "55000", True),
                      h["A1"]: ("assembly", "52", True), h["A2"]: ("assembly", "52", True),
                      h["S1"]: ("assembly", "30", False)}
    assert block["contributing_seqs"] == sorted(seq[k] for k in (
        "co2-K1", "t-K", "a-K", "co2-ALU-LOT-1", "co2-ROD-LOT-1", "t-A", "co2-BOLT-LOT-1"))


def test_shared_transformations_are_allocated_by_output_mass(shared):
    """3 kg of rod at 2.0 made G1 (52 g) and G2 (104 g): G1's lot gets 1 kg, G2's 2 kg.
    G1: (100 + 1,000 x 2.0) / 1,000 = 2.1;  G2: (200 + 2,000 x 2.0) / 2,000 = 2.1."""
    h = shared.plant.h
    for name, mass in (("G1", "1000"), ("G2", "2000")):
        answer = see(shared, h[name])
        assert (answer["direct"], answer["inputs"][0]["mass_g"]) == ("2.1000000", mass)


def test_the_footprint_is_cradle_to_gate_and_labelled(shared):
    """PCF of K1: every input (the spring has no data: a gap), direct + indirect per kg:
    2.7062868 + 9.05125736 = 11.75754416 kgCO2e/kg, x 40 kg = 470.3017664 kgCO2e per block."""
    h = shared.plant.h
    r = shared.client.get(f"/api/carbon/footprint/{h['K1']}")
    assert r.status_code == 200, r.json
    pcf = r.json
    assert "not a CBAM" in pcf["figure"] and pcf["declared_unit"] == "kilogram"
    assert (pcf["pcf_excluding_biogenic"], pcf["per_unit"]) == ("11.7575442", "470.3017664")
    assert (pcf["data_gaps"], pcf["primary_data_share"]) == ([h["S1"]], "100.00")
    # Defaults count without the CBAM mark-up: D1 = 0.15 + 1.08 x 2.00 direct, 1.08 x 0.50 indirect
    d1 = shared.client.get(f"/api/carbon/footprint/{h['D1']}").json
    assert d1["pcf_excluding_biogenic"] == "2.8500000" and d1["default_used"] is True
    assert d1["primary_data_share"] == "5.26"  # 0.15 / 2.85


def test_unknown_installation_is_refused_when_rolling_up(shared):
    """The ledger accepted ROD-LOT-X's record at NOPE-9 (the projector does not know installations);
    the roll-up refuses it, naming the installation and the entry."""
    h, seq = shared.plant.h, shared.plant.seq
    for path in (f"/api/carbon/see/{h['X1']}?year=2026", f"/api/carbon/footprint/{h['X1']}"):
        r = shared.client.get(path)
        assert (r.status_code, r.json["field"]) == (422, "installation_id")
        assert "NOPE-9" in r.json["message"] and f"entry {seq['co2-ROD-LOT-X']}" in r.json["message"]


def test_one_good_from_two_installations_is_refused(shared):
    answer = see(shared, batch("MIX-LOT"), status=422)
    assert answer["field"] == "installation_id" and "CN-MILL-A, IN-MILL-B" in answer["message"]


@pytest.mark.parametrize("subject, year, status, field", [
    ("{A1}", "2025", 400, "year"), ("{A1}", "soon", 400, "year"),
    (f"{ENT}/NEVER-SEEN", "2026", 404, "subject"), (f"batch:{ENT}/NO-SUCH-LOT", "2026", 404, "subject"),
    ("batch:no-slash", "2026", 400, "subject")])
def test_bad_roll_up_requests(shared, subject, year, status, field):
    r = shared.client.get(f"/api/carbon/see/{subject.format(**shared.plant.h)}", query_string={"year": year})
    assert (r.status_code, r.json.get("field")) == (status, field), r.json


def test_the_python_service_for_reports(shared):
    """What the report code calls: one session, one Rollup for many subjects, exact Decimals."""
    h = shared.plant.h
    with shared.db.read() as s:
        result = see_of(s, h["A1"], 2027)
        assert (result.direct, result.indirect) == (Decimal("2.418"), Decimal("0.4836"))
        assert sum(c.direct for c in result.installations) == result.direct
        roll = Rollup(s, cbam_policy(2026), 2026)
        names = ("A1", "A3", "B1", "D1", "K1", "E1")
        roll.prefetch([h[n] for n in names])  # a few queries for many handles; same figures
        assert [roll.see(h[n]).json() for n in names] == [see_of(s, h[n], 2026).json() for n in names]
        assert [roll.see(h[n]).direct for n in ("A1", "A3")] == [Decimal("2.418")] * 2
        assert roll.see(h["COIL-003"]).default_share() == 1
        bare = Rollup(s, cbam_policy(2026), 2026)
        bare.facts._defaults = []  # no default table: a good without data cannot be rolled up
        with pytest.raises(CarbonDataMissing):
            bare.see(h["E1"])
        assert footprint_of(s, h["K1"]).per_kg == Decimal("11.75754416")
