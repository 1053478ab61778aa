"""Authentication (Basic against HS_SECKEY) and authorization (HS_ADMIN bits, prefix boundaries)."""
from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from idres.values import ADMIN_BITS, HandleValue, admin_permissions

from tests.conftest import (ADMIN_AUTH, ADMIN_SECRET, ENT_AUTH, ENT_SECRET, OTHER_AUTH, RESOLVER_TABLES,
                            basic, counts, row_count)

URL_VALUE = [{"index": 1, "type": "URL", "data": "https://example.com"},
             {"index": 2, "type": "EMAIL", "data": "a@example.com"}]
MINT = {"pattern": "ENG-{seq:04}", "count": 2}
ALICE_SECRET = "alice-secret-42"


def url(handle: str, query: str = "") -> str:
    return "/api/handles/" + quote(handle, safe="/") + query



def raw_basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


def put(client, handle: str, body, auth: dict, query: str = ""):
    return client.put(url(handle, query), json=body, headers=auth)


def mint(client, auth: dict, prefix: str = "88.118.8"):
    return client.post(f"/api/prefixes/{prefix}/mint", json=MINT, headers=auth)


def everything(db) -> str:
    """Every row of every table, as text."""
    with db.read() as s:
        return json.dumps({t: [dict(r) for r in s.all(f"SELECT * FROM {t}")] for t in RESOLVER_TABLES}, default=str)


def writes(client, auth: dict, handle: str = "88.118.8/ENG-1") -> list:
    """One attempt at each kind of write: create, replace, modify, delete value, delete, mint."""
    return [put(client, handle + "-new", URL_VALUE, auth, "?overwrite=false"),
            put(client, handle, URL_VALUE, auth),
            put(client, handle, URL_VALUE[:1], auth, "?index=1"),
            client.delete(url(handle, "?index=2"), headers=auth),
            client.delete(url(handle), headers=auth),
            mint(client, auth, handle.split("/")[0])]


def test_writes_without_credentials_are_401_rc_402(client, db):
    assert put(client, "88.118.8/ENG-1", URL_VALUE, ENT_AUTH).status_code == 201
    before = counts(db)
    for r in writes(client, {}):
        assert r.status_code == 401 and r.json["responseCode"] == 402, r.json
        assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
    assert counts(db) == before
    assert client.get(url("88.118.8/ENG-1")).status_code == 200


def test_bad_credentials_are_401(client, db):
    before = counts(db)
    bad = [basic("300:0.NA/88.118.8", "wrong-password"), basic("300:0.NA/88.118.8", OTHER_AUTH and "bolt-maker-secret"),
           basic("301:0.NA/88.118.8", ENT_SECRET), basic("1:0.NA/88.118.8", ENT_SECRET),
           basic("300:0.NA/88.118.55", ENT_SECRET), basic("300:88.118.8/ghost", ENT_SECRET),
           basic("300:99.1/x", ENT_SECRET), basic("300:0.NA/88.118.8", "")]
    for header in bad:
        for r in (put(client, "88.118.8/x", URL_VALUE, header), client.delete(url("88.118.8/x"), headers=header),
                  mint(client, header), client.get(url("0.NA/88.118.8"), headers=header)):
            assert r.status_code == 401 and r.json["responseCode"] == 402, (header, r.json)
            assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
    assert counts(db) == before


def test_malformed_authorization_headers_are_401_never_500(client, db):
    before = counts(db)
    headers = [{"Authorization": v} for v in (
        "Bearer abc", "Basic", "Basic ", "Basic !!!", "Basic YWJj=", "Digest username=x", "basic", "Basic \u00e9\u00e9\u00e9\u00e9",
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode())]
    headers += [raw_basic(t) for t in (
        "nocolon", "0.NA/88.118.8:" + ENT_SECRET, "abc:0.NA/88.118.8:" + ENT_SECRET,
        "300%3A0.NA/88.118.8", ":" + ENT_SECRET, "300%3A:" + ENT_SECRET, "300:", "300::x",
        "\u00b2%3A0.NA/88.118.8:" + ENT_SECRET, "\u0663\u0660\u0660:0.NA/88.118.8:" + ENT_SECRET,
        "-1%3A0.NA/88.118.8:" + ENT_SECRET, "300%3A0.NA/88.118.8\x01:" + ENT_SECRET,
        "300%3A" + "x" * 300 + ":" + ENT_SECRET, "99999999999999999999%3A0.NA/88.118.8:" + ENT_SECRET)]
    for header in headers:
        for r in (put(client, "88.118.8/x", URL_VALUE, header), client.get(url("0.NA/88.118.8"), headers=header)):
            assert r.status_code == 401 and r.json["responseCode"] == 402, (header, r.json)
            assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
    assert counts(db) == before


