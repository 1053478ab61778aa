"""Issue 6's topology: three real ``idres serve`` processes on loopback.

Top-level node T (``88``), secondary A (``88.118``, enterprise prefix
``88.118.8``) and secondary B (``88.119``), each with its own SQLite file,
one gunicorn worker (so "B's cache" is one cache) and the binary protocol on
its own port.  A registers its prefixes at T itself (the upstream helper's
registration, through T's REST API with A's key there).  A part registered
on A resolves through T and through B, over REST and the binary protocol; a
prefix A creates while T is down is registered when T is back; with A
stopped, B and T fail fast (rc 2, HTTP 502) while B keeps serving what it
cached within the TTL.  One test: starting the processes is most of the cost.
"""
from __future__ import annotations

import base64
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import requests

from idres.hdl import client as hdl
from tests.idres.live_node import IDRES, _stop, cli_env, free_port

PART = "88.118.8/ENG-2026-000123"
OTHER_PART = "88.118.8/ENG-2026-000124"
ENT_SECRET = "engine-maker-topology-secret"
START_TIMEOUT = 30.0
HTTP = 10.0  # client timeout of the test's own requests: far above anything expected


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username.replace(':', '%3A', 1)}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def prefix_record_values(prefix: str, secret: str) -> list[dict]:
    """HS_ADMIN (everything, ADD_NA included) for the key at 300, and that key."""
    return [{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": f"0.NA/{prefix}", "index": 300, "permissions": "1" * 12}}},
            {"index": 300, "type": "HS_SECKEY", "data": secret, "permissions": "1100"}]


@dataclass
class Proc:
    """One node: its settings, and its ``idres serve`` process while it runs."""

    name: str
    prefix: str
    role: str
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    hdl_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def secret(self) -> str:
        return f"{self.name}-admin-secret-topology"

    @property
    def admin(self) -> dict[str, str]:
        return basic(f"300:0.NA/{self.prefix}", self.secret)

    def argv(self, *args: str) -> list[str]:
        return [str(IDRES), "--database", str(self.tmp / f"{self.name}.db"), "--base-url", self.url,
                "--node-prefix", self.prefix, "--role", self.role, *args]

    def popen(self, *args: str, log: str = "") -> subprocess.Popen:
        home = self.tmp / f"{self.name}-home"
        env = {**cli_env(home), **self.env}
        out = open(self.tmp / f"{self.name}.log", "ab") if log else subprocess.PIPE
        return subprocess.Popen(self.argv(*args), stdin=subprocess.PIPE, stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True)

    def get(self, handle: str, **params) -> requests.Response:
        return requests.get(f"{self.url}/api/handles/{handle}", params=params, timeout=HTTP)

    def put(self, handle: str, values: list[dict], auth: dict[str, str]) -> requests.Response:
        return requests.put(f"{self.url}/api/handles/{handle}", json={"values": values},
                            headers=auth, timeout=HTTP)


def init_all(nodes: list[Proc]) -> None:
    """``idres init`` for every node at once (each takes about a second to start)."""
    running = [(n, n.popen("init", "--admin-secret-stdin")) for n in nodes]
    for node, proc in running:
        out, _ = proc.communicate(node.secret.encode() + b"\n", timeout=60)
        assert proc.returncode == 0, out.decode()


def start(nodes: list[Proc]) -> None:
    for node in nodes:
        node.proc = node.popen("serve", "--bind", f"127.0.0.1:{node.port}", "--workers", "1",
                               "--hdl-port", str(node.hdl_port), log="yes")
    for node in nodes:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert node.proc.poll() is None, (node.tmp / f"{node.name}.log").read_text()
            try:
                if node.get(f"0.NA/{node.prefix}").status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (node.tmp / f"{node.name}.log").read_text()
            time.sleep(0.05)


def stop(node: Proc) -> None:
    if node.proc is not None:
        _stop(node.proc)
        node.proc = None


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s")


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[tuple[Proc, Proc, Proc]]:
    top = Proc("top", "88", "top-level", tmp_path)
    below = {"IDRES_UPSTREAM_URL": top.url, "IDRES_UPSTREAM_TIMEOUT": "2",
             "IDRES_UPSTREAM_RETRY_BASE": "0.2", "IDRES_UPSTREAM_RETRY_MAX": "0.5"}
    a = Proc("a", "88.118", "secondary", tmp_path, {**below, "IDRES_UPSTREAM_HANDLE": "300:0.NA/88.118",
                                                     "IDRES_UPSTREAM_SECRET": "a-key-at-the-top-level"})
    b = Proc("b", "88.119", "secondary", tmp_path, {**below, "IDRES_UPSTREAM_HANDLE": "300:0.NA/88.119",
                                                     "IDRES_UPSTREAM_SECRET": "b-key-at-the-top-level"})
    nodes = [top, a, b]
    try:
        init_all(nodes)
        start([top])
        for node in (a, b):  # the operator of T creates each secondary's record, with its key
            r = top.put(f"0.NA/{node.prefix}", prefix_record_values(node.prefix, node.env[
                "IDRES_UPSTREAM_SECRET"]), top.admin)
            assert r.status_code == 201, r.text
        start([a, b])
        yield top, a, b
    finally:
        for node in nodes:
            stop(node)


def site_urls(body: dict) -> list[str]:
    return [i.get("url") for v in body["values"] if v["type"] == "HS_SITE"
            for s in v["data"]["value"]["servers"] for i in s["interfaces"] if i["protocol"] == "HTTP"]


def same_values(reply_values, rest_values) -> bool:
    key = lambda v: (v["index"], v["type"], v["data"], v["ttl"])  # noqa: E731
    return sorted(map(key, reply_values)) == sorted(map(key, rest_values))


def test_three_node_topology(topology: tuple[Proc, Proc, Proc]) -> None:
    top, a, b = topology
    ent = basic("300:0.NA/88.118.8", ENT_SECRET)
    # A creates its enterprise prefix over REST; A registers it at T at once
    assert a.put("0.NA/88.118.8", prefix_record_values("88.118.8", ENT_SECRET), a.admin).status_code == 201
    wait_for(lambda: top.get("0.NA/88.118.8").status_code == 200)
    assert site_urls(top.get("0.NA/88.118.8").json()) == [a.url]
    values = [{"index": 1, "type": "URL", "data": "https://a.example/eng/123", "ttl": 600},
              {"index": 2, "type": "PART.TYPE", "data": "ENGINE"}]
    for handle in (PART, OTHER_PART):
        assert a.put(handle, values, ent).status_code == 201
    at_a = a.get(PART).json()

    # REST: through the top-level node and through B (the asked spelling echoed)
    for node in (top, b):
        r = node.get(PART.lower())
        assert (r.status_code, r.json()["handle"]) == (200, PART.lower()), r.text
        assert r.json()["values"] == at_a["values"]
    r = b.get(PART, doNotRefer="true")
    assert (r.status_code, r.json()["responseCode"], site_urls(r.json())) == (400, 301, [a.url])

    # binary protocol: through T and B, and a referral when recursion is not wanted
    for node in (top, b):
        reply = hdl.resolve("127.0.0.1", node.hdl_port, PART, timeout=5)
        assert reply.rc == 1 and same_values(reply.values, at_a["values"]), reply
    referral = hdl.resolve("127.0.0.1", b.hdl_port, PART, timeout=5, recursive=False, tcp=True)
    assert referral.rc == 302 and [v["type"] for v in referral.values] == ["HS_SITE"]

    # T down: A's new prefix waits in A's queue; B still resolves A's handles (0.NA cached)
    stop(top)
    assert a.put("0.NA/88.118.9", prefix_record_values("88.118.9", "bolt-maker-topology"),
                 a.admin).status_code == 201
    assert b.get(OTHER_PART).status_code == 200
    start([top])  # same port and database
    wait_for(lambda: top.get("0.NA/88.118.9").status_code == 200)
    assert site_urls(top.get("0.NA/88.118.9").json()) == [a.url]
    bolt = [{"index": 1, "type": "URL", "data": "https://a.example/bolt/1"}]
    assert a.put("88.118.9/BOLT-1", bolt, basic("300:0.NA/88.118.9", "bolt-maker-topology")).status_code == 201
    assert b.get("88.118.9/BOLT-1").json()["values"][0]["data"]["value"] == "https://a.example/bolt/1"

    # A down: B serves its cached answer within the TTL; anything else fails fast, never hangs
    stop(a)
    assert b.get(PART).json()["values"] == at_a["values"]
    for node, handle in ((b, "88.118.8/NEVER-ASKED"), (top, PART), (b, "88.118.9/BOLT-2")):
        started = time.monotonic()
        r = node.get(handle)
        assert (r.status_code, r.json()["responseCode"]) == (502, 2), r.text
        assert time.monotonic() - started < 1.0, r.json()
    started = time.monotonic()
    with pytest.raises(hdl.RemoteError) as failed:
        hdl.resolve("127.0.0.1", b.hdl_port, "88.118.8/NEVER-ASKED-2", timeout=5, tcp=True)
    assert failed.value.rc == 2 and time.monotonic() - started < 1.0
