"""GET /api/handles/{handle}: filters, visibility, case folding, bad handles."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.conftest import ENT_AUTH, OTHER_AUTH, basic, row_count

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
PART = [
    {"index": 1, "type": "URL", "data": "https://example.com/eng"},
    {"index": 2, "type": "PART.TYPE", "data": "ENGINE"},
    {"index": 3, "type": "PART.CN_CODE", "data": "84082010"},
    {"index": 4, "type": "EMAIL", "data": "parts@example.com"},
    {"index": 5, "type": "PART.BATCH", "data": "B-7"},
]


def url(handle: str) -> str:
    return "/api/handles/" + quote(handle, safe="/")


def create(client, handle: str, values: list[dict], auth: dict = ENT_AUTH) -> None:
    r = client.put(url(handle) + "?overwrite=false", json={"values": values}, headers=auth)
    assert r.status_code == 201, r.json
    assert r.json["responseCode"] == 1


def indexes(response) -> list[int]:
    return sorted(v["index"] for v in response.json["values"])


def test_resolve_whole_record(client):
    create(client, "88.118.8/ENG-1", PART)
    r = client.get(url("88.118.8/ENG-1"))
    assert r.status_code == 200
    assert r.json["responseCode"] == 1 and r.json["handle"] == "88.118.8/ENG-1"
    # The creator's default HS_ADMIN is public (1110), so it shows too.
    assert indexes(r) == [1, 2, 3, 4, 5, 100]
    url_value = next(v for v in r.json["values"] if v["index"] == 1)
    assert url_value["data"] == {"format": "string", "value": "https://example.com/eng"}
    assert url_value["ttl"] == 86400
    for value in r.json["values"]:
        assert TIMESTAMP.match(value["timestamp"]), value


def test_type_and_index_filters_are_a_union(client):
    create(client, "88.118.8/ENG-1", PART)
    base = url("88.118.8/ENG-1")
    assert indexes(client.get(base + "?type=URL")) == [1]
    assert indexes(client.get(base + "?index=4")) == [4]
    assert indexes(client.get(base + "?index=1&index=4")) == [1, 4]
    assert indexes(client.get(base + "?type=URL&type=EMAIL")) == [1, 4]
    assert indexes(client.get(base + "?type=URL&index=5")) == [1, 5]
    r = client.get(base + "?type=PART.&index=1")
    assert r.json["responseCode"] == 1 and indexes(r) == [1, 2, 3, 5]


def test_type_ending_in_dot_matches_only_subtypes(client):
    create(client, "88.118.8/ENG-1", PART + [{"index": 6, "type": "PARTNER", "data": "x"}])
    r = client.get(url("88.118.8/ENG-1") + "?type=PART.")
    assert indexes(r) == [2, 3, 5]
    # Without the dot only the exact type matches.
    assert indexes(client.get(url("88.118.8/ENG-1") + "?type=PART")) == []


def test_filter_matching_nothing_is_rc_200_with_empty_values(client):
    create(client, "88.118.8/ENG-1", PART)
    for query in ("?type=NOPE", "?index=42", "?type=NOPE&index=42", "?type=url", "?type=PART.TYPE."):
        r = client.get(url("88.118.8/ENG-1") + query)
        assert r.status_code == 200, query
        assert r.json == {"responseCode": 200, "handle": "88.118.8/ENG-1", "values": []}, query


def test_non_integer_index_is_rc_4(client):
    create(client, "88.118.8/ENG-1", PART)
    for bad in ("x", "1.5", "-1", "various", "", " 1", "\u00b2", "\u0661"):
        r = client.get(url("88.118.8/ENG-1"), query_string={"index": ["1", bad]})
        assert r.status_code == 400, bad
        assert r.json["responseCode"] == 4 and r.json["field"] == "index", bad
        assert r.json["handle"] == "88.118.8/ENG-1"


def test_unknown_handle_is_404_rc_100(client):
    r = client.get(url("88.118.8/NOPE"))
    assert r.status_code == 404
    assert r.json["responseCode"] == 100 and r.json["handle"] == "88.118.8/NOPE"


def test_prefix_not_held_is_rc_301(client):
    for handle in ("99.1/x", "88.118.77/x", "88/x", "0.NA/99", "0.NA/0.NA", "88.1180/x", "88.118.8.1/x"):
        r = client.get(url(handle))
        assert r.status_code == 400, handle
        assert r.json["responseCode"] == 301 and r.json["handle"] == handle, handle


MALFORMED = [
    "88.118.8",                       # no slash
    "88.118.8/",                      # empty suffix
    "88.118.8/a\x01b",                # control character
    "88.118.8/a\x7fb",                # DEL
    "88.118.8/a\u0085b",              # C1 control
    "88.118.8/a\tb",
    "88.118.8/" + "x" * 247,          # 256 bytes
    "88.118.8/" + "\u00e4" * 124,     # 257 bytes in UTF-8, 133 characters
    "88.1 18/x",                      # bad prefix characters
    "88..118/x",
    "88.118.8./x",
    "88!/x",
    "0.NA/88.118.8/x",                # a prefix record's suffix must be a prefix
]


def test_malformed_handle_is_rc_102(client):
    for handle in MALFORMED:
        r = client.get(url(handle))
        assert r.status_code == 400, handle
        assert r.json["responseCode"] == 102, handle


def test_handle_of_exactly_255_bytes_is_fine(client):
    handle = "88.118.8/" + "x" * 246
    assert len(handle.encode()) == 255
    create(client, handle, [{"index": 1, "type": "URL", "data": "u"}])
    r = client.get(url(handle))
    assert r.status_code == 200 and r.json["handle"] == handle


def test_prefix_record_hides_seckey_from_the_public(client):
    r = client.get(url("0.NA/88.118.8"))
    assert r.status_code == 200 and r.json["responseCode"] == 1
    types = [v["type"] for v in r.json["values"]]
    assert "HS_SECKEY" not in types
    assert "HS_ADMIN" in types and "HS_SITE" in types
    # Asking for it explicitly does not help.
    for query in ("?type=HS_SECKEY", "?index=300", "?type=HS_SECKEY&auth=true"):
        r = client.get(url("0.NA/88.118.8") + query)
        assert r.status_code == 200
        assert r.json == {"responseCode": 200, "handle": "0.NA/88.118.8", "values": []}


def test_prefix_admin_sees_seckey_but_only_as_a_hash(client):
    r = client.get(url("0.NA/88.118.8") + "?auth=true", headers=ENT_AUTH)
    assert r.status_code == 200
    keys = [v for v in r.json["values"] if v["type"] == "HS_SECKEY"]
    assert [k["index"] for k in keys] == [300]
    assert keys[0]["data"]["value"].startswith("scrypt$")
    assert "engine-maker-secret" not in r.get_data(as_text=True)
    assert all("timestamp" in v for v in r.json["values"])


def test_public_only_hides_seckey_even_from_the_admin(client):
    for query in ("?publicOnly=true", "?publicOnly", "?publicOnly=1"):
        r = client.get(url("0.NA/88.118.8") + query, headers=ENT_AUTH)
        assert r.status_code == 200
        assert [v for v in r.json["values"] if v["type"] == "HS_SECKEY"] == []


def test_another_prefix_key_cannot_read_seckey(client):
    r = client.get(url("0.NA/88.118.8"), headers=OTHER_AUTH)
    assert r.status_code == 200
    assert "HS_SECKEY" not in [v["type"] for v in r.json["values"]]


def test_bad_credentials_on_get_are_401(client):
    r = client.get(url("0.NA/88.118.8"), headers=basic("300:0.NA/88.118.8", "wrong-password"))
    assert r.status_code == 401 and r.json["responseCode"] == 402
    assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'


def test_ascii_case_is_folded_and_the_request_spelling_echoed(client):
    create(client, "88.118.8/ENG-1", PART)
    for spelling in ("88.118.8/eng-1", "88.118.8/Eng-1", "88.118.8/ENG-1"):
        r = client.get(url(spelling))
        assert r.status_code == 200, spelling
        assert r.json["responseCode"] == 1 and r.json["handle"] == spelling
        assert indexes(r) == [1, 2, 3, 4, 5, 100]
    r = client.get(url("88.118.8/eng-2"))
    assert r.status_code == 404 and r.json["handle"] == "88.118.8/eng-2"


def test_case_variants_cannot_both_be_created(client, db):
    create(client, "88.118.8/ENG-1", PART)
    before = [row_count(db, t) for t in ("handles", "handle_values", "audit_log")]
    r = client.put(url("88.118.8/eng-1") + "?overwrite=false", json=PART, headers=ENT_AUTH)
    assert r.status_code == 409 and r.json["responseCode"] == 101
    assert r.json["handle"] == "88.118.8/eng-1"
    assert [row_count(db, t) for t in ("handles", "handle_values", "audit_log")] == before
    with db.read() as s:
        rows = s.all("SELECT handle FROM handles WHERE handle_key = ?", ("88.118.8/eng-1",))
    assert [row["handle"] for row in rows] == ["88.118.8/ENG-1"]


def test_non_ascii_case_is_not_folded(client):
    create(client, "88.118.8/\u00c4-1", [{"index": 1, "type": "URL", "data": "upper"}])
    assert client.get(url("88.118.8/\u00e4-1")).status_code == 404
    create(client, "88.118.8/\u00e4-1", [{"index": 1, "type": "URL", "data": "lower"}])
    upper = client.get(url("88.118.8/\u00c4-1"))
    lower = client.get(url("88.118.8/\u00e4-1"))
    assert upper.json["handle"] == "88.118.8/\u00c4-1" and lower.json["handle"] == "88.118.8/\u00e4-1"
    assert upper.json["values"][0]["data"]["value"] == "upper"
    assert lower.json["values"][0]["data"]["value"] == "lower"


def test_node_prefix_handles_resolve(client):
    r = client.get(url("0.NA/88.118"))
    assert r.status_code == 200 and r.json["responseCode"] == 1
    assert "HS_SECKEY" not in [v["type"] for v in r.json["values"]]
    r = client.get(url("88.118/whatever"))
    assert r.status_code == 404 and r.json["responseCode"] == 100


def test_pretty_output_is_the_same_json(client):
    create(client, "88.118.8/ENG-1", PART)
    plain = client.get(url("88.118.8/ENG-1"))
    pretty = client.get(url("88.118.8/ENG-1") + "?pretty")
    assert pretty.json == plain.json
    assert "\n" in pretty.get_data(as_text=True) and "\n" not in plain.get_data(as_text=True)


def test_invalid_boolean_parameter_is_rc_4(client):
    for name in ("publicOnly", "auth", "doNotRefer"):
        r = client.get(url("0.NA/88.118.8"), query_string={name: "maybe"})
        assert r.status_code == 400, name
        assert r.json["responseCode"] == 4 and r.json["field"] == name


def test_unknown_api_path_is_404_rc_4(client):
    for path in ("/api/nothing", "/api/handles-x/1", "/api", "/api/prefixes/88.118.8/other"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json["responseCode"] == 4, path


def test_unsupported_method_is_405_rc_4(client):
    for method, path in (("post", "/api/handles/88.118.8/x"), ("patch", "/api/handles/88.118.8/x"),
                         ("put", "/api/handles"), ("get", "/api/prefixes/88.118.8/mint")):
        r = getattr(client, method)(path, headers=ENT_AUTH)
        assert r.status_code == 405, (method, path)
        assert r.json["responseCode"] == 4, (method, path)


MIXED = [
    {"index": 1, "type": "URL", "data": "https://example.com/é", "ttl": 60},
    {"index": 2, "type": "NOTE", "data": "admins only", "permissions": "1100"},
    {"index": 3, "type": "NOTE", "data": "nobody reads this", "permissions": "0100"},
    {"index": 4, "type": "X.SITE", "data": {"format": "site", "value": {"a": [1, None]}},
     "references": [{"handle": "88.118.8/OTHER", "index": 1}]},
]


def _values(response) -> dict[int, dict]:
    """Values by index, without the timestamp (checked for shape only)."""
    out = {}
    for v in response.json["values"]:
        assert TIMESTAMP.match(v["timestamp"])
        out[v["index"]] = {k: x for k, x in v.items() if k != "timestamp"}
    return out


def test_read_flags_decide_who_sees_which_value_and_its_shape(client):
    """The answer is built straight from the stored rows: public read for everyone,
    admin read only for an administrator who asked without publicOnly, neither flag
    for nobody; non-default permissions and references are shown, defaults are not."""
    create(client, "88.118.8/MIX", MIXED)
    url_1 = {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.com/é"},
             "ttl": 60}
    site_4 = {"index": 4, "type": "X.SITE", "data": {"format": "site", "value": {"a": [1, None]}},
              "ttl": 86400, "references": [{"handle": "88.118.8/OTHER", "index": 1}]}
    anonymous = _values(client.get(url("88.118.8/MIX")))
    assert anonymous[1] == url_1 and anonymous[4] == site_4 and not {2, 3} & set(anonymous)
    admin = _values(client.get(url("88.118.8/MIX"), headers=ENT_AUTH))
    assert admin[2] == {"index": 2, "type": "NOTE", "data": {"format": "string", "value": "admins only"},
                        "ttl": 86400, "permissions": "1100"}
    assert 3 not in admin and admin[1] == url_1 and admin[4] == site_4
    assert set(_values(client.get(url("88.118.8/MIX"), headers=OTHER_AUTH))) == set(anonymous)
    assert set(_values(client.get(url("88.118.8/MIX") + "?publicOnly", headers=ENT_AUTH))) == set(anonymous)
    r = client.get(url("88.118.8/MIX") + "?index=3", headers=ENT_AUTH)
    assert r.status_code == 200 and r.json == {"responseCode": 200, "handle": "88.118.8/MIX", "values": []}
    assert indexes(client.get(url("88.118.8/MIX") + "?type=NOTE", headers=ENT_AUTH)) == [2]
