"""CBAM quarterly reports (QReport v23) over the shared plant, through the public API.

Figures are hand-computed in the comments (see :mod:`tests.idres.carbon` for
the plant); every XML report is validated against the EU's XSD file.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from idres.carbon import qreport
from tests.conftest import ADMIN_AUTH, ENT, ENT_AUTH, OTHER_AUTH
from tests.idres.carbon import IMPORTER
from tests.idres.reports import IMPORTER_PARTY, assert_valid_qreport, post_report, quarterly_body

NS = {"q": qreport.NS}


def report(shared, names: list[str], year: int = 2026, quarter: int = 4, **extra) -> dict:
    body = quarterly_body(year, quarter, handles=[shared.plant.h[n] for n in names], **extra)
    answer = post_report(shared.client, "quarterly", body).json
    assert_valid_qreport(answer["xml"])
    return answer


def emissions(good: dict) -> dict[tuple[str, bool], tuple[str, str, str]]:
    """GoodsEmissions by (installation, default): role, direct and indirect SEE."""
    return {(e["installation"]["installation_id"], e["default_values"]): (e["role"], e["see_direct"],
                                                                         e["see_indirect"])
            for e in good["goods_emissions"]}


def xml_see(xml: str) -> list[tuple[str, str, str, str]]:
    """(installation id, determination type, direct SEE, indirect SEE) of each GoodsEmissions in the XML."""
    root = ET.fromstring(xml)
    return [(g.findtext("q:Installation/q:InstallationId", namespaces=NS),
             g.findtext("q:DirectEmissions/q:DeterminationType", namespaces=NS),
             g.findtext("q:DirectEmissions/q:SpecificEmbeddedEmissions", namespaces=NS),
             g.findtext("q:IndirectEmissions/q:SpecificEmbeddedEmissions", namespaces=NS))
            for g in root.iterfind("q:ImportedGood/q:GoodsEmissions", NS)]


def test_reference_worked_example_2_418_through_the_report(shared):
    """A3 is a bolt of BOLT-LOT-1: (150 + 1,080 x 2.10) / 1,000 = 0.15 own + 2.268 wire rod = 2.418."""
    seq = shared.plant.seq
    answer = report(shared, ["A3"])
    (good,) = answer["report"]["imported_goods"]
    assert (good["cn_code"], good["hs_code"], good["origin_country"], good["installation_id"]) == (
        "73181590", "731815", "CN", "CN-BOLT-01")
    assert (good["net_mass_t"], good["see_direct"], good["see_indirect"]) == ("0.000052", "2.4180000", "0.4836000")
    assert emissions(good) == {("CN-BOLT-01", False): ("producer", "0.1500000", "0.0300000"),
                               ("CN-MILL-A", False): ("precursor", "2.2680000", "0.4536000")}
    assert xml_see(answer["xml"]) == [("CN-BOLT-01", "01", "0.1500000", "0.0300000"),
                                      ("CN-MILL-A", "01", "2.2680000", "0.4536000")]
    root = ET.fromstring(answer["xml"])
    assert root.findtext("q:ImportedGood/q:MeasureImported/q:NetMass", namespaces=NS) == "0.000052"
    assert (root.findtext("q:ReportingPeriod", namespaces=NS), root.findtext("q:Year", namespaces=NS)) == (
        "Q4", "2026")
    entries = [e["seq"] for e in answer["proof_of_origin"]["entries"]]
    assert entries == sorted(seq[k] for k in ("co2-ROD-LOT-1", "t-A", "co2-BOLT-LOT-1", "s-2026"))
    assert answer["exporter"] == ENT and answer["left_out"] == []


def test_scrap_is_counted_in_the_precursor_mass(shared):
    """The wire rod's share is 1,080 t x 2.10 / 1,000 t = 2.268 per tonne of bolts, not 2.10."""
    (good,) = report(shared, ["A3"])["report"]["imported_goods"]
    rod = emissions(good)[("CN-MILL-A", False)]
    assert Decimal(rod[1]) == Decimal("1080") * Decimal("2.10") / Decimal("1000") != Decimal("2.10")