def test_username_spellings_that_work(client, db):
    spellings = [raw_basic("300%3A0.NA/88.118.8:" + ENT_SECRET),
                 raw_basic("300%3a0.NA%2F88.118.8:" + ENT_SECRET),
                 raw_basic("300:0.NA/88.118.8:" + ENT_SECRET),
                 raw_basic("300:0.na/88.118.8:" + ENT_SECRET),
                 raw_basic("0%3A0.NA/88.118.8:" + ENT_SECRET),
                 raw_basic("0:0.NA/88.118.8:" + ENT_SECRET),
                 {"Authorization": "basic " + base64.b64encode(f"300:0.NA/88.118.8:{ENT_SECRET}".encode()).decode()}]
    for n, header in enumerate(spellings):
        r = put(client, f"88.118.8/ENG-{n}", URL_VALUE, header)
        assert r.status_code == 201 and r.json["responseCode"] == 1, (header, r.json)
    with db.read() as s:
        actors = [row["actor"] for row in s.all("SELECT actor FROM audit_log WHERE handle LIKE ? ORDER BY id",
                                                ("88.118.8/ENG-%",))]
    assert actors[:3] == ["300:0.NA/88.118.8"] * 3
    assert all(a.lower() == "300:0.na/88.118.8" for a in actors) and len(actors) == len(spellings)


def test_password_with_colons_works_unencoded(client, db):
    secret = "pass:with:colons"
    r = put(client, "0.NA/88.118.8", [{"index": 301, "type": "HS_SECKEY", "data": secret}], ENT_AUTH, "?index=301")
    assert r.status_code == 200
    before = counts(db)
    for header in (raw_basic("301:0.NA/88.118.8:" + secret), raw_basic("301%3A0.NA/88.118.8:" + secret)):
        assert client.get(url("88.118.8/none"), headers=header).status_code == 404
        # Authenticated, but the prefix's HS_ADMIN names index 300 only.
        r = put(client, "88.118.8/colon", URL_VALUE, header)
        assert r.status_code == 403 and r.json["responseCode"] == 400
    assert counts(db) == before
    assert client.get(url("88.118.8/none"), headers=raw_basic("301:0.NA/88.118.8:pass")).status_code == 401


def test_other_prefix_key_never_writes_under_ours(client, db):
    # Even an HS_ADMIN naming the other key gives it nothing under 88.118.8.
    admin = {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
        "handle": "0.NA/88.118.9", "index": 300, "permissions": "111111111111"}}}
    assert put(client, "88.118.8/ENG-1", URL_VALUE + [admin], ENT_AUTH).status_code == 201
    before, snapshot = counts(db), everything(db)
    for r in writes(client, OTHER_AUTH):
        assert r.status_code == 403 and r.json["responseCode"] == 400, r.json
    for handle in ("0.NA/88.118.8", "0.NA/88.118", "0.NA/88.118.13"):
        r = put(client, handle, URL_VALUE, OTHER_AUTH)
        assert r.status_code == 403 and r.json["responseCode"] == 400, (handle, r.json)
    assert counts(db) == before and everything(db) == snapshot


