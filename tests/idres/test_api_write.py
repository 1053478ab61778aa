"""PUT and DELETE /api/handles/{handle}: every rejected write changes nothing."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.conftest import ADMIN_AUTH, ENT_AUTH, RESOLVER_TABLES, counts, rejected, row_count

H = "88.118.8/ENG-1"
BASE = [{"index": 1, "type": "URL", "data": "https://example.com/1"},
        {"index": 2, "type": "EMAIL", "data": "a@example.com"},
        {"index": 3, "type": "PART.TYPE", "data": "ENGINE"}]


def url(handle: str, query: str = "") -> str:
    return "/api/handles/" + quote(handle, safe="/") + query



def put(client, handle: str, body, query: str = "", auth: dict = ENT_AUTH):
    return client.put(url(handle, query), json=body, headers=auth)


def create(client, handle: str = H, values: list | None = None) -> None:
    r = put(client, handle, {"values": values or BASE}, "?overwrite=false")
    assert r.status_code == 201 and r.json == {"responseCode": 1, "handle": handle}, r.json


def values(client, handle: str = H) -> dict[int, dict]:
    r = client.get(url(handle))
    assert r.status_code == 200, r.json
    return {v["index"]: v for v in r.json["values"]}



def test_create_returns_201_and_audits(client, db):
    before = counts(db)
    create(client)
    assert counts(db)["handles"] == before["handles"] + 1
    assert counts(db)["audit_log"] == before["audit_log"] + 1
    got = values(client)
    assert sorted(got) == [1, 2, 3, 100]
    assert got[100]["data"]["value"] == {"handle": "0.NA/88.118.8", "index": 300,
                                         "permissions": "011111110011"}


def test_put_without_overwrite_param_creates_with_201(client):
    r = put(client, H, BASE)
    assert r.status_code == 201 and r.json == {"responseCode": 1, "handle": H}


def test_overwrite_false_on_existing_is_409_rc_101(client, db):
    create(client)
    before = counts(db)
    for spelling in (H, "88.118.8/eng-1"):
        r = put(client, spelling, [{"index": 1, "type": "URL", "data": "other"}], "?overwrite=false")
        rejected(db, before, r, 409, 101)
        assert r.json["handle"] == spelling
    assert values(client)[1]["data"]["value"] == "https://example.com/1"


def test_replace_whole_record(client, db):
    create(client)
    r = put(client, H, [{"index": 1, "type": "URL", "data": "https://new"},
                        {"index": 7, "type": "EMAIL", "data": "b@example.com"}], "?overwrite=true")
    assert r.status_code == 200 and r.json == {"responseCode": 1, "handle": H}
    got = values(client)
    assert sorted(got) == [1, 7]
    assert got[1]["data"]["value"] == "https://new"
    with db.read() as s:
        assert int(s.one("SELECT COUNT(*) AS n FROM handle_values WHERE handle_key = ?",
                         ("88.118.8/eng-1",))["n"]) == 2


def test_unchanged_values_keep_their_timestamp(client, db):
    create(client)
    with db.write() as s:
        s.run("UPDATE handle_values SET timestamp = ? WHERE handle_key = ?", ("2020-01-01T00:00:00Z", "88.118.8/eng-1"))
    r = put(client, H, [BASE[0], {"index": 2, "type": "EMAIL", "data": "changed@example.com"}, BASE[2]], "?index=various")
    assert r.status_code == 200
    got = values(client)
    assert got[1]["timestamp"] == got[3]["timestamp"] == got[100]["timestamp"] == "2020-01-01T00:00:00Z"
    assert got[2]["timestamp"] > "2025"


def test_partial_update_touches_only_the_named_indexes(client):
    create(client)
    r = put(client, H, [{"index": 1, "type": "URL", "data": "https://new"},
                        {"index": 9, "type": "EMAIL", "data": "n@example.com"}], "?index=1&index=9&overwrite=true")
    assert r.status_code == 200 and r.json == {"responseCode": 1, "handle": H}
    got = values(client)
    assert sorted(got) == [1, 2, 3, 9, 100]
    assert got[1]["data"]["value"] == "https://new" and got[2]["data"]["value"] == "a@example.com"
    r = put(client, H, {"index": 2, "type": "EMAIL", "data": "x@example.com"}, "?index=various")
    assert r.status_code == 200
    assert values(client)[2]["data"]["value"] == "x@example.com"


def test_pyhandle_style_modify_round_trip(client):
    create(client)
    got = client.get(url(H, "?auth=true"), headers=ENT_AUTH).json["values"]
    for v in got:
        v.pop("timestamp")
    url_value = next(v for v in got if v["index"] == 1)
    url_value["data"] = "https://moved"
    r = put(client, H, {"values": [url_value]}, "?index=1&overwrite=true")
    assert r.status_code == 200 and r.json["responseCode"] == 1
    assert values(client)[1]["data"] == {"format": "string", "value": "https://moved"}


def test_index_param_must_match_the_body(client, db):
    create(client)
    before = counts(db)
    for query, body in (("?index=1", [{"index": 2, "type": "URL", "data": "x"}]),
                        ("?index=1&index=2", [{"index": 1, "type": "URL", "data": "x"}]),
                        ("?index=1", [{"index": 1, "type": "URL", "data": "x"}, {"index": 2, "type": "URL", "data": "y"}])):
        rejected(db, before, put(client, H, body, query), 400, 4, "index")
    rejected(db, before, put(client, H, BASE[:1], "?index=x"), 400, 4, "index")


def test_overwrite_false_with_index_on_existing_value_is_409_rc_201(client, db):
    create(client)
    before = counts(db)
    r = put(client, H, [{"index": 1, "type": "URL", "data": "x"}, {"index": 8, "type": "URL", "data": "y"}],
            "?index=1&index=8&overwrite=false")
    rejected(db, before, r, 409, 201)
    r = put(client, H, [{"index": 8, "type": "URL", "data": "y"}], "?index=8&overwrite=false")
    assert r.status_code == 201 and r.json == {"responseCode": 1, "handle": H}
    assert values(client)[8]["data"]["value"] == "y"


def test_partial_update_of_missing_handle_is_404_rc_100(client, db):
    before = counts(db)
    for query in ("?index=1", "?index=various"):
        r = put(client, "88.118.8/NOPE", BASE[:1], query)
        rejected(db, before, r, 404, 100)
        assert r.json["handle"] == "88.118.8/NOPE"


def test_mint_new_suffix(client):
    for path, start in (("88.118.8", "88.118.8/"), ("88.118.8/ENG-", "88.118.8/ENG-")):
        r = put(client, path, BASE, "?mintNewSuffix=true")
        assert r.status_code == 201 and r.json["responseCode"] == 1
        minted = r.json["handle"]
        assert minted.startswith(start) and len(minted) > len(start) + 8
        assert sorted(values(client, minted)) == [1, 2, 3, 100]


def test_body_shapes_and_bare_string_data(client):
    single = {"index": 1, "type": "URL", "data": "https://single"}
    for n, body in enumerate(([single], {"values": [single]}, single)):
        handle = f"88.118.8/SHAPE-{n}"
        assert put(client, handle, body).status_code == 201
        assert values(client, handle)[1]["data"] == {"format": "string", "value": "https://single"}


def test_data_formats_round_trip(client):
    data = {
        1: {"format": "string", "value": "text"},
        2: {"format": "base64", "value": "aGVsbG8="},
        3: {"format": "hex", "value": "DEADbeef"},
        4: {"format": "vlist", "value": [{"handle": "88.118.8/alice", "index": 300}]},
        5: {"format": "site", "value": {"servers": [], "primarySite": True}},
        100: {"format": "admin", "value": {"handle": "0.NA/88.118.8", "index": "200", "permissions": "011111110011"}},
    }
    body = [{"index": i, "type": "HS_ADMIN" if i == 100 else f"T{i}", "data": d} for i, d in data.items()]
    assert put(client, H, body).status_code == 201
    got = values(client)
    for i in (1, 2, 3, 4, 5):
        assert got[i]["data"] == data[i]
    assert got[100]["data"]["value"] == {"handle": "0.NA/88.118.8", "index": 200, "permissions": "011111110011"}


def test_invalid_data_is_rc_202_naming_the_field(client, db):
    cases = [
        ({"format": "base64", "value": "not base64!"}, "values[0].data.value"),
        ({"format": "hex", "value": "abc"}, "values[0].data.value"),
        ({"format": "hex", "value": "zz"}, "values[0].data.value"),
        ({"format": "nope", "value": "x"}, "values[0].data.format"),
        ({"format": "string", "value": 5}, "values[0].data.value"),
        ({"format": "admin", "value": {"handle": "bad", "index": 1, "permissions": "1"}}, "values[0].data.value.handle"),
        ({"format": "admin", "value": {"handle": "0.NA/88.118.8", "index": 1, "permissions": "1"}},
         "values[0].data.value.permissions"),
        ({"format": "vlist", "value": "x"}, "values[0].data.value"),
        ({"format": "site", "value": []}, "values[0].data.value"),
        (5, "values[0].data"),
    ]
    create(client)
    before = counts(db)
    for n, (data, field) in enumerate(cases):
        body = [{"index": 1, "type": "URL", "data": data}]
        rejected(db, before, put(client, "88.118.8/NEW", body), 400, 202, field)
        if n < 2:  # the partial-update path parses values the same way
            rejected(db, before, put(client, H, body, "?index=1"), 400, 202, field)


def test_wrong_content_type_invalid_json_and_wrong_json_type(client, db):
    before = counts(db)
    text = json.dumps(BASE)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        r = client.put(url(H), data=text, content_type=content_type, headers=ENT_AUTH)
        rejected(db, before, r, 400, 4, "Content-Type")
    for raw in ("[{", "", "{'a': 1}", "\xff", "[NaN]", "[" * 100000 + "]" * 100000):
        r = client.put(url(H), data=raw.encode("latin-1"), content_type="application/json", headers=ENT_AUTH)
        rejected(db, before, r, 400, 4)
    for body in ("5", '"string"', "null", "true", '{"values": 5}'):
        r = client.put(url(H), data=body, content_type="application/json", headers=ENT_AUTH)
        rejected(db, before, r, 400, 4)


def test_nesting_is_bounded_before_parsing(client, db):
    before = counts(db)

    def nested(levels: int) -> str:  # 3 levels of array, value and data around the site value
        inner = "[" * (levels - 3) + "]" * (levels - 3)
        return '[{"index": 1, "type": "T", "data": {"format": "site", "value": %s}}]' % inner
    r = client.put(url(H), data=nested(65), content_type="application/json", headers=ENT_AUTH)
    rejected(db, before, r, 400, 4, "body")
    r = client.put(url(H), data=nested(64), content_type="application/json", headers=ENT_AUTH)
    rejected(db, before, r, 400, 202, "values[0].data.value")  # parsed: a site value must be an object
    site = {"servers": [{"interfaces": [{"url": "[[[[[[[[" * 20}]}]}
    assert put(client, H, [{"index": 1, "type": "HS_SITE", "data": {"format": "site", "value": site}}]).status_code == 201


def test_bad_indexes_are_rc_202(client, db):
    before = counts(db)
    dup = [{"index": 1, "type": "URL", "data": "a"}, {"index": 1, "type": "EMAIL", "data": "b"}]
    rejected(db, before, put(client, H, dup), 400, 202, "values[1].index")
    for index in (-1, 0, 1.5, "1", True, None, 2**31):
        rejected(db, before, put(client, H, [{"index": index, "type": "URL", "data": "a"}]), 400, 202,
                 "values[0].index")
    for value in ({"type": "URL", "data": "a"}, {"index": 1, "data": "a"}, {"index": 1, "type": "URL"},
                  {"index": 1, "type": "", "data": "a"}, {"index": 1, "type": "A\nB", "data": "a"},
                  {"index": 1, "type": "URL", "data": "a", "ttl": -1},
                  {"index": 1, "type": "URL", "data": "a", "permissions": "11"}, "not an object"):
        rejected(db, before, put(client, H, [value]), 400, 202)


def test_oversized_body_is_413(client, db):
    before = counts(db)
    big = [{"index": 1, "type": "URL", "data": "x" * (1024 * 1024)}]
    r = put(client, H, big)
    rejected(db, before, r, 413, 4)


def test_part_template_violations_are_rc_202_naming_the_type(client, db):
    create(client)
    before = counts(db)
    cases = [("PART.CN_CODE", "8408201"), ("PART.CN_CODE", "8408201A"), ("PART.NET_MASS_G", "12.5"),
             ("PART.NET_MASS_G", "-3"), ("PART.PRODUCTION_DATE", "2026-13-01"),
             ("PART.PRODUCTION_DATE", "yesterday"), ("PART.FOO", "x"), ("PART.TYPE", "lower case")]
    for vtype, data in cases:
        value = {"index": 9, "type": vtype, "data": data}
        extra = [] if vtype == "PART.TYPE" else [{"index": 8, "type": "PART.TYPE", "data": "ENGINE"}]
        rejected(db, before, put(client, "88.118.8/NEW", [value] + extra), 400, 202, vtype)
        if vtype in ("PART.CN_CODE", "PART.FOO"):
            rejected(db, before, put(client, H, [value], "?index=9"), 400, 202, vtype)
    # A part record needs PART.TYPE; removing it by replacement is refused too.
    rejected(db, before, put(client, H, [{"index": 4, "type": "PART.BATCH", "data": "B1"}]), 400, 202, "PART.TYPE")


def test_a_part_type_cannot_appear_twice(client, db):
    create(client)
    before = counts(db)
    for good_first in (True, False):
        codes = ["84082010", "bad"] if good_first else ["bad", "84082010"]
        body = BASE + [{"index": 10 + i, "type": "PART.CN_CODE", "data": c} for i, c in enumerate(codes)]
        rejected(db, before, put(client, "88.118.8/NEW", body), 400, 202, "PART.CN_CODE")
    r = put(client, H, [{"index": 10, "type": "PART.TYPE", "data": "GEARBOX"}], "?index=10")
    rejected(db, before, r, 400, 202, "PART.TYPE")


def test_valid_part_record(client):
    body = [{"index": 1, "type": "PART.TYPE", "data": "ENGINE"}, {"index": 2, "type": "PART.CN_CODE", "data": "84082010"},
            {"index": 3, "type": "PART.NET_MASS_G", "data": "182000"},
            {"index": 4, "type": "PART.PRODUCTION_DATE", "data": "2026-02-28"}]
    assert put(client, H, body).status_code == 201
    assert values(client)[3]["data"]["value"] == "182000"


def test_sql_looking_handles_and_values_are_stored_verbatim(client, db):
    handles = ["88.118.8/x'); DROP TABLE handles;--", '88.118.8/" OR 1=1 --', "88.118.8/%27; DELETE FROM audit_log"]
    payload = "'); DROP TABLE handle_values; -- \" %s ? $1"
    for handle in handles:
        r = put(client, handle, [{"index": 1, "type": "URL'; --", "data": payload}], "?overwrite=false")
        assert r.status_code == 201 and r.json["handle"] == handle
        r = client.get(url(handle))
        assert r.status_code == 200 and r.json["handle"] == handle
        assert r.json["values"][0]["type"] == "URL'; --" and r.json["values"][0]["data"]["value"] == payload
    for table in RESOLVER_TABLES + ("schema_migrations",):
        assert row_count(db, table) >= 0
    assert row_count(db, "handles") == 6
    r = client.delete(url(handles[0]), headers=ENT_AUTH)
    assert r.status_code == 200 and r.json == {"responseCode": 1, "handle": handles[0]}
    assert row_count(db, "handles") == 5


def test_put_on_bad_handles_changes_nothing(client, db):
    before = counts(db)
    for handle, rc in (("88.118.8", 102), ("88.118.8/a\x01", 102), ("88!/x", 102), ("88.118.8/" + "x" * 250, 102),
                       ("99.1/x", 301), ("88.118.77/x", 301)):
        r = put(client, handle, BASE, "?overwrite=false", auth=ADMIN_AUTH if rc == 301 else ENT_AUTH)
        rejected(db, before, r, 400, rc)


def test_delete_whole_handle(client, db):
    create(client)
    before = counts(db)
    r = client.delete(url("88.118.8/eng-1"), headers=ENT_AUTH)
    assert r.status_code == 200 and r.json == {"responseCode": 1, "handle": "88.118.8/eng-1"}
    assert client.get(url(H)).status_code == 404
    after = counts(db)
    assert after["handles"] == before["handles"] - 1
    assert after["handle_values"] == before["handle_values"] - 4
    assert after["audit_log"] == before["audit_log"] + 1


def test_delete_values_by_index(client, db):
    create(client)
    r = client.delete(url(H, "?index=1&index=2"), headers=ENT_AUTH)
    assert r.status_code == 200 and r.json == {"responseCode": 1, "handle": H}
    assert sorted(values(client)) == [3, 100]


def test_delete_errors_change_nothing_and_carry_handle(client, db):
    create(client, H, BASE + [{"index": 4, "type": "PART.BATCH", "data": "B1"}])
    before = counts(db)
    cases = [(H + "?index=99", ENT_AUTH, 400, 200), (H + "?index=1&index=99", ENT_AUTH, 400, 200),
             (H + "?index=x", ENT_AUTH, 400, 4), ("88.118.8/NOPE", ENT_AUTH, 404, 100),
             ("88.118.8/NOPE?index=1", ENT_AUTH, 404, 100), (H, {}, 401, 402), (H, ADMIN_AUTH, 403, 400),
             ("99.1/x", ENT_AUTH, 400, 301), ("88.118.8/a\x01", ENT_AUTH, 400, 102),
             (H + "?index=3", ENT_AUTH, 400, 202)]  # removing PART.TYPE breaks the template
    for path, auth, status, rc in cases:
        handle, _, query = path.partition("?")
        r = client.delete(url(handle, "?" + query if query else ""), headers=auth)
        rejected(db, before, r, status, rc)
        assert r.json["handle"] == handle, path
    assert sorted(values(client)) == [1, 2, 3, 4, 100]


def test_prefix_records_with_handles_cannot_be_deleted(client, db):
    create(client)
    before = counts(db)
    for auth in (ADMIN_AUTH, ENT_AUTH):
        r = client.delete(url("0.NA/88.118.8"), headers=auth)
        rejected(db, before, r, 409, 4)
        assert r.json["handle"] == "0.NA/88.118.8"
    rejected(db, before, client.delete(url("0.NA/88.118"), headers=ADMIN_AUTH), 400, 4)
    r = client.delete(url("0.NA/88.118.9"), headers=ADMIN_AUTH)
    assert r.status_code == 200 and r.json == {"responseCode": 1, "handle": "0.NA/88.118.9"}
    assert client.get(url("88.118.9/x")).json["responseCode"] == 301


def test_node_record_keeps_its_admin(client, db):
    before = counts(db)
    r = put(client, "0.NA/88.118", [{"index": 1, "type": "URL", "data": "x"}], auth=ADMIN_AUTH)
    rejected(db, before, r, 400, 202, "values")
    r = client.delete(url("0.NA/88.118", "?index=100"), headers=ADMIN_AUTH)
    rejected(db, before, r, 400, 202)


@pytest.mark.parametrize("query", ["?overwrite=maybe", "?mintNewSuffix=2"])
def test_bad_boolean_flags_on_put(client, db, query):
    before = counts(db)
    rejected(db, before, put(client, H, BASE, query), 400, 4)
