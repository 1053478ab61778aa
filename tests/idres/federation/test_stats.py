"""Statistics upward: identifiers and resolutions per prefix, and who may read them."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import requests
from click.testing import CliRunner

from idres import commands  # noqa: F401  (registers the subcommands)
from idres.auth import OPERATOR
from idres.cli import cli
from idres.config import Config
from idres.federation.stats import (count_resolution, flush_resolutions, pending_resolutions, prefix_report,
                                    reader_values)
from idres.hdl import client as hdl_client
from idres.node import create_prefix, init_node
from idres.registrar import PutRequest, put_handle
from idres.storage import federation, open_database
from tests.conftest import ADMIN_AUTH, ENT, ENT_AUTH, NODE, OTHER, OTHER_AUTH, basic
from tests.idres.federation.upstream_node import wait_for
from tests.idres.live_node import ENT_USER, IDRES, _stop, cli_env, free_port
from tests.idres.live_node import ENT_SECRET as LIVE_ENT_SECRET

READER_SECRET = "upstream-stats-reader-9d"
READER_AUTH = basic(f"301:0.NA/{NODE}", READER_SECRET)


def _row(report: dict, prefix: str) -> dict:
    return next(r for r in report["prefixes"] if r["prefix"] == prefix)


def _put(client, handle: str, auth: dict) -> None:
    r = client.put(f"/api/handles/{handle}", headers=auth, json=[{"index": 1, "type": "URL", "data": "https://x/"}])
    assert r.status_code == 201, r.json


def test_counts_per_prefix_after_resolutions(client, db, config) -> None:
    for n in range(3):
        _put(client, f"{ENT}/S-{n}", ENT_AUTH)
    _put(client, f"{OTHER}/B-0", OTHER_AUTH)
    for _ in range(4):
        for n in range(3):
            assert client.get(f"/api/handles/{ENT}/s-{n}").status_code == 200  # folded spelling too
    for _ in range(2):
        assert client.get(f"/api/handles/{OTHER}/B-0?type=URL").status_code == 200
    assert client.get(f"/api/handles/{ENT}/NOPE").status_code == 404          # not served: not counted
    assert client.get(f"/api/handles/{OTHER}/B-0?type=NONE").json["responseCode"] == 200  # answered
    assert client.get(f"/api/handles/0.NA/{ENT}").status_code == 200

    r = client.get("/api/stats/prefixes", headers=ADMIN_AUTH)
    assert r.status_code == 200, r.json
    report = r.json
    assert (report["responseCode"], report["node"], report["role"]) == (1, NODE, "secondary")
    assert {k: _row(report, ENT)[k] for k in ("identifiers", "resolutions")} == {"identifiers": 3, "resolutions": 12}
    assert {k: _row(report, OTHER)[k] for k in ("identifiers", "resolutions")} == {"identifiers": 1, "resolutions": 3}
    assert _row(report, NODE)["resolutions"] == 0
    assert report["prefixRecordResolutions"] == 1
    # what the node's CLI reports is the same, from the database
    assert prefix_report(db, config)["prefixes"] == report["prefixes"]


def test_who_may_read_the_statistics(client, db, config) -> None:
    assert client.get("/api/stats/prefixes").status_code == 401
    r = client.get("/api/stats/prefixes", headers=ENT_AUTH)
    assert (r.status_code, r.json["responseCode"]) == (403, 400)
    assert client.get("/api/stats/prefixes", headers=basic(f"300:0.NA/{NODE}", "wrong-secret")).status_code == 401
    values = reader_values(config, READER_SECRET)
    put_handle(db, config, OPERATOR, PutRequest(f"0.NA/{NODE}", values, indexes=(301, 101)))
    assert client.get("/api/stats/prefixes", headers=READER_AUTH).status_code == 200
    # the reader key reads statistics and nothing else
    r = client.put(f"/api/handles/{ENT}/R-1", headers=READER_AUTH, json=[{"index": 1, "type": "URL", "data": "x"}])
    assert r.status_code == 403
    assert client.put(f"/api/handles/0.NA/{NODE}.77", headers=READER_AUTH, json=[]).status_code == 403
    assert client.get(f"/api/handles?prefix={ENT}", headers=READER_AUTH).status_code == 403
    seen = client.get(f"/api/handles/0.NA/{NODE}?auth", headers=READER_AUTH).json["values"]
    assert "HS_SECKEY" not in {v["type"] for v in seen}


def test_a_failed_flush_keeps_its_counts(db, config) -> None:
    with db.write() as s:
        s.run("DROP TABLE prefix_resolutions")
    for _ in range(3):
        count_resolution(db, config, f"{ENT}/X")
    assert flush_resolutions(db) == 0
    assert pending_resolutions(db) == {ENT: 3}
    with db.write() as s:
        s.run(db.ddl(federation.SCHEMA[-1]))
    count_resolution(db, config, f"{ENT.upper()}/Y")
    assert flush_resolutions(db) == 4 and pending_resolutions(db) == {}
    with db.read() as s:
        assert federation.resolution_counts(s)[ENT][0] == 4


def test_idres_stats_cli(db, config) -> None:
    count_resolution(db, config, f"{OTHER}/Z")
    flush_resolutions(db)
    runner = CliRunner()
    done = runner.invoke(cli, ["--database", config.database, "stats", "--json"], env={"IDRES_NODE_PREFIX": NODE})
    assert done.exit_code == 0, done.output
    assert _row(json.loads(done.output), OTHER)["resolutions"] == 1
    done = runner.invoke(cli, ["--database", config.database, "stats"], env={"IDRES_NODE_PREFIX": NODE})
    assert done.exit_code == 0 and f"{OTHER:<20} {0:>12} {1:>12}" in done.output


def test_served_resolutions_are_counted_and_flushed_periodically_and_at_exit(tmp_path: Path) -> None:
    """``idres serve``: two gunicorn workers (REST) and the supervisor (binary protocol,
    UDP and TCP).  Counts reach the database within the flush interval, and what was
    counted after the last flush is written when the node stops gracefully (SIGTERM)."""
    database, home, port, hdl_port = str(tmp_path / "live.db"), tmp_path / "home", free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    config = Config(database=database, node_prefix=NODE, base_url=url)
    db = open_database(database)
    init_node(db, config, "live-node-admin-secret")
    create_prefix(db, config, ENT, LIVE_ENT_SECRET)
    home.mkdir()
    auth = basic(ENT_USER, LIVE_ENT_SECRET)
    env = {**cli_env(home), "IDRES_STATS_FLUSH_SECONDS": "0.5"}
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([str(IDRES), "--database", database, "--base-url", url, "serve", "--bind",
                                 f"127.0.0.1:{port}", "--workers", "2", "--hdl-port", str(hdl_port)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=home,
                                env=env, start_new_session=True)

    def stored() -> int:
        with db.read() as s:
            return federation.resolution_counts(s).get("88.118.8", (0, ""))[0]

    try:
        wait_for(lambda: _answers(f"{url}/api/handles/0.NA/88.118.8"), timeout=30)
        r = requests.put(f"{url}/api/handles/88.118.8/LIVE-1", headers=auth, timeout=10,
                         json=[{"index": 1, "type": "URL", "data": "https://x/"}])
        assert r.status_code == 201
        for _ in range(40):  # a new connection each: both workers answer some
            assert requests.get(f"{url}/api/handles/88.118.8/LIVE-1", timeout=10).status_code == 200
        for n in range(10):
            assert hdl_client.resolve("127.0.0.1", hdl_port, "88.118.8/LIVE-1", tcp=n % 2 == 1).rc == 1
        wait_for(lambda: stored() == 50, timeout=5)
        time.sleep(0.6)
        assert stored() == 50  # nothing counted twice
        for n in range(15):
            assert requests.get(f"{url}/api/handles/88.118.8/LIVE-1", timeout=10).status_code == 200
            assert hdl_client.resolve("127.0.0.1", hdl_port, "88.118.8/LIVE-1").rc == 1
    finally:
        proc.send_signal(signal.SIGTERM)  # the supervisor stops gunicorn gracefully
        assert proc.wait(timeout=30) == 0
        _stop(proc)
    try:
        assert stored() == 80
    finally:
        db.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_counting_writes_nothing_until_the_flush(client, db, config) -> None:
    """No database write per resolution: counts wait in memory, one flush writes them.

    (Its cost against a resolution is a benchmark matter, not a unit test's.)
    """
    _put(client, f"{ENT}/PERF", ENT_AUTH)
    flush_resolutions(db)
    with db.read() as s:
        before = s.all("SELECT * FROM prefix_resolutions ORDER BY 1")
    for _ in range(20_000):
        count_resolution(db, config, f"{ENT}/PERF")
    with db.read() as s:
        assert s.all("SELECT * FROM prefix_resolutions ORDER BY 1") == before
    assert pending_resolutions(db)[ENT] == 20_000
    flush_resolutions(db)
    assert pending_resolutions(db).get(ENT, 0) == 0
    old = {row["prefix_key"]: row["resolutions"] for row in before}.get(ENT, 0)
    with db.read() as s:
        row = s.one("SELECT resolutions FROM prefix_resolutions WHERE prefix_key = ?", (ENT,))
    assert row["resolutions"] == old + 20_000
