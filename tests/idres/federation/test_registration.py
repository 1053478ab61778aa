"""Registration upward against a real top-level node (gunicorn on loopback).

The secondary node ``88.118`` runs in-process on each backend; the top-level
node ``88`` is a real ``idres serve`` process on SQLite, shared by the module
(each test uses its own enterprise prefixes), stopped and restarted when a
test needs the upstream down.
"""
from __future__ import annotations

import itertools
import json
import logging
import re
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
import requests
from click.testing import CliRunner

from idres import commands  # noqa: F401  (registers the subcommands)
from idres.app import create_app
from idres.cli import cli as cli_group
from idres.config import Config
from idres.federation import upstream
from idres.federation.sites import sites_of
from idres.node import create_prefix, init_node, list_prefixes
from idres.storage import Database, open_database
from tests.conftest import ADMIN_AUTH, ADMIN_SECRET
from tests.idres.federation.routing_nodes import dripping_port, silent_port
from tests.idres.federation.upstream_node import (SEC_A, SEC_A_SECRET, SEC_B, SEC_B_SECRET, TOP, TOP_SECRET,
                                                  TopNode, basic, serving, set_up_top, start, stop, wait_for)
from tests.idres.live_node import IDRES, _stop, cli_env, free_port

ENT_SECRET = "enterprise-key-under-a-4411"
_numbers = itertools.count(100)


def next_prefix() -> str:
    """A fresh enterprise prefix: the top-level node is shared by the module's tests."""
    return f"{SEC_A}.{next(_numbers)}"


@pytest.fixture(scope="module")
def top(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TopNode]:
    node = set_up_top(tmp_path_factory.mktemp("top"))
    with serving(node):
        yield node


@pytest.fixture
def top_up(top: TopNode) -> Iterator[TopNode]:
    """The shared top-level node, serving again after a test that stopped it."""
    yield top
    if top.proc is None:
        start(top)


def secondary_config(database_url: str, tmp_path: Path, upstream_url: str,
                     secret: str = SEC_A_SECRET) -> Config:
    return Config(database=database_url, node_prefix=SEC_A, base_url="http://sec-a.test:8000",
                  ledger_key_file=str(tmp_path / "ledger.key"), upstream_url=upstream_url,
                  upstream_handle=f"300:0.NA/{SEC_A}", upstream_secret=secret, upstream_timeout=1.0,
                  upstream_retry_base=0.05, upstream_retry_max=0.2,
                  hdl_host="0.0.0.0", hdl_port=2641, hdl_public_host="192.0.2.10").validate()


@pytest.fixture
def secondary(database_url: str, tmp_path: Path, top_up: TopNode) -> Iterator[tuple[Database, Config]]:
    config = secondary_config(database_url, tmp_path, top_up.url)
    db = open_database(database_url)
    init_node(db, config, ADMIN_SECRET)
    yield db, config
    db.close()


def state(db: Database, prefix: str) -> dict:
    return next(r["upstream"] for r in list_prefixes(db) if r["prefix"] == prefix)