def test_node_admin_creates_an_enterprise_prefix_whose_key_then_works(client, db):
    secret = "new-prefix-secret"
    record = [
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
            "handle": "0.NA/88.118.12", "index": 300, "permissions": "111111111111"}}},
        {"index": 300, "type": "HS_SECKEY", "data": secret},
        {"index": 1, "type": "HS_SITE", "data": {"format": "site", "value": {"servers": []}}}]
    r = put(client, "0.NA/88.118.12", record, ADMIN_AUTH, "?overwrite=false")
    assert r.status_code == 201 and r.json == {"responseCode": 1, "handle": "0.NA/88.118.12"}
    assert secret not in everything(db)
    new_key = basic("300:0.NA/88.118.12", secret)
    r = put(client, "88.118.12/ENG-1", URL_VALUE, new_key)
    assert r.status_code == 201 and r.json["responseCode"] == 1
    assert mint(client, new_key, "88.118.12").status_code == 201
    with db.read() as s:
        actors = [(row["actor"], row["handle"]) for row in s.all("SELECT actor, handle FROM audit_log ORDER BY id")]
    assert ("300:0.NA/88.118", "0.NA/88.118.12") in actors
    assert ("300:0.NA/88.118.12", "88.118.12/ENG-1") in actors
    # The new key is confined to its own prefix.
    before = counts(db)
    r = put(client, "88.118.8/ENG-1", URL_VALUE, new_key)
    assert r.status_code == 403 and r.json["responseCode"] == 400
    assert counts(db) == before


def test_node_admin_may_not_write_part_handles_of_an_enterprise(client, db):
    assert put(client, "88.118.8/ENG-1", URL_VALUE, ENT_AUTH).status_code == 201
    before = counts(db)
    for r in writes(client, ADMIN_AUTH):
        assert r.status_code == 403 and r.json["responseCode"] == 400, r.json
    assert counts(db) == before


def test_enterprise_key_cannot_create_prefix_records(client, db):
    before = counts(db)
    for handle in ("0.NA/88.118.13", "0.NA/88.118.8.1"):
        r = put(client, handle, URL_VALUE, ENT_AUTH, "?overwrite=false")
        assert r.status_code == 403 and r.json["responseCode"] == 400, r.json
    r = put(client, "0.NA/88.118", URL_VALUE[:1], ENT_AUTH, "?index=1")
    assert r.status_code == 403 and r.json["responseCode"] == 400
    assert counts(db) == before


def test_invalid_enterprise_prefixes(client, db):
    before = counts(db)
    for handle, status, rc in (("0.NA/88.118.abc", 400, 102), ("0.NA/88.118.8.1", 400, 102),
                               ("0.NA/88.118.1234567890", 400, 102), ("0.NA/88.119", 400, 301),
                               ("0.NA/88.118.08", 400, 102), ("0.NA/88.118.00", 400, 102),
                               ("0.NA/88.118.a b", 400, 102)):
        r = put(client, handle, URL_VALUE, ADMIN_AUTH, "?overwrite=false")
        assert r.status_code == status and r.json["responseCode"] == rc, (handle, r.json)
    assert counts(db) == before


def make_user(client, name: str) -> dict:
    """A user handle 88.118.8/<name> with an HS_SECKEY at 300; returns its auth header."""
    r = put(client, f"88.118.8/{name}", [{"index": 300, "type": "HS_SECKEY", "data": ALICE_SECRET}], ENT_AUTH)
    assert r.status_code == 201
    return basic(f"300:88.118.8/{name}", ALICE_SECRET)


def part_admin_by(client, handle: str, admin: str, index: int, bits: str) -> None:
    value = {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
        "handle": admin, "index": str(index), "permissions": bits}}}
    assert put(client, handle, URL_VALUE + [value], ENT_AUTH).status_code == 201


