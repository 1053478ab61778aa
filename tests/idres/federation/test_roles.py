"""Roles: role-dependent configuration, and what a top-level node holds and accepts."""
from __future__ import annotations

from typing import Iterator

import pytest

from idres.app import create_app
from idres.config import Config, load_config
from idres.errors import InvalidHandle
from idres.node import create_prefix, init_node
from idres.storage import open_database
from tests.conftest import ENT_AUTH, basic, counts, rejected

UP = {"IDRES_UPSTREAM_URL": "http://top.test:8000"}
A_SECRET, B_SECRET, TOP_SECRET = "secondary-a-secret", "secondary-b-secret", "top-admin-secret"
A_AUTH = basic("300:0.NA/88.118", A_SECRET)
B_AUTH = basic("300:0.NA/88.119", B_SECRET)


@pytest.mark.parametrize("env, message", [
    (UP, "IDRES_NODE_ROLE=secondary with IDRES_UPSTREAM_URL needs IDRES_UPSTREAM_HANDLE (300:0.NA/88.118)"),
    ({**UP, "IDRES_NODE_ROLE": "enterprise", "IDRES_NODE_PREFIX": "88.118.8",
      "IDRES_UPSTREAM_HANDLE": "300:0.NA/88.118.8"}, "IDRES_NODE_ROLE=enterprise with IDRES_UPSTREAM_URL"),
    ({**UP, "IDRES_UPSTREAM_HANDLE": "300:0.NA/88.119", "IDRES_UPSTREAM_SECRET": "x" * 8},
     "IDRES_UPSTREAM_HANDLE must be <index>:0.NA/88.118"),
    ({**UP, "IDRES_UPSTREAM_HANDLE": "0.NA/88.118", "IDRES_UPSTREAM_SECRET": "x" * 8},
     "IDRES_UPSTREAM_HANDLE must be <index>:0.NA/88.118"),
    ({**UP, "IDRES_NODE_ROLE": "top-level", "IDRES_NODE_PREFIX": "88",
      "IDRES_UPSTREAM_HANDLE": "300:0.NA/88"}, "IDRES_UPSTREAM_SECRET is empty"),
    ({**UP, "IDRES_UPSTREAM_HANDLE": "300:0.NA/88.118", "IDRES_UPSTREAM_SECRET": "x" * 8,
      "IDRES_HDL_HOST": "0.0.0.0", "IDRES_BASE_URL": "http://0.0.0.0:8000"}, "IDRES_HDL_PUBLIC_HOST"),
    ({**UP, "IDRES_UPSTREAM_HANDLE": "300:0.NA/88.118", "IDRES_UPSTREAM_SECRET": "x" * 8,
      "IDRES_HDL_HOST": "0.0.0.0", "IDRES_BASE_URL": "https://sec.example:8443"},
     "IDRES_HDL_PUBLIC_HOST must be the IP address other nodes reach the binary protocol at ('sec.example'"),
    ({"IDRES_UPSTREAM_RETRY_BASE": "10", "IDRES_UPSTREAM_RETRY_MAX": "5"}, "IDRES_UPSTREAM_RETRY_BASE"),
    ({"IDRES_STATS_FLUSH_SECONDS": "0"}, "IDRES_STATS_FLUSH_SECONDS"),
    ({"IDRES_STATS_FLUSH_SECONDS": "soon"}, "IDRES_STATS_FLUSH_SECONDS must be a number"),
])
def test_role_dependent_settings_are_refused_with_the_variable_named(env: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        load_config(environ=env)
    assert message in str(info.value)


def test_settings_a_node_may_run_with() -> None:
    standalone = load_config(environ={})
    assert standalone.node_role == "secondary" and not standalone.registers_upward
    root_side = load_config(environ={**UP, "IDRES_NODE_ROLE": "top-level", "IDRES_NODE_PREFIX": "88"})
    assert not root_side.registers_upward  # an upstream to resolve from, nothing to register
    below = load_config(environ={**UP, "IDRES_UPSTREAM_HANDLE": "300:0.na/88.118",
                                 "IDRES_UPSTREAM_SECRET": "s" * 8, "IDRES_HDL_HOST": "0.0.0.0",
                                 "IDRES_BASE_URL": "https://192.0.2.9:8443", "IDRES_UPSTREAM_RETRY_BASE": "0.5",
                                 "IDRES_STATS_FLUSH_SECONDS": "2"})
    assert below.registers_upward and below.hdl_address == "192.0.2.9"  # wildcard bind: the URL's host
    assert (below.upstream_retry_base, below.stats_flush_seconds) == (0.5, 2.0)
    public = load_config({"hdl_public_host": "192.0.2.7"}, environ={**UP, "IDRES_NODE_ROLE": "enterprise",
                                                                     "IDRES_NODE_PREFIX": "88.118.8",
                                                                     "IDRES_UPSTREAM_HANDLE": "300:0.NA/88.118.8",
                                                                     "IDRES_UPSTREAM_SECRET": "s" * 8})
    assert public.hdl_address == "192.0.2.7" and "s" * 8 not in repr(public)


@pytest.fixture
def top(database_url: str, tmp_path) -> Iterator:
    """A top-level node 88 holding the records of secondaries 88.118 and 88.119."""
    config = Config(database=database_url, node_prefix="88", node_role="top-level",
                    base_url="http://top.test", ledger_key_file=str(tmp_path / "ledger.key"))
    db = open_database(database_url)
    init_node(db, config, TOP_SECRET)
    create_prefix(db, config, "88.118", A_SECRET)
    create_prefix(db, config, "88.119", B_SECRET)
    app = create_app(config)
    yield db, config, app.test_client()
    app.extensions["idres"].db.close()
    db.close()


def _admin(handle: str) -> list[dict]:
    return [{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
        "handle": handle, "index": 300, "permissions": "111111111111"}}}]