def test_two_installations_of_one_precursor_are_separate_goods_emissions(shared):
    """B1, B2 (BOLT-LOT-2): coils from CN-MILL-A (1,100 kg x 2.1 / 2,000 kg) and IN-MILL-B
    (1,060 kg x 2.5 / 2,000 kg) stay apart, each with its own production country."""
    answer = report(shared, ["B1", "B2"])
    (good,) = answer["report"]["imported_goods"]
    assert (good["net_mass_t"], good["see_direct"], good["see_indirect"]) == ("0.000104", "2.6300000", "0.5680000")
    assert emissions(good) == {("CN-BOLT-01", False): ("producer", "0.1500000", "0.0300000"),
                               ("CN-MILL-A", False): ("precursor", "1.1550000", "0.2200000"),
                               ("IN-MILL-B", False): ("precursor", "1.3250000", "0.3180000")}
    countries = [e["production_country"] for e in good["goods_emissions"]]
    assert countries == ["CN", "CN", "IN"]
    root = ET.fromstring(answer["xml"])
    assert [g.findtext("q:ProductionCountry", namespaces=NS)
            for g in root.iterfind("q:ImportedGood/q:GoodsEmissions", NS)] == ["CN", "CN", "IN"]


@pytest.mark.parametrize("year, quarter, coil_direct, coil_indirect", [
    (2026, 4, "2.3760000", "0.5940000"),   # CN,7213 2.00 / 0.50 x 1.1, x 1,080 kg / 1,000 kg
    (2027, 1, "2.5920000", "0.6480000"),   # x 1.2
    (2028, 1, "2.8080000", "0.7020000")])  # x 1.3
def test_missing_precursor_data_takes_the_default_with_the_years_markup(shared, year, quarter, coil_direct,
                                                                         coil_indirect):
    """D1 (BOLT-LOT-3, own 150 kg / 0 for 1,000 kg) from COIL-003, which has no carbon data; D1 is
    shipped in each of the three years."""
    answer = report(shared, ["D1"], year, quarter)
    (good,) = answer["report"]["imported_goods"]
    assert emissions(good) == {("CN-BOLT-01", False): ("producer", "0.1500000", "0.0000000"),
                               ("CN-MILL-A", True): ("precursor", coil_direct, coil_indirect)}
    assert good["see_direct"] == format(Decimal("0.15") + Decimal(coil_direct), ".7f")
    assert xml_see(answer["xml"])[1][:2] == ("CN-MILL-A", "02")  # determined from default values
    remark = good["goods_emissions"][1]["remarks"]
    assert f"{ {2026: 10, 2027: 20}.get(year, 30)} % mark-up of {year}" in remark


def test_every_shipment_to_a_party_in_the_quarter(shared):
    """to_party: A3, B1, B2, D1, E1, G1, G2 (CBAM bolts, 416 g) and K1, the cylinder block (CN 8409,
    no CBAM good) that holds A1 and A2.  Per gram: direct 52 x 2.418 + 104 x 2.63 + 52 x 2.526
    + 52 x 1.98 (E1, default) + 52 x 2.1 + 104 x 2.1 = 961.168; / 416 = 2.3105.
    Indirect 52 x 0.4836 + 104 x 0.568 + 52 x 0.594 + 52 x 0.33 = 132.2672; / 416 = 0.31795."""
    h = shared.plant.h
    body = quarterly_body(to_party=IMPORTER, importer=IMPORTER_PARTY, report_id="HANSA-2026-Q4")
    answer = post_report(shared.client, "quarterly", body).json
    assert_valid_qreport(answer["xml"])
    (good,) = answer["report"]["imported_goods"]
    assert (good["goods"], good["net_mass_t"], good["see_direct"], good["see_indirect"]) == (
        7, "0.000416", "2.3105000", "0.3179500")
    assert sorted(good["handles"]) == sorted(h[n] for n in ("A3", "B1", "B2", "D1", "E1", "G1", "G2"))
    assert answer["left_out"] == [{"handle": h["K1"], "cn_code": "84099100", "reason": "not a CBAM good"}]
    total = sum(Decimal(e["see_direct"]) for e in good["goods_emissions"])
    assert abs(total - Decimal("2.3105")) <= Decimal("0.0000003")  # rounded one by one
    root = ET.fromstring(answer["xml"])
    assert root.findtext("q:Importer/q:ImporterAddress/q:Country", namespaces=NS) == "DE"
    assert root.findtext("q:ReportId", namespaces=NS) == "HANSA-2026-Q4"


