"""GET /api/handles?prefix=P: listing a prefix, sorted and paged (LIST_HANDLES)."""
from __future__ import annotations

import pytest

from tests.conftest import ADMIN_AUTH, ENT_AUTH, OTHER_AUTH, basic

LISTED = ["88.118.8/a-0", "88.118.8/B-1", "88.118.8/c-2", "88.118.8/D-3", "88.118.8/e-4"]


@pytest.fixture
def listed(client) -> list[str]:
    """Five handles under 88.118.8 in mixed case (created out of order), one under 88.118.9."""
    for handle in (LISTED[3], LISTED[0], LISTED[4], LISTED[1], LISTED[2]):
        r = client.put(f"/api/handles/{handle}", json=[{"index": 1, "type": "URL", "data": handle}],
                       headers=ENT_AUTH)
        assert r.status_code == 201
    r = client.put("/api/handles/88.118.9/zz", json=[{"index": 1, "type": "URL", "data": "z"}], headers=OTHER_AUTH)
    assert r.status_code == 201
    return LISTED


def listing(client, query: str, auth: dict | None = ENT_AUTH):
    return client.get("/api/handles?" + query, headers=auth or {})


def test_list_all_sorted_with_count_as_string(client, listed):
    r = listing(client, "prefix=88.118.8")
    assert r.status_code == 200
    assert r.json == {"responseCode": 1, "prefix": "88.118.8", "totalCount": "5", "handles": listed}


def test_paging_is_zero_based(client, listed):
    pages = []
    for page in range(4):
        r = listing(client, f"prefix=88.118.8&page={page}&pageSize=2")
        assert r.status_code == 200
        assert r.json["responseCode"] == 1 and r.json["totalCount"] == "5"
        assert r.json["page"] == page and r.json["pageSize"] == 2
        pages.append(r.json["handles"])
    assert pages == [listed[0:2], listed[2:4], listed[4:], []]
    r = listing(client, "prefix=88.118.8&pageSize=3")
    assert r.json["handles"] == listed[:3] and r.json["page"] == 0
    r = listing(client, "prefix=88.118.8&page=0")
    assert r.json["handles"] == listed and r.json["pageSize"] == 100


def test_page_size_zero_returns_only_the_count(client, listed):
    r = listing(client, "prefix=88.118.8&page=0&pageSize=0")
    assert r.status_code == 200
    assert r.json["responseCode"] == 1 and r.json["totalCount"] == "5"
    assert r.json.get("handles", []) == []


def test_count_follows_creates_and_deletes(client, listed):
    assert client.delete(f"/api/handles/{listed[1]}", headers=ENT_AUTH).status_code == 200
    r = listing(client, "prefix=88.118.8")
    assert r.json["totalCount"] == "4" and r.json["handles"] == [listed[0]] + listed[2:]
    r = listing(client, "prefix=88.118.9", OTHER_AUTH)
    assert r.json["totalCount"] == "1" and r.json["handles"] == ["88.118.9/zz"]


def test_empty_prefix_lists_nothing(client):
    r = listing(client, "prefix=88.118.8")
    assert r.status_code == 200
    assert r.json == {"responseCode": 1, "prefix": "88.118.8", "totalCount": "0", "handles": []}


def test_listing_needs_credentials(client, listed):
    r = listing(client, "prefix=88.118.8", None)
    assert r.status_code == 401 and r.json["responseCode"] == 402
    assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
    assert "handles" not in r.json
    r = listing(client, "prefix=88.118.8", basic("300:0.NA/88.118.8", "wrong-password"))
    assert r.status_code == 401 and r.json["responseCode"] == 402


def test_another_prefix_key_may_not_list(client, listed):
    for auth, prefix in ((OTHER_AUTH, "88.118.8"), (ENT_AUTH, "88.118.9"), (ENT_AUTH, "0.NA"), (ENT_AUTH, "88.118")):
        r = listing(client, f"prefix={prefix}", auth)
        assert r.status_code == 403 and r.json["responseCode"] == 400, (prefix, r.json)
        assert "handles" not in r.json


def test_user_handle_without_list_handles_may_not_list(client, listed):
    r = client.put("/api/handles/88.118.8/alice", json=[{"index": 300, "type": "HS_SECKEY", "data": "alice-secret"}],
                   headers=ENT_AUTH)
    assert r.status_code == 201
    r = listing(client, "prefix=88.118.8", basic("300:88.118.8/alice", "alice-secret"))
    assert r.status_code == 403 and r.json["responseCode"] == 400


def test_node_admin_lists_prefix_records(client):
    r = listing(client, "prefix=0.NA", ADMIN_AUTH)
    assert r.status_code == 200 and r.json["responseCode"] == 1
    assert r.json["handles"] == ["0.NA/88.118", "0.NA/88.118.8", "0.NA/88.118.9"]
    assert r.json["totalCount"] == "3"


def test_prefix_not_held_is_rc_301(client):
    for prefix in ("99.1", "88.118.77", "88", "88.1180"):
        for auth in (ENT_AUTH, None):
            r = listing(client, f"prefix={prefix}", auth)
            assert r.status_code == 400 and r.json["responseCode"] == 301, (prefix, r.json)


def test_bad_listing_parameters(client, listed):
    for query, rc, field in (("", 4, "prefix"), ("prefix=", 4, "prefix"), ("prefix=88 118", 102, "prefix"),
                             ("prefix=88..118", 102, "prefix"), ("prefix=88.118.8&page=-1", 4, "page"),
                             ("prefix=88.118.8&page=x", 4, "page"), ("prefix=88.118.8&pageSize=1.5", 4, "pageSize"),
                             ("prefix=88.118.8&pageSize=%C2%B2", 4, "pageSize"),
                             ("prefix=88.118.8&page=99999999999999999999&pageSize=10", 4, "page"),
                             ("prefix=88.118.8&page=1&pageSize=99999999999999999999", 4, "pageSize")):
        r = listing(client, query)
        assert r.status_code == 400, (query, r.json)
        assert r.json["responseCode"] == rc and r.json["field"] == field, (query, r.json)


def test_large_page_numbers_are_empty_not_errors(client, listed):
    r = listing(client, "prefix=88.118.8&page=2147483647&pageSize=2147483647")
    assert r.status_code == 200
    assert r.json["handles"] == [] and r.json["totalCount"] == "5"
