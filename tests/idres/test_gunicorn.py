"""Plain HTTP against a real ``idres serve`` (gunicorn, two workers) on each backend."""
from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
import requests

from tests.idres.live_node import ENT, ENT_SECRET, ENT_USER, LiveNode, live_node

TIMEOUT = 30


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username.replace(':', '%3A', 1)}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic(ENT_USER, ENT_SECRET)


@pytest.fixture
def node(database_url: str, tmp_path: Path) -> Iterator[LiveNode]:
    with live_node(database_url, tmp_path) as running:
        yield running


def count(node: LiveNode) -> int:
    r = requests.get(f"{node.url}/api/handles", params={"prefix": ENT, "page": 0, "pageSize": 0},
                     headers=AUTH, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return int(r.json()["totalCount"])


def put(session: requests.Session, node: LiveNode, handle: str, url: str, **params) -> requests.Response:
    return session.put(f"{node.url}/api/handles/{handle}", params=params, headers=AUTH, timeout=TIMEOUT,
                       json={"values": [{"index": 1, "type": "URL", "data": url}]})


def test_http_against_gunicorn(node: LiveNode) -> None:
    """One server per backend (starting one costs more than the checks)."""
    check_edges(node)
    check_concurrent_writes_and_mint(node)


def check_edges(node: LiveNode) -> None:
    # two workers, and no gunicorn control socket left in the (private) home
    assert len(node.worker_pids()) == 2
    assert not (node.home / ".gunicorn").exists()

    # a body over 1 MiB is refused with 413 and a Handle-style body
    big = json.dumps({"values": [{"index": 1, "type": "URL", "data": "x" * (1024 * 1024 + 1)}]})
    r = requests.put(f"{node.url}/api/handles/{ENT}/BIG", data=big, timeout=TIMEOUT,
                     headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["responseCode"] == 4
    assert requests.get(f"{node.url}/api/handles/{ENT}/BIG", timeout=TIMEOUT).status_code == 404

    # no credentials, and wrong ones: 401 rc 402 with the Basic challenge, nothing written
    for headers in ({}, basic(ENT_USER, "wrong-password-123")):
        r = requests.put(f"{node.url}/api/handles/{ENT}/AUTH-1", headers=headers, timeout=TIMEOUT,
                         json={"values": [{"index": 1, "type": "URL", "data": "https://x.example/"}]})
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
        assert r.json()["responseCode"] == 402
    assert requests.get(f"{node.url}/api/handles/{ENT}/AUTH-1", timeout=TIMEOUT).status_code == 404

    # create, then overwrite=false on the existing handle is 409 rc 101 and changes nothing
    with requests.Session() as s:
        assert put(s, node, f"{ENT}/DUP-1", "https://a.example/", overwrite="false").status_code == 201
        r = put(s, node, f"{ENT}/DUP-1", "https://b.example/", overwrite="false")
    assert (r.status_code, r.json()["responseCode"]) == (409, 101)
    r = requests.get(f"{node.url}/api/handles/{ENT}/DUP-1", timeout=TIMEOUT)
    assert r.json()["values"][0]["data"]["value"] == "https://a.example/"

    # unknown API path: 404 rc 4; another node's prefix: 400 rc 301
    r = requests.get(f"{node.url}/api/nothing-here", timeout=TIMEOUT)
    assert (r.status_code, r.json()["responseCode"]) == (404, 4)
    r = requests.get(f"{node.url}/api/handles/99.999/X", timeout=TIMEOUT)
    assert (r.status_code, r.json()["responseCode"]) == (400, 301)

    # the OpenAPI document
    r = requests.get(f"{node.url}/api/openapi.json", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    spec = json.loads(r.text)
    assert spec["openapi"].startswith("3.")
    assert {"get", "put", "delete"} <= set(spec["paths"]["/api/handles/{handle}"])
    assert "/api/prefixes/{prefix}/mint" in spec["paths"]


def check_concurrent_writes_and_mint(node: LiveNode) -> None:
    base = count(node)  # DUP-1 from check_edges
    threads, per_thread = 8, 6

    def write(t: int) -> list[tuple[str, int]]:
        out = []
        with requests.Session() as s:
            for i in range(per_thread):
                handle = f"{ENT}/CONC-{t:02d}-{i:02d}"
                r = put(s, node, handle, f"https://parts.example/{t}/{i}", overwrite="false")
                out.append((handle, r.status_code))
        return out

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        results = [x for batch in pool.map(write, range(threads)) for x in batch]
    assert time.monotonic() - started < 60
    assert [code for _, code in results] == [201] * (threads * per_thread), results
    assert count(node) == base + threads * per_thread
    for handle, _ in results[::7]:
        t, i = (int(x) for x in handle.rsplit("/", 1)[1].split("-")[1:])
        r = requests.get(f"{node.url}/api/handles/{handle}", timeout=TIMEOUT)
        assert r.json()["values"][0]["data"]["value"] == f"https://parts.example/{t}/{i}"

    # a mint of 1000, all in one request
    body = {"pattern": "ENG-2026-{seq:06}", "count": 1000,
            "values": [{"index": 1, "type": "PART.TYPE", "data": "ENGINE-1.5T"}]}
    r = requests.post(f"{node.url}/api/prefixes/{ENT}/mint", json=body, headers=AUTH, timeout=60)
    assert r.status_code == 201, r.text
    minted = r.json()
    assert minted["count"] == 1000 and len(set(minted["handles"])) == 1000
    assert (minted["first"], minted["last"]) == (f"{ENT}/ENG-2026-000001", f"{ENT}/ENG-2026-001000")
    assert count(node) == base + threads * per_thread + 1000
    for handle in (minted["first"], minted["handles"][499], minted["last"]):
        r = requests.get(f"{node.url}/api/handles/{handle}", params={"type": "PART.TYPE"}, timeout=TIMEOUT)
        assert r.status_code == 200
        assert [v["data"]["value"] for v in r.json()["values"]] == ["ENGINE-1.5T"]

    # the next mint continues the sequence; minting needs credentials
    r = requests.post(f"{node.url}/api/prefixes/{ENT}/mint", json={**body, "count": 2}, headers=AUTH,
                      timeout=TIMEOUT)
    assert r.json()["first"] == f"{ENT}/ENG-2026-001001"
    r = requests.post(f"{node.url}/api/prefixes/{ENT}/mint", json=body, timeout=TIMEOUT)
    assert (r.status_code, r.json()["responseCode"]) == (401, 402)
    assert count(node) == base + threads * per_thread + 1002
    assert ENT_SECRET not in node.log_text()


def test_put_losing_a_create_race_replaces(database_url: str, request: pytest.FixtureRequest) -> None:
    """PUT (overwrite=true) while another writer creates the same handle.

    Deterministic on PostgreSQL: an open transaction has inserted the handle, so
    the server's read does not see it and its insert waits on the row lock until
    we commit. SQLite serializes writers (BEGIN IMMEDIATE), so the race cannot
    happen there.
    """
    if not database_url.startswith("postgresql://"):
        pytest.skip("SQLite writers are serialized; the race needs PostgreSQL")
    node: LiveNode = request.getfixturevalue("node")
    handle, stamp = f"{ENT}/RACE-1", "2026-01-01T00:00:00Z"
    with psycopg.connect(database_url) as other, ThreadPoolExecutor(1) as pool:
        other.execute("INSERT INTO handles (handle_key, handle, prefix_key, created_at, updated_at) "
                      "VALUES (%s, %s, %s, %s, %s)", (handle.lower(), handle, ENT, stamp, stamp))
        other.execute("INSERT INTO handle_values (handle_key, idx, type, data_format, data_value, ttl, "
                      "permissions, refs, timestamp) VALUES (%s, 1, 'URL', 'string', %s, 86400, "
                      "'1110', '[]', %s)", (handle.lower(), json.dumps("https://first.example/"), stamp))
        with requests.Session() as session:
            future = pool.submit(put, session, node, handle, "https://second.example/")
            deadline = time.monotonic() + 15
            while not other.execute("SELECT 1 FROM pg_stat_activity "  # blocked by us
                                    "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))").fetchall():
                assert time.monotonic() < deadline and not future.done(), "the PUT never waited"
                time.sleep(0.05)
            other.commit()
            r = future.result(timeout=TIMEOUT)
    assert (r.status_code, r.json()["responseCode"]) == (200, 1), r.text
    r = requests.get(f"{node.url}/api/handles/{handle}", params={"type": "URL"}, timeout=TIMEOUT)
    assert r.json()["values"][0]["data"]["value"] == "https://second.example/"
