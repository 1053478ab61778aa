"""PACT footprints over time: the id stays, the version follows new ledger data, and a token dies with
the HS_SECKEY it was issued for (each test builds its own plant, on both backends)."""
from __future__ import annotations

from tests.conftest import ADMIN_AUTH, ENT, ENT_AUTH, basic
from tests.idres.carbon import TON, build, carbon
from tests.idres.events import accepted


def bearer(client, auth=ENT_AUTH) -> dict[str, str]:
    r = client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=auth)
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}


def lot_one(client, headers) -> dict:
    found = client.get("/2/footprints?limit=100", headers=headers).json["data"]
    return next(f for f in found if f["productIds"] == [f"urn:hdl:{ENT}:batch:BOLT-LOT-1"])


def test_new_carbon_data_bump_the_version_and_keep_the_id(client, db, config):
    build(client, db, config)
    headers = bearer(client)
    before = lot_one(client, headers)
    assert lot_one(client, headers) == before
    # another 100 t direct for another 1,000 t of bolts: (150 + 100 + 1,080 x 2.10) / 2,000 = 1.259 direct,
    # (30 + 1,080 x 0.42) / 2,000 = 0.2418 indirect
    answer = accepted(client, {"events": [carbon("CN-BOLT-01", 100 * TON, 0, 1_000 * TON,
                                                 batch="BOLT-LOT-1")]}, ENT_AUTH)
    new_seq = answer["entries"][0]["seq"]
    after = lot_one(client, headers)
    assert after["id"] == before["id"]
    assert (before["version"], after["version"]) == (max(before["extensions"][0]["data"]["contributingSeqs"]),
                                                     new_seq)
    assert (before["pcf"]["pCfExcludingBiogenic"], after["pcf"]["pCfExcludingBiogenic"]) == ("2.9016", "1.5008")
    assert new_seq in after["extensions"][0]["data"]["contributingSeqs"]
    assert after["extensions"][0]["data"]["checkpoint"]["size"] > new_seq
    r = client.get(f"/2/footprints/{before['id']}", headers=headers)
    assert r.json["data"] == after


def test_replacing_the_secret_revokes_the_token(client, db, config):
    headers = bearer(client)
    assert client.get("/2/footprints", headers=headers).status_code == 200
    value = {"index": 300, "type": "HS_SECKEY", "data": "a-new-engine-maker-secret"}
    r = client.put(f"/api/handles/0.NA/{ENT}?index=300", json={"values": [value]}, headers=ADMIN_AUTH)
    assert r.status_code in (200, 201), r.json
    r = client.get("/2/footprints", headers=headers)
    assert (r.status_code, r.json["code"]) == (403, "AccessDenied")
    fresh = bearer(client, basic(f"300:0.NA/{ENT}", "a-new-engine-maker-secret"))
    assert client.get("/2/footprints", headers=fresh).status_code == 200