def test_user_seckey_is_stored_hashed_and_hidden(client, db):
    alice = make_user(client, "alice")
    with db.read() as s:
        row = s.one("SELECT data_value, permissions FROM handle_values WHERE handle_key = ? AND idx = 300",
                    ("88.118.8/alice",))
    assert json.loads(row["data_value"]).startswith("scrypt$") and row["permissions"][2:] == "00"
    for secret in (ALICE_SECRET, ENT_SECRET, ADMIN_SECRET, "bolt-maker-secret"):
        assert secret not in everything(db)
    assert "HS_SECKEY" not in [v["type"] for v in client.get(url("88.118.8/alice")).json["values"]]
    before = counts(db)
    r = put(client, "88.118.8/by-alice", URL_VALUE, alice)
    assert r.status_code == 403 and r.json["responseCode"] == 400 and counts(db) == before
    # Changing the key: the old password stops working, the new one works.
    r = put(client, "88.118.8/alice", [{"index": 300, "type": "HS_SECKEY", "data": "alice-new-secret",
                                         "permissions": "1111"}], ENT_AUTH, "?index=300")
    assert r.status_code == 200
    assert "alice-new-secret" not in everything(db)
    assert client.get(url("88.118.8/alice"), headers=alice).status_code == 401
    new = basic("300:88.118.8/alice", "alice-new-secret")
    assert client.get(url("88.118.8/alice"), headers=new).status_code == 200
    assert "HS_SECKEY" not in [v["type"] for v in client.get(url("88.118.8/alice")).json["values"]]


def test_hs_admin_bits_are_enforced(client, db):
    alice = make_user(client, "alice")
    part_admin_by(client, "88.118.8/P1", "88.118.8/alice", 300, "000000010000")  # MODIFY_VALUE only (bit 4)
    r = put(client, "88.118.8/P1", [{"index": 1, "type": "URL", "data": "https://by-alice"}], alice, "?index=1")
    assert r.status_code == 200 and r.json["responseCode"] == 1
    before = counts(db)
    denied = [put(client, "88.118.8/P1", [{"index": 5, "type": "URL", "data": "x"}], alice, "?index=5"),  # ADD_VALUE
              client.delete(url("88.118.8/P1", "?index=2"), headers=alice),  # REMOVE_VALUE
              client.delete(url("88.118.8/P1"), headers=alice),  # DELETE_HANDLE
              put(client, "88.118.8/P1", [{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                  "handle": "88.118.8/alice", "index": 300, "permissions": "111111111111"}}}], alice, "?index=100"),
              put(client, "88.118.8/P1", [{"index": 1, "type": "URL", "data": "x"}], alice),  # drops 2 and 100
              put(client, "88.118.8/P9", URL_VALUE, alice),  # ADD_HANDLE
              mint(client, alice)]
    for r in denied:
        assert r.status_code == 403 and r.json["responseCode"] == 400, r.json
    assert counts(db) == before
    got = {v["index"]: v for v in client.get(url("88.118.8/P1")).json["values"]}
    assert sorted(got) == [1, 2, 100] and got[1]["data"]["value"] == "https://by-alice"
    with db.read() as s:
        assert s.one("SELECT actor FROM audit_log WHERE handle = ? ORDER BY id DESC",
                     ("88.118.8/P1",))["actor"] == "300:88.118.8/alice"


def test_vlist_groups_grant_membership(client, db):
    alice, bob = make_user(client, "alice"), make_user(client, "bob")
    group = [{"index": 200, "type": "HS_VLIST", "data": {"format": "vlist", "value": [
        {"handle": "88.118.8/alice", "index": 300}, {"handle": "88.118.8/nobody", "index": 300}]}}]
    assert put(client, "88.118.8/group", group, ENT_AUTH).status_code == 201
    part_admin_by(client, "88.118.8/P2", "88.118.8/group", 200, "000000110000")  # MODIFY + REMOVE values (bits 4, 5)
    assert put(client, "88.118.8/P2", [{"index": 1, "type": "URL", "data": "y"}], alice, "?index=1").status_code == 200
    assert client.delete(url("88.118.8/P2", "?index=2"), headers=alice).status_code == 200
    before = counts(db)
    for r in (client.delete(url("88.118.8/P2"), headers=alice),
              put(client, "88.118.8/P2", [{"index": 1, "type": "URL", "data": "z"}], bob, "?index=1")):
        assert r.status_code == 403 and r.json["responseCode"] == 400
    assert counts(db) == before