def values_by_type(body: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for v in body["values"]:
        out.setdefault(v["type"], []).append(v)
    return out


def test_a_new_prefix_is_registered_with_its_site_and_admin(secondary, top) -> None:
    db, config = secondary
    prefix = next_prefix()
    create_prefix(db, config, prefix, ENT_SECRET)

    reg = state(db, prefix)
    assert (reg["state"], reg["attempts"], reg["lastError"], reg["upstream"]) == \
        ("registered", 1, None, top.url)
    r = top.record(f"0.NA/{prefix}")
    assert r.status_code == 200, r.text
    by_type = values_by_type(r.json())
    assert set(by_type) == {"HS_SITE", "HS_ADMIN"}  # no key of the enterprise goes upward
    assert by_type["HS_ADMIN"][0]["data"]["value"] == {
        "handle": f"0.NA/{SEC_A}", "index": 300, "permissions": "111111111111"}
    [site] = sites_of(r.json()["values"])  # read back the way the routing code reads it
    assert (site.http_url, site.hdl_host, site.hdl_port, set(site.hdl_protocols)) == \
        (config.base_url, "192.0.2.10", 2641, {"TCP", "UDP"})


def test_registering_again_is_harmless_and_changes_nothing(secondary, top) -> None:
    db, config = secondary
    prefix = next_prefix()
    create_prefix(db, config, prefix, ENT_SECRET)
    before = top.record(f"0.NA/{prefix}").json()

    assert upstream.requeue(db, config, [prefix]) == 1
    assert state(db, prefix)["state"] == "pending"
    outcomes = upstream.sync_due(db, config)
    assert outcomes[prefix] == upstream.Outcome("registered")
    assert top.record(f"0.NA/{prefix}").json() == before  # same values, same timestamps
    assert state(db, prefix)["attempts"] == 1  # counted from the re-queue


def test_the_nodes_own_prefix_gets_its_site_at_the_upstream(secondary, top) -> None:
    """init queued 88.118 itself: the top-level operator created that record; we fill in HS_SITE."""
    db, config = secondary
    assert state(db, SEC_A)["state"] == "pending"
    outcomes = upstream.sync_due(db, config)
    assert outcomes[SEC_A].state == "registered"
    [site] = sites_of(top.record(f"0.NA/{SEC_A}").json()["values"])
    assert site.http_url == config.base_url
    # the operator's HS_SECKEY (not public) is still there: our key still works
    r = requests.put(f"{top.url}/api/handles/0.NA/{next_prefix()}", timeout=10,
                     headers=basic(f"300:0.NA/{SEC_A}", SEC_A_SECRET), json=[])
    assert r.status_code == 201, r.text


def test_a_prefix_created_over_the_api_is_registered(secondary, top) -> None:
    db, config = secondary
    prefix = next_prefix()
    app = create_app(config)
    try:
        r = app.test_client().put(f"/api/handles/0.NA/{prefix}", headers=ADMIN_AUTH, json=[
            {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": f"0.NA/{SEC_A}", "index": 300, "permissions": "111111111111"}}}])
    finally:
        app.extensions["idres"].db.close()
    assert r.status_code == 201, r.json
    assert state(db, prefix)["state"] == "registered"
    assert top.record(f"0.NA/{prefix}").status_code == 200


# SQLite runs the same story through `idres serve` (test_registration_cli.py).
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_created_while_the_upstream_is_down_then_registered_when_it_returns(
        secondary, top_up, database_url, tmp_path) -> None:
    db, config = secondary
    prefix = next_prefix()
    stop(top_up)
    create_prefix(db, config, prefix, ENT_SECRET)  # the prefix exists here at once
    reg = state(db, prefix)
    assert (reg["state"], reg["attempts"]) == ("pending", 1)
    assert "unreachable" in reg["lastError"] and "refused" in reg["lastError"].lower()

    # a restart in between: the queue is in the database, not in memory
    db.close()
    db = open_database(database_url)
    wait_for(lambda: upstream.sync_due(db, config).get(prefix), timeout=5)  # tried again, still down
    assert state(db, prefix)["attempts"] >= 2 and state(db, prefix)["state"] == "pending"

    stop_loop = threading.Event()
    loop = threading.Thread(target=upstream.sync_forever, args=(db, config, stop_loop, 0.1))
    loop.start()
    try:
        start(top_up)
        wait_for(lambda: state(db, prefix)["state"] == "registered", timeout=10)
    finally:
        stop_loop.set()
        loop.join(10)
        db.close()
    assert top_up.record(f"0.NA/{prefix}").status_code == 200


def test_wrong_secret_stays_pending_and_the_secret_is_nowhere(
        database_url, tmp_path, top, caplog) -> None:
    wrong = "not-the-upstream-secret-QX7"
    config = secondary_config(database_url, tmp_path, top.url, secret=wrong)
    db = open_database(database_url)
    init_node(db, config, ADMIN_SECRET)
    prefix = next_prefix()
    try:
        with caplog.at_level(logging.DEBUG):
            create_prefix(db, config, prefix, ENT_SECRET)
            upstream.sync_due(db, config)
        reg = state(db, prefix)
        listing = json.dumps(list_prefixes(db))
        with db.read() as s:
            stored = json.dumps([list(map(str, tuple(r))) for table in
                                 ("upstream_registrations", "audit_log", "handle_values")
                                 for r in s.all(f"SELECT * FROM {table}")])
    finally:
        db.close()
    assert reg["state"] == "pending" and reg["attempts"] == 1
    assert "HTTP 401 rc 402" in reg["lastError"]
    assert top.record(f"0.NA/{prefix}").status_code == 404
    for text in (listing, stored, caplog.text, top.log_text(), repr(config)):
        assert wrong not in text
    assert "not registered" in caplog.text  # the failure itself is logged


def test_a_prefix_held_upstream_by_someone_else_is_a_conflict(secondary, top) -> None:
    db, config = secondary
    prefix = next_prefix()
    # the top-level operator made this record for someone else (its own key at 300)
    r = requests.put(f"{top.url}/api/handles/0.NA/{prefix}", headers=basic(f"300:0.NA/{TOP}", TOP_SECRET),
                     timeout=10, json=[{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                         "handle": f"0.NA/{prefix}", "index": 300, "permissions": "111111111111"}}},
                         {"index": 300, "type": "HS_SECKEY", "data": "someone-elses-key", "permissions": "1100"}])
    assert r.status_code == 201, r.text
    before = top.record(f"0.NA/{prefix}").json()

    create_prefix(db, config, prefix, ENT_SECRET)
    reg = state(db, prefix)
    assert reg["state"] == "conflict" and reg["nextTry"] is None
    assert f"already held at the upstream by 300:0.NA/{prefix}" in reg["lastError"]
    assert top.record(f"0.NA/{prefix}").json() == before  # not taken over
    assert prefix not in upstream.sync_due(db, config)  # a conflict is not retried by itself


def test_a_secondary_key_cannot_write_outside_its_prefix_at_the_top_level(top) -> None:
    a_key = basic(f"300:0.NA/{SEC_A}", SEC_A_SECRET)
    b_key = basic(f"300:0.NA/{SEC_B}", SEC_B_SECRET)
    value = [{"index": 1, "type": "URL", "data": "https://evil.example/"}]
    b_record = top.record(f"0.NA/{SEC_B}").json()
    owned = f"{SEC_A}.77"
    assert requests.put(f"{top.url}/api/handles/0.NA/{owned}", headers=a_key, json=[],
                        timeout=10).status_code == 201
    owned_record = top.record(f"0.NA/{owned}").json()

    for handle, headers in ((f"0.NA/{SEC_B}.5", a_key),     # under the other secondary's prefix
                            (f"0.NA/{SEC_B}", a_key),       # the other secondary's own record
                            ("0.NA/88.7", a_key),           # a new secondary next to itself
                            ("0.NA/88", a_key),             # the top-level node's record
                            (f"0.NA/{owned}", b_key)):      # what A registered, from B
        r = requests.put(f"{top.url}/api/handles/{handle}", headers=headers, json=value, timeout=10)
        assert (r.status_code, r.json()["responseCode"]) == (403, 400), (handle, r.text)
        r = requests.delete(f"{top.url}/api/handles/{handle}", headers=headers, timeout=10)
        assert r.status_code in (403, 404), (handle, r.text)
    assert top.record(f"0.NA/{SEC_B}.5").status_code == 404
    assert top.record("0.NA/88.7").status_code == 404
    assert top.record(f"0.NA/{SEC_B}").json() == b_record
    assert top.record(f"0.NA/{owned}").json() == owned_record
    # the top-level node holds prefix records only: part handles live on the secondaries
    r = requests.put(f"{top.url}/api/handles/{SEC_A}/PART-1", headers=a_key, json=value, timeout=10)
    assert (r.status_code, r.json()["responseCode"]) == (400, 301)


def secondary_env(home: Path, top_url: str, secret: str) -> dict[str, str]:
    env = cli_env(home)
    env.update(IDRES_NODE_PREFIX=SEC_A, IDRES_UPSTREAM_URL=top_url, IDRES_UPSTREAM_HANDLE=f"300:0.NA/{SEC_A}",
               IDRES_UPSTREAM_SECRET=secret, IDRES_UPSTREAM_TIMEOUT="1", IDRES_UPSTREAM_RETRY_BASE="0.1",
               IDRES_UPSTREAM_RETRY_MAX="0.5", IDRES_HDL_PORT="0")
    return env


def test_operator_story_through_the_cli_and_idres_serve(tmp_path, top_up) -> None:
    """Wrong secret at first (pending, the error shown, the secret nowhere); then the node
    is served with the right one while the top-level node is down, and its background task
    registers the prefix once the top-level node is back."""
    database, home, port = str(tmp_path / "sec.db"), tmp_path / "sec-home", free_port()
    url = f"http://127.0.0.1:{port}"
    wrong, prefix = "wrong-upstream-secret-5ab1", next_prefix()

    def cli(*args: str, secret: str = wrong, stdin: str = "") -> str:
        env = {k: v for k, v in secondary_env(home, top_up.url, secret).items() if k.startswith("IDRES_")}
        done = CliRunner().invoke(cli_group, ["--database", database, "--base-url", url, *args],
                                  input=stdin, env=env)
        assert done.exit_code == 0, done.output
        assert secret not in done.output
        return done.output

    home.mkdir()
    cli("init", "--admin-secret-stdin", stdin=ADMIN_SECRET + "\n")
    created = cli("prefix", "create", prefix, "--secret-stdin", stdin=ENT_SECRET + "\n")
    assert f"upstream {top_up.url}: pending (1 attempt, next try " in created
    assert "upstream answered HTTP 401 rc 402: Invalid credentials" in created
    synced = cli("upstream", "sync")  # tries every pending one now, the node's own prefix too
    assert f"0.NA/{prefix}: pending: upstream answered HTTP 401" in synced
    assert f"0.NA/{SEC_A}: pending" in synced and "2 tried, 0 registered" in synced

    stop(top_up)
    log_path = tmp_path / "sec.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(IDRES), "--database", database, "--base-url", url, "serve",
                                 "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=home,
                                env=secondary_env(home, top_up.url, SEC_A_SECRET), start_new_session=True)
    db = open_database(database)
    try:
        wait_for(lambda: "unreachable" in (state(db, prefix)["lastError"] or ""), timeout=20)
        start(top_up)
        wait_for(lambda: state(db, prefix)["state"] == state(db, SEC_A)["state"] == "registered",
                 timeout=15)
    finally:
        _stop(proc)
        db.close()
    assert f"registered 0.NA/{prefix} at {top_up.url}" in log_path.read_text()
    assert SEC_A_SECRET not in log_path.read_text()
    [site] = sites_of(top_up.record(f"0.NA/{prefix}").json()["values"])
    assert site.http_url == url and not site.hdl_protocols  # served without the binary protocol
    listing = cli("prefix", "list", secret=SEC_A_SECRET)
    assert re.search(rf"^{re.escape(prefix)} +0 handles  registered 20", listing, re.M)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_upstream_that_never_answers_costs_one_timeout(database_url, tmp_path) -> None:
    """Accepting and never answering, or dripping the answer: the attempt ends at the timeout."""
    with silent_port() as silent, dripping_port(0.05) as dripping:
        for url in (silent, dripping):
            config = replace(secondary_config(database_url, tmp_path, url), upstream_timeout=0.5)
            started = time.monotonic()
            outcome = upstream.register(config, f"{SEC_A}.5")
            assert time.monotonic() - started < 1.5
            assert outcome.state == "pending" and "within 0.5 s" in outcome.error, outcome
