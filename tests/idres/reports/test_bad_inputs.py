"""Bad inputs to carbon events and CBAM reports: a 4xx naming the field, and nothing recorded."""
from __future__ import annotations

import pytest

from tests.conftest import ENT, ENT_AUTH, OTHER_AUTH, basic
from tests.idres.carbon import IMPORTER, carbon
from tests.idres.events import TABLES, post
from tests.idres.reports import DECLARANT, quarterly_body

ALL_TABLES = TABLES + ("shipments", "carbon_installations")


def snapshot(db) -> dict[str, int]:
    from tests.conftest import row_count

    return {t: row_count(db, t) for t in ALL_TABLES}


def refused(shared, r, status: int, field: str | None, before: dict[str, int]) -> dict:
    assert (r.status_code, r.json.get("field")) == (status, field), r.json
    assert r.json["responseCode"] != 1 and r.json["message"], r.json
    assert snapshot(shared.db) == before
    return r.json


def record(shared, **change):
    """A carbon record of BOLT-LOT-1's maker, changed as asked (``None`` drops a field)."""
    e = carbon("CN-BOLT-01", 1_000, 100, 10_000, batch="LOT-NEW")
    e.update(change)
    return {k: v for k, v in e.items() if v is not None}


@pytest.mark.parametrize("change, status, field", [
    ({"direct_g": -1}, 400, "event.direct_g"),
    ({"indirect_g": -5}, 400, "event.indirect_g"),
    ({"direct_g": 1.5}, 400, "event.direct_g"),
    ({"direct_g": 1000.0}, 400, "event.direct_g"),        # a float, even a whole one
    ({"indirect_g": "100"}, 400, "event.indirect_g"),
    ({"activity_level_g": 0}, 400, "event.activity_level_g"),
    ({"activity_level_g": None}, 400, "event.activity_level_g"),
    ({"installation_id": "NOPE-9"}, 422, "event.installation_id"),
])
def test_bad_carbon_records_are_refused(shared, change, status, field):
    before = snapshot(shared.db)
    answer = refused(shared, post(shared.client, record(shared, **change)), status, field, before)
    if status == 422:
        assert "NOPE-9" in answer["message"] and "not registered" in answer["message"]


def test_an_unknown_installation_refuses_the_whole_batch(shared):
    before = snapshot(shared.db)
    body = {"events": [record(shared), record(shared, installation_id="cn-bolt-01"),
                       record(shared, installation_id="NOPE-9")]}
    refused(shared, post(shared.client, body), 422, "events[2].installation_id", before)


def _q(**change) -> dict:
    body = quarterly_body(to_party=IMPORTER)
    body.update(change)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize("body, status, field", [
    (_q(year=2025), 400, "year"), (_q(year="2026"), 400, "year"), (_q(year=2101), 400, "year"),
    (_q(quarter=0), 400, "quarter"), (_q(quarter=5), 400, "quarter"), (_q(quarter=None), 400, "quarter"),
    (_q(declarant=None), 400, "declarant"),
    (_q(declarant={k: v for k, v in DECLARANT.items() if k != "name"}), 400, "declarant.name"),
    (_q(declarant={**DECLARANT, "identification_number": "D" * 18}), 400, "declarant.identification_number"),
    (_q(declarant={**DECLARANT, "address": {"street": "x"}}), 400, "declarant.address.city"),
    (_q(signature=None), 400, "signature"),
    (_q(importer={"identification_number": "X", "name": "Y", "address": {"country": "EU", "city": "Z"}}), 400,
     "importer.address.country"),
    (_q(handles=["88.118.8/P-001"]), 400, "handles"),             # both handles and to_party
    (_q(to_party=None), 400, "handles"),                          # neither
    (_q(cn_codes=["7318159"]), 400, "cn_codes[0]"),               # not 8 digits
    (_q(cn_codes=["73181590", "84099100"]), 400, "cn_codes[1]"),  # not a CBAM good
    (_q(unknown=1), 400, "unknown"),
    (_q(declarant={**DECLARANT, "name": "ACME\x01"}), 400, "declarant.name"),  # not XML 1.0 text
    (_q(remarks="half a surrogate \ud800"), 400, "remarks"),
    (_q(signature={**_q()["signature"], "place": "Ningbo\ufffe"}), 400, "signature.place"),
    (_q(quarter=2), 422, "quarter"),                              # no shipments in that quarter
    (_q(to_party="NOBODY"), 422, "quarter"),
    (_q(exporter="88.118.9"), 403, "exporter"),                   # ENT's key cannot report OTHER's
    ("not an object", 400, "body"),
])
def test_bad_quarterly_requests(shared, body, status, field):
    before = snapshot(shared.db)
    r = shared.client.post("/api/reports/cbam/quarterly", json=body, headers=ENT_AUTH)
    refused(shared, r, status, field, before)


def test_handles_must_have_been_shipped_by_the_caller_in_the_quarter(shared):
    h, before = shared.plant.h, snapshot(shared.db)
    cases = [([h["A3"]], OTHER_AUTH, 2026, 4, 422, "handles[0]"),           # shipped by ENT, not by OTHER
             ([h["A3"], h["A1"]], ENT_AUTH, 2026, 4, 422, "handles[1]"),   # A1 was never shipped
             ([h["E1"]], ENT_AUTH, 2027, 1, 422, "handles[0]"),            # E1 was shipped in 2026
             ([h["A3"], h["A3"].lower()], ENT_AUTH, 2026, 4, 400, "handles[1]")]  # the same handle twice
    for handles, auth, year, quarter, status, field in cases:
        r = shared.client.post("/api/reports/cbam/quarterly", headers=auth,
                               json=quarterly_body(year, quarter, handles=handles))
        refused(shared, r, status, field, before)


def test_authentication_is_required(shared):
    before = snapshot(shared.db)
    for auth in ({}, basic(f"300:0.NA/{ENT}", "wrong")):
        for kind, body in (("quarterly", _q()), ("annual", {"importer": IMPORTER, "year": 2026})):
            r = shared.client.post(f"/api/reports/cbam/{kind}", json=body, headers=auth)
            assert r.status_code == 401, r.json
            assert snapshot(shared.db) == before


@pytest.mark.parametrize("body, query, status, field", [
    ({"year": 2026}, "", 400, "importer"),
    ({"importer": IMPORTER}, "", 400, "year"),
    ({"importer": IMPORTER, "year": 2026, "carbon_prices_paid": [{"country": "CN", "eur_per_tco2e": "5"}]},
     "", 400, "certificate_price"),
    ({"importer": IMPORTER, "year": 2026, "certificate_price": "80",
      "carbon_prices_paid": [{"country": "CN", "installation_id": "X", "eur_per_tco2e": "5"}]},
     "", 400, "carbon_prices_paid[0].installation_id"),
    ({"importer": IMPORTER, "year": 2026, "certificate_price": "-80"}, "", 400, "certificate_price"),
    ({"importer": IMPORTER, "year": 2026, "certificate_price": 80.5}, "", 400, "certificate_price"),
    ({"importer": IMPORTER, "year": 2029}, "", 422, "importer"),     # no shipments that year
    ({"importer": IMPORTER, "year": 2026}, "?format=pdf", 400, "format"),
    ({"importer": IMPORTER, "year": 2026, "exporter": "88.118.9"}, "", 403, "exporter"),
])
def test_bad_annual_requests(shared, body, query, status, field):
    before = snapshot(shared.db)
    r = shared.client.post(f"/api/reports/cbam/annual{query}", json=body, headers=ENT_AUTH)
    refused(shared, r, status, field, before)