def test_vlist_cycles_grant_nothing_and_terminate(client, db):
    alice = make_user(client, "alice")
    loop = [{"index": 200, "type": "HS_VLIST", "data": {"format": "vlist", "value": [
        {"handle": "88.118.8/loop", "index": 200}]}}]
    assert put(client, "88.118.8/loop", loop, ENT_AUTH).status_code == 201
    part_admin_by(client, "88.118.8/P3", "88.118.8/loop", 200, "111111111111")
    before = counts(db)
    r = put(client, "88.118.8/P3", [{"index": 1, "type": "URL", "data": "z"}], alice, "?index=1")
    assert r.status_code == 403 and r.json["responseCode"] == 400
    assert counts(db) == before


def test_every_successful_write_is_audited_without_secrets(client, db):
    start = row_count(db, "audit_log")
    actions = [put(client, "88.118.8/ENG-1", URL_VALUE, ENT_AUTH),
               put(client, "88.118.8/ENG-1", URL_VALUE[:1], ENT_AUTH, "?index=1"),
               put(client, "88.118.8/ENG-1", URL_VALUE, ENT_AUTH),
               client.delete(url("88.118.8/ENG-1", "?index=2"), headers=ENT_AUTH),
               client.delete(url("88.118.8/ENG-1"), headers=ENT_AUTH),
               mint(client, ENT_AUTH),
               put(client, "0.NA/88.118.8", [{"index": 302, "type": "HS_SECKEY", "data": "another-secret"}],
                   ENT_AUTH, "?index=302")]
    assert [r.status_code for r in actions] == [201, 200, 200, 200, 200, 201, 200]
    with db.read() as s:
        rows = [dict(r) for r in s.all("SELECT actor, action, handle, detail FROM audit_log WHERE id > 0 ORDER BY id")]
    rows = rows[start:]
    assert len(rows) == len(actions)
    assert {r["actor"] for r in rows} == {"300:0.NA/88.118.8"}
    assert [r["handle"] for r in rows[:5]] == ["88.118.8/ENG-1"] * 5
    text = everything(db)
    assert "another-secret" not in text and ENT_SECRET not in text


@pytest.mark.parametrize("bits,granted", [
    ("011111110011", set(ADMIN_BITS) - {"LIST_HANDLES", "ADD_NA", "DELETE_NA"}),  # REFERENCE section 2
    ("100000000000", {"LIST_HANDLES"}),
    ("000000000001", {"ADD_HANDLE"}),
    ("000000010000", {"MODIFY_VALUE"}),
])
def test_hs_admin_bit_strings_read_most_significant_bit_first(bits, granted):
    value = HandleValue(100, "HS_ADMIN", "admin", {"handle": "0.NA/88.118.8", "index": 300, "permissions": bits})
    assert admin_permissions(value) == granted


def test_key_changes_count_from_the_next_request(client, db):
    """Keys are read on every request: a failure is not remembered, a deleted key stops at once."""
    alice, retry = make_user(client, "alice"), basic("300:88.118.8/alice", "alice-later")
    any_key = basic("0:88.118.8/alice", ALICE_SECRET)
    assert client.get(url("88.118.8/none"), headers=retry).status_code == 401
    r = put(client, "88.118.8/alice", [{"index": 301, "type": "HS_SECKEY", "data": "alice-later"}],
            ENT_AUTH, "?index=301")
    assert r.status_code == 200
    assert client.get(url("88.118.8/none"), headers=retry).status_code == 401  # index 300 still the old key
    assert client.get(url("88.118.8/none"), headers=basic("301:88.118.8/alice", "alice-later")).status_code == 404
    for header in (alice, any_key):
        assert client.get(url("88.118.8/none"), headers=header).status_code == 404
    assert client.delete(url("88.118.8/alice", "?index=300"), headers=ENT_AUTH).status_code == 200
    for header in (alice, any_key):
        assert client.get(url("88.118.8/none"), headers=header).status_code == 401


def test_only_hs_seckey_values_are_keys(client, db):
    """A valid secret hash stored under another type authenticates nobody."""
    from idres.seckey import hash_secret

    fake = [{"index": 300, "type": "URL", "data": hash_secret("not-a-key")}]
    assert put(client, "88.118.8/mallory", fake, ENT_AUTH).status_code == 201
    for user in ("300:88.118.8/mallory", "0:88.118.8/mallory"):
        assert client.get(url("88.118.8/none"), headers=basic(user, "not-a-key")).status_code == 401
