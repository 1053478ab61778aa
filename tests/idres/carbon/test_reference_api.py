"""Reference data through the API: public reads, authenticated writes, bad inputs store nothing."""
from __future__ import annotations

import pytest

from tests.conftest import ADMIN_AUTH, ENT, ENT_AUTH, OTHER, OTHER_AUTH, row_count
from tests.idres.carbon import DEFAULTS_CSV, INSTALLATIONS, carbon

TABLES = ("carbon_installations", "carbon_part_types", "cbam_default_values", "audit_log",
          "ledger_entries", "carbon_records")
GOOD_SITE = {"name": "Test site", "country": "CN", "city": "Ningbo", "unlocode": "CNNGB",
             "latitude": "29.8683", "longitude": "121.544", "operator": "Test Co."}
GOOD_TYPE = {"cn_code": "73181590", "net_mass_g": 52}


def counts(shared) -> dict[str, int]:
    return {t: row_count(shared.db, t) for t in TABLES}


def refused(shared, method: str, path: str, status: int, field: str | None, **kw) -> dict:
    """A request that fails with ``status`` naming ``field`` and changes no table."""
    before = counts(shared)
    r = getattr(shared.client, method)(path, **kw)
    assert (r.status_code, r.json.get("field")) == (status, field), r.json
    assert counts(shared) == before
    return r.json


def test_reads_are_public(shared):
    listed = shared.client.get("/api/carbon/installations").json["installations"]
    assert {i["installation_id"] for i in listed} >= set(INSTALLATIONS)
    one = shared.client.get("/api/carbon/installations/cn-bolt-01").json  # ids match case-folded
    assert one == {"installation_id": "CN-BOLT-01", **INSTALLATIONS["CN-BOLT-01"][1], "owner": ENT,
                   "updated_at": one["updated_at"]}
    bolt = shared.client.get(f"/api/carbon/part-types/{ENT}/BOLT-M10").json
    assert (bolt["cn_code"], bolt["net_mass_g"], bolt["cbam_good"]) == ("73181590", 52, True)
    block = shared.client.get(f"/api/carbon/part-types/{ENT}/BLOCK-1.5T").json
    assert block["cbam_good"] is False  # engine parts (8409) are registered, flagged out of scope
    mine = shared.client.get("/api/carbon/part-types", query_string={"owner": OTHER}).json["part_types"]
    assert [t["code"] for t in mine] == ["ROD-5.5"]
    assert shared.client.get("/api/carbon/installations/NOPE-9").status_code == 404


def test_default_values_and_their_markup(shared):
    table = shared.client.get("/api/carbon/defaults").json["default_values"]
    assert {(d["country"], d["cn_code"], d["direct"]) for d in table} == {
        ("CN", "7213", "2.00"), ("*", "7213", "3.00"), ("CN", "7318", "1.80")}
    r = shared.client.get("/api/carbon/defaults/match",
                          query_string={"country": "CN", "cn_code": "73181590", "year": 2027})
    assert (r.json["cn_code"], r.json["markup"], r.json["direct_with_markup"]) == ("7318", "0.20", "2.1600")
    for query, field in (({"cn_code": "84099100", "year": 2026}, "cn_code"),
                         ({"cn_code": "7318159", "year": 2026}, "cn_code"),
                         ({"cn_code": "73181590", "year": 2024}, "year")):
        r = shared.client.get("/api/carbon/defaults/match", query_string=query)
        assert (r.status_code, r.json["field"]) == (400, field)


def test_an_installation_is_created_then_replaced_by_its_owner_only(shared):
    path = "/api/carbon/installations/TEST-SITE-1"
    assert shared.client.put(path, json=GOOD_SITE, headers=OTHER_AUTH).status_code == 201
    assert shared.client.put(path, json={**GOOD_SITE, "city": "Cixi"}, headers=OTHER_AUTH).status_code == 200
    refused(shared, "put", path, 403, None, json=GOOD_SITE, headers=ENT_AUTH)
    refused(shared, "put", path, 401, None, json=GOOD_SITE)
    assert shared.client.get(path).json["city"] == "Cixi"


@pytest.mark.parametrize("change, field", [
    ({"country": "XX"}, "country"), ({"country": "cn"}, "country"),
    ({"latitude": 29.8683}, "latitude"), ({"latitude": "95.0"}, "latitude"),
    ({"longitude": "121,544"}, "longitude"), ({"longitude": None}, "longitude"),
    ({"unlocode": "DEHAM"}, "unlocode"), ({"unlocode": "CN-NGB"}, "unlocode"),
    ({"city": ""}, "city"), ({"name": None}, "name"), ({"colour": "red"}, "colour"),
    ({"installation_id": "OTHER-ID"}, "installation_id"),
    # text XML 1.0 cannot carry would break every QReport naming the installation
    ({"name": "Works\x07"}, "name"), ({"city": "Ning\ud800bo"}, "city"), ({"operator": "Co.\ufffe"}, "operator")])
