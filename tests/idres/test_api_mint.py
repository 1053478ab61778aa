"""POST /api/prefixes/{prefix}/mint: batch minting, all or nothing."""
from __future__ import annotations

import time

import pytest

from tests.conftest import ENT_AUTH, counts, rejected, row_count

PART = [{"index": 1, "type": "PART.TYPE", "data": "ENGINE"},
        {"index": 2, "type": "PART.CN_CODE", "data": "84082010"}]



def mint(client, body, prefix: str = "88.118.8", auth: dict = ENT_AUTH):
    return client.post(f"/api/prefixes/{prefix}/mint", json=body, headers=auth)


def request(count: int = 3, pattern: str = "ENG-2026-{seq:06}", **extra) -> dict:
    return {"pattern": pattern, "count": count, "values": PART, **extra}



def names(start: int, stop: int, pattern: str = "88.118.8/ENG-2026-{:06d}") -> list[str]:
    return [pattern.format(n) for n in range(start, stop)]


def test_mint_creates_the_handles(client, db):
    before = counts(db)
    r = mint(client, request(3))
    assert r.status_code == 201
    assert r.json == {"responseCode": 1, "prefix": "88.118.8", "count": 3, "first": "88.118.8/ENG-2026-000001",
                      "last": "88.118.8/ENG-2026-000003", "handles": names(1, 4)}
    after = counts(db)
    assert after["handles"] == before["handles"] + 3
    assert after["handle_values"] == before["handle_values"] + 3 * 3  # PART.TYPE, PART.CN_CODE, HS_ADMIN
    assert after["audit_log"] == before["audit_log"] + 1
    for handle in r.json["handles"]:
        got = client.get(f"/api/handles/{handle}")
        assert got.status_code == 200 and got.json["handle"] == handle
        values = {v["index"]: v for v in got.json["values"]}
        assert sorted(values) == [1, 2, 100]
        assert values[2]["data"]["value"] == "84082010" and values[1]["timestamp"].endswith("Z")
        assert values[100]["data"]["value"]["handle"] == "0.NA/88.118.8"
    with db.read() as s:
        row = s.one("SELECT actor, action FROM audit_log ORDER BY id DESC")
    assert (row["actor"], row["action"]) == ("300:0.NA/88.118.8", "mint")


def test_mint_without_values_gets_a_default_admin(client):
    r = mint(client, {"pattern": "B-{seq}", "count": 2})
    assert r.status_code == 201 and r.json["handles"] == ["88.118.8/B-1", "88.118.8/B-2"]
    got = client.get("/api/handles/88.118.8/B-2").json["values"]
    assert [v["type"] for v in got] == ["HS_ADMIN"]


def test_sequence_continues_and_never_reuses_a_suffix(client, db):
    assert mint(client, request(2)).json["handles"] == names(1, 3)
    assert mint(client, request(3)).json["handles"] == names(3, 6)
    for handle in names(3, 6):
        assert client.delete(f"/api/handles/{handle}", headers=ENT_AUTH).status_code == 200
    assert mint(client, request(1)).json["handles"] == names(6, 7)
    assert client.get("/api/handles/88.118.8/ENG-2026-000005").status_code == 404
    # Another pattern has its own sequence.
    assert mint(client, request(2, "GBX-{seq:03}")).json["handles"] == ["88.118.8/GBX-001", "88.118.8/GBX-002"]
    assert mint(client, request(1)).json["handles"] == names(7, 8)


def test_pattern_widths(client):
    for pattern, first in (("A{seq}", "88.118.8/A1"), ("B-{seq:4}", "88.118.8/B-0001"),
                           ("C-{seq:06d}", "88.118.8/C-000001"), ("{seq:03}-D", "88.118.8/001-D")):
        r = mint(client, request(1, pattern))
        assert r.status_code == 201 and r.json["first"] == first, pattern


def test_a_clash_mints_nothing(client, db):
    r = client.put("/api/handles/88.118.8/Eng-2026-000002", json=PART, headers=ENT_AUTH)
    assert r.status_code == 201
    before = counts(db)
    r = mint(client, request(3))
    rejected(db, before, r, 409, 101)
    assert r.json["handle"] == "88.118.8/ENG-2026-000002"
    assert client.get("/api/handles/88.118.8/ENG-2026-000001").status_code == 404
    # Nothing was reserved either: the next attempt clashes at the same place.
    rejected(db, before, mint(client, request(5)), 409, 101)
    r = mint(client, request(1))
    assert r.status_code == 201 and r.json["handles"] == names(1, 2)


@pytest.mark.parametrize("count", [0, -1, 100_001, 1.5, "3", True, None, [3]])
def test_bad_counts_name_count(client, db, count):
    before = counts(db)
    rejected(db, before, mint(client, request(count)), 400, 4, "count")


def test_missing_count_or_pattern(client, db):
    before = counts(db)
    rejected(db, before, mint(client, {"pattern": "X-{seq}"}), 400, 4, "count")
    rejected(db, before, mint(client, {"count": 1}), 400, 4, "pattern")


def test_bad_patterns_name_pattern(client, db):
    before = counts(db)
    for pattern in ("ENG-2026", "{seq}{seq}", "A-{seq}-{seq:03}", "ENG-{seq}-}", "{ENG}-{seq}", "{{seq}}",
                    "ENG-{seq:x}", "ENG-{seq:123}", "ENG-{SEQ}", "", 5, None, ["{seq}"]):
        rejected(db, before, mint(client, request(1, pattern)), 400, 4, "pattern")
    for pattern in ("A\x01{seq}", "x" * 250 + "{seq}"):
        rejected(db, before, mint(client, request(1, pattern)), 400, 102, "pattern")