def test_a_top_level_node_holds_its_secondaries_records_without_a_site_of_its_own(top) -> None:
    db, config, client = top
    r = client.get("/api/handles/0.NA/88.118")
    assert r.status_code == 200 and "HS_SITE" not in {v["type"] for v in r.json["values"]}
    assert "HS_SITE" in {v["type"] for v in client.get("/api/handles/0.NA/88").json["values"]}
    # part handles live on the secondaries, not here
    r = client.get("/api/handles/88.118/PART-1")
    assert (r.status_code, r.json["responseCode"]) == (400, 301)
    # the operator may create derived prefixes of a held prefix, nothing dangling or malformed
    create_prefix(db, config, "88.118.5", "operator-made-secret")
    for bad in ("88.120.1", "88.118.05", "88.118.x", "88.118.5.1.2"):
        with pytest.raises(InvalidHandle):
            create_prefix(db, config, bad, "operator-made-secret")


def test_a_secondary_key_creates_and_keeps_derived_prefixes(top) -> None:
    db, config, client = top
    r = client.put("/api/handles/0.NA/88.118.8", headers=A_AUTH, json=_admin("0.NA/88.118"))
    assert r.status_code == 201, r.json
    r = client.put("/api/handles/0.NA/88.118.8", headers=A_AUTH, json=_admin("0.NA/88.118"))
    assert r.status_code == 200, r.json  # re-registration: replaced by its admin
    r = client.put("/api/handles/0.NA/88.118.8.1", headers=A_AUTH, json=[])
    assert r.status_code == 201, r.json  # deeper derived prefix, parent held
    assert client.delete("/api/handles/0.NA/88.118.8.1", headers=A_AUTH).status_code == 200


REFUSED = [
    ("put", "0.NA/88.119.1", A_AUTH),        # under the other secondary's prefix
    ("put", "0.NA/88.119", A_AUTH),          # the other secondary's record
    ("delete", "0.NA/88.119", A_AUTH),
    ("put", "0.NA/88.7", A_AUTH),            # a sibling secondary prefix
    ("put", "0.NA/88", A_AUTH),              # the top-level node's record
    ("put", "88/ANY", A_AUTH),               # a handle of the top-level prefix
    ("put", "0.NA/88.118.5", A_AUTH),        # derived, but the operator made it for someone else
    ("delete", "0.NA/88.118.5", A_AUTH),
    ("put", "0.NA/88.118.8", B_AUTH),        # what the first secondary registered, from the other
    ("delete", "0.NA/88.118.8", B_AUTH),
]


def test_a_secondary_key_is_refused_outside_what_it_registered(top) -> None:
    db, config, client = top
    create_prefix(db, config, "88.118.5", "operator-made-secret")
    assert client.put("/api/handles/0.NA/88.118.8", headers=A_AUTH, json=_admin("0.NA/88.118")).status_code == 201
    before = counts(db)
    for method, handle, auth in REFUSED:
        body = {"json": _admin("0.NA/88.118")} if method == "put" else {}
        r = getattr(client, method)(f"/api/handles/{handle}", headers=auth, **body)
        assert r.status_code == 403, (method, handle, r.json)
        rejected(db, before, r, 403, 400)


def test_a_secondary_node_grants_no_derived_prefixes_to_enterprise_keys(client, db) -> None:
    """The widening is the top-level node's alone: 88.118.8's key still cannot add 88.118.8.1."""
    before = counts(db)
    r = client.put("/api/handles/0.NA/88.118.8.1", headers=ENT_AUTH, json=_admin("0.NA/88.118.8"))
    rejected(db, before, r, 403, 400)


def test_a_prefix_record_with_derived_prefixes_cannot_be_deleted(top) -> None:
    """Deleting 0.NA/88.118 would orphan 0.NA/88.118.8 (whoever got 88.118 next would administer it)."""
    db, config, client = top
    create_prefix(db, config, "88.1180", "sibling-secret")  # a sibling, not derived: must not count
    assert client.put("/api/handles/0.NA/88.118.8", headers=A_AUTH, json=_admin("0.NA/88.118")).status_code == 201
    before = counts(db)
    r = client.delete("/api/handles/0.NA/88.118", headers=A_AUTH)
    rejected(db, before, r, 409, 4)
    assert "derived prefix" in r.json["message"] and r.json["handle"] == "0.NA/88.118"
    assert client.delete("/api/handles/0.NA/88.118.8", headers=A_AUTH).status_code == 200
    assert client.delete("/api/handles/0.NA/88.118", headers=A_AUTH).status_code == 200
    assert client.get("/api/handles/0.NA/88.1180").status_code == 200