def test_bad_installations_are_refused_naming_the_field(shared, change, field):
    body = {**GOOD_SITE, **change}
    if change.get("longitude", "") is None:
        del body["longitude"]  # latitude without longitude
        field = "latitude"
    refused(shared, "put", "/api/carbon/installations/TEST-SITE-2", 400, field, json=body, headers=ENT_AUTH)


def test_installation_ids_fit_the_cbam_registry_format(shared):
    refused(shared, "put", "/api/carbon/installations/" + "X" * 21, 400, "installation_id",
            json=GOOD_SITE, headers=ENT_AUTH)


@pytest.mark.parametrize("change, field", [
    ({"cn_code": "7318159"}, "cn_code"), ({"cn_code": "7318159a"}, "cn_code"),
    ({"cn_code": 73181590}, "cn_code"), ({"net_mass_g": 0}, "net_mass_g"),
    ({"net_mass_g": 52.5}, "net_mass_g"), ({"net_mass_g": "52"}, "net_mass_g"),
    ({"net_mass_g": None}, "net_mass_g"), ({"code": "OTHER"}, "code"),
    ({"description": "hex bolt\x00"}, "description")])
def test_bad_part_types_are_refused_naming_the_field(shared, change, field):
    body = {k: v for k, v in {**GOOD_TYPE, **change}.items() if v is not None}
    refused(shared, "put", f"/api/carbon/part-types/{ENT}/BOLT-M12", 400, field, json=body, headers=ENT_AUTH)


def test_part_types_are_written_only_by_their_prefix(shared):
    refused(shared, "put", f"/api/carbon/part-types/{OTHER}/BOLT-M12", 403, None, json=GOOD_TYPE,
            headers=ENT_AUTH)
    refused(shared, "put", f"/api/carbon/part-types/{ENT}/bolt-m12", 400, "code", json=GOOD_TYPE,
            headers=ENT_AUTH)
    r = shared.client.put(f"/api/carbon/part-types/{ENT}/BOLT-M12", json=GOOD_TYPE, headers=ENT_AUTH)
    assert r.status_code == 201 and r.json["owner"] == ENT


@pytest.mark.parametrize("row, field", [
    ("CN,8708,1.0,0.1,x", "line 3.cn_code"),      # vehicle parts: no CBAM good
    ("CN,84099100,1.0,0.1,x", "line 3.cn_code"),  # engine parts
    ("CN,731815,1.5", "line 3"), ("ZZ,7318,1.0,0.1,x", "line 3.country"),
    ("CN,7318,-0.5,0.1,x", "line 3.direct"), ("CN,7213,1.0,0.1,x", "line 3.cn_code")])  # repeat of line 2
def test_a_bad_default_table_is_refused_and_the_old_one_kept(shared, row, field):
    body = "country,cn_code,direct,indirect,source\nCN,7213,1.0,0.1,x\n" + row + "\n"
    refused(shared, "put", "/api/carbon/defaults", 400, field, data=body, content_type="text/csv",
            headers=ADMIN_AUTH)


def test_only_the_node_admin_replaces_the_default_table(shared):
    refused(shared, "put", "/api/carbon/defaults", 403, None, data=DEFAULTS_CSV, content_type="text/csv",
            headers=ENT_AUTH)
    refused(shared, "put", "/api/carbon/defaults", 400, "Content-Type", json={"rows": []}, headers=ADMIN_AUTH)
    r = shared.client.put("/api/carbon/defaults", data=DEFAULTS_CSV, content_type="text/csv",
                          headers=ADMIN_AUTH)
    assert r.json == {"responseCode": 1, "rows": 3}


@pytest.mark.parametrize("change, field", [
    ({"direct_g": -5}, "direct_g"), ({"direct_g": 1.5}, "direct_g"), ({"indirect_g": -1}, "indirect_g"),
    ({"direct_g": "150"}, "direct_g"), ({"activity_level_g": 0}, "activity_level_g"),
    ({"activity_level_g": 1000.0}, "activity_level_g")])
def test_bad_emissions_never_reach_the_ledger(shared, change, field):
    """The event schema refuses negative, float and string emissions and a zero activity level."""
    body = {**carbon("CN-BOLT-01", 150, 0, 1_000, batch="BOLT-LOT-9"), **change}
    refused(shared, "post", "/api/events", 400, f"event.{field}", json=body, headers=ENT_AUTH)