def test_carbon_price_due_is_attached_to_its_installation(shared):
    price = {"installation_id": "CN-MILL-A", "country": "CN", "instrument_type": "01",
             "legal_act_description": "China national ETS", "amount": "12.50", "currency": "CNY"}
    answer = report(shared, ["A3"], carbon_prices_due=[price])
    dues = {e["installation"]["installation_id"]: e["carbon_prices_due"]
            for e in answer["report"]["imported_goods"][0]["goods_emissions"]}
    assert dues == {"CN-BOLT-01": [], "CN-MILL-A": [price]}
    root = ET.fromstring(answer["xml"])
    assert [d.findtext("q:Amount", namespaces=NS) for d in root.iter(f"{{{qreport.NS}}}CarbonPriceDue")] == [
        "12.50"]


def test_xml_alone_by_query_or_accept_header(shared):
    body = quarterly_body(handles=[shared.plant.h["A3"]])
    for query, headers in (("?format=xml", {}), ("", {"Accept": "application/xml"})):
        r = shared.client.post(f"/api/reports/cbam/quarterly{query}", json=body,
                               headers={**headers, **ENT_AUTH})
        assert (r.status_code, r.mimetype) == (200, "application/xml")
        text = r.get_data(as_text=True)
        assert text.startswith("<?xml") and "<CnCode>73181590</CnCode>" in text
        assert_valid_qreport(text)
        submitted = ET.fromstring(text).findtext("q:SubmissionDate", namespaces=NS)
        assert len(submitted) == 20 and submitted.endswith("Z") and "." not in submitted


def test_the_node_admin_may_report_any_exporter(shared):
    body = quarterly_body(to_party=IMPORTER)
    everyone = post_report(shared.client, "quarterly", body, ADMIN_AUTH).json
    assert everyone["exporter"] is None and everyone["report"]["imported_goods"][0]["goods"] == 7
    named = post_report(shared.client, "quarterly", {**body, "exporter": ENT}, ADMIN_AUTH).json
    assert named["exporter"] == ENT and named["report"]["imported_goods"][0]["net_mass_t"] == "0.000416"
    # OTHER shipped nothing to EU-IMP-1
    r = post_report(shared.client, "quarterly", body, OTHER_AUTH, status=422)
    assert r.json["field"] == "quarter" and "by 88.118.9" in r.json["message"]


def test_a_shipment_just_before_midnight_utc_belongs_to_the_third_quarter(shared):
    """S1 was shipped at 2026-10-01T01:00+02:00, i.e. 2026-09-30T23:00Z: Q3.  It is a spring (CN 7320),
    so Q3 has a shipment but no CBAM good; Q4 does not list it."""
    r = post_report(shared.client, "quarterly", quarterly_body(2026, 3, to_party=IMPORTER), status=422)
    assert (r.json["field"], r.json["message"].startswith("None of the 1 handles")) == ("to_party", True)
    q4 = post_report(shared.client, "quarterly", quarterly_body(to_party=IMPORTER)).json
    assert shared.plant.h["S1"] not in {x["handle"] for x in q4["left_out"]}


def test_an_invalid_report_is_never_returned_as_success(shared, monkeypatch, caplog):
    """Break the renderer (the declarant's name dropped): the XSD check in the code path answers 500."""
    real = qreport.render

    def broken(twin: dict) -> str:
        return real(twin).replace("<Name>Hansa Import GmbH</Name>", "", 1)

    monkeypatch.setattr(qreport, "render", broken)
    r = post_report(shared.client, "quarterly", quarterly_body(handles=[shared.plant.h["A3"]]), status=500)
    assert r.json["responseCode"] == 2 and "does not validate" in r.json["message"]
    assert "Declarant" in r.json["message"] and "xml" not in r.json
    assert "does not validate" in caplog.text