def test_unknown_fields_and_bad_bodies(client, db):
    before = counts(db)
    rejected(db, before, mint(client, request(1, extra=1)), 400, 4, "extra")
    rejected(db, before, mint(client, request(1, Values=[])), 400, 4, "Values")
    for body in ([request(1)], "x", 5, None):
        rejected(db, before, mint(client, body), 400, 4)
    r = client.post("/api/prefixes/88.118.8/mint", data="{", content_type="application/json", headers=ENT_AUTH)
    rejected(db, before, r, 400, 4)
    r = client.post("/api/prefixes/88.118.8/mint", data='{"pattern": "X{seq}", "count": 1}', content_type="text/plain",
                    headers=ENT_AUTH)
    rejected(db, before, r, 400, 4, "Content-Type")
    rejected(db, before, mint(client, {"pattern": "X{seq}", "count": 1, "values": "nope"}), 400, 4, "values")


def test_values_violating_the_template_mint_nothing(client, db):
    before = counts(db)
    cases = [([{"index": 1, "type": "PART.TYPE", "data": "ENGINE"},
               {"index": 2, "type": "PART.CN_CODE", "data": "123"}], "PART.CN_CODE"),
             ([{"index": 1, "type": "PART.TYPE", "data": "ENGINE"},
               {"index": 2, "type": "PART.NET_MASS_G", "data": "1.5"}], "PART.NET_MASS_G"),
             ([{"index": 1, "type": "PART.TYPE", "data": "ENGINE"},
               {"index": 2, "type": "PART.PRODUCTION_DATE", "data": "2026-02-30"}], "PART.PRODUCTION_DATE"),
             ([{"index": 1, "type": "PART.FOO", "data": "x"}], "PART.FOO"),
             ([{"index": 2, "type": "PART.CN_CODE", "data": "84082010"}], "PART.TYPE")]
    for values, field in cases:
        rejected(db, before, mint(client, request(2, values=values)), 400, 202, field)
    for values, field in (([{"index": 0, "type": "URL", "data": "x"}], "values[0].index"),
                          ([{"index": 1, "type": "URL", "data": {"format": "hex", "value": "x"}}],
                           "values[0].data.value"),
                          ([PART[0], {**PART[1], "index": 1}], "values[1].index")):
        rejected(db, before, mint(client, request(2, values=values)), 400, 202, field)
    assert mint(client, request(1)).json["handles"] == names(1, 2)


def test_minted_seckeys_are_hashed(client, db):
    secret = "minted-secret-value"
    r = mint(client, request(2, values=PART + [{"index": 300, "type": "HS_SECKEY", "data": secret}]))
    assert r.status_code == 201
    with db.read() as s:
        rows = s.all("SELECT data_value FROM handle_values WHERE idx = 300")
        audit = s.all("SELECT detail FROM audit_log")
    assert rows and all(secret not in row["data_value"] for row in rows)
    assert all(secret not in row["detail"] for row in audit)


def test_prefixes_this_node_does_not_hold(client, db):
    before = counts(db)
    for prefix, rc in (("99.1", 301), ("88.118.77", 301), ("88!", 102), ("0.NA", 301)):
        rejected(db, before, mint(client, request(1), prefix), 400, rc)


def test_mint_needs_credentials(client, db):
    before = counts(db)
    r = mint(client, request(1), auth={})
    rejected(db, before, r, 401, 402)
    assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'


def test_patterns_minting_the_same_handles_share_a_sequence(client):
    assert mint(client, request(2, "ENG-{seq}")).json["handles"] == ["88.118.8/ENG-1", "88.118.8/ENG-2"]
    for pattern, expected in (("eng-{seq}", "88.118.8/eng-3"), ("Eng-{seq:1}", "88.118.8/Eng-4"),
                              ("ENG-{seq:01d}", "88.118.8/ENG-5")):
        r = mint(client, request(1, pattern))
        assert r.status_code == 201 and r.json["handles"] == [expected], (pattern, r.json)


def test_mint_the_maximum_on_sqlite(client, db, config):
    """100,000 handles in one request (SQLite only, to keep the suite fast)."""
    if config.is_postgres:
        pytest.skip("one large mint is enough; run on SQLite")
    before = counts(db)
    start = time.monotonic()
    r = mint(client, {"pattern": "BULK-{seq:06}", "count": 100_000,
                      "values": [{"index": 1, "type": "PART.TYPE", "data": "BOLT"}]})
    elapsed = time.monotonic() - start
    assert r.status_code == 201, r.json
    assert r.json["count"] == 100_000 and len(r.json["handles"]) == 100_000
    assert r.json["first"] == "88.118.8/BULK-000001" and r.json["last"] == "88.118.8/BULK-100000"
    after = counts(db)
    assert after["handles"] == before["handles"] + 100_000
    assert after["handle_values"] == before["handle_values"] + 200_000  # PART.TYPE and HS_ADMIN
    assert client.get("/api/handles/88.118.8/bulk-054321").json["handle"] == "88.118.8/bulk-054321"
    listed = client.get("/api/handles?prefix=88.118.8&page=0&pageSize=0", headers=ENT_AUTH)
    assert listed.json["totalCount"] == "100000"
    assert elapsed < 120, elapsed
    assert mint(client, {"pattern": "BULK-{seq:06}", "count": 1}).json["first"] == "88.118.8/BULK-100001"
