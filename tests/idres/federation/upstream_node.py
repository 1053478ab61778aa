"""A real top-level node (``88``) for the registration tests: set up with the ``idres``
CLI, served by ``idres serve`` (gunicorn) on a loopback port, stopped and started again
on the same port and database when a test needs the upstream down.

Its operator has created the records of two secondary nodes, ``0.NA/88.118`` and
``0.NA/88.119``, each with the secondary's key at index 300.
"""
from __future__ import annotations

import base64
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

from idres.config import Config
from idres.node import create_prefix, init_node
from idres.storage import open_database
from tests.idres.live_node import IDRES, _stop, cli_env, free_port, run_idres

TOP = "88"
SEC_A, SEC_B = "88.118", "88.119"
TOP_SECRET = "top-level-admin-secret-51d0"
SEC_A_SECRET = "secondary-a-upstream-key-8e2c"
SEC_B_SECRET = "secondary-b-upstream-key-07fa"
TOP_OPTIONS = ("--node-prefix", TOP, "--role", "top-level")
START_TIMEOUT = 30.0


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username.replace(':', '%3A', 1)}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class TopNode:
    """Where the top-level node lives; ``proc`` is set while it serves."""

    url: str
    port: int
    database: str
    home: Path
    log_path: Path
    proc: subprocess.Popen | None = None

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return run_idres(self.database, self.url, *TOP_OPTIONS, *args, stdin=stdin, home=self.home)

    def record(self, handle: str) -> requests.Response:
        return requests.get(f"{self.url}/api/handles/{handle}", timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def set_up_top(tmp_path: Path) -> TopNode:
    """The top-level node's database, admin and its two secondaries' prefix records.

    The first secondary's record is made the operator's way (``idres prefix create``);
    the rest in-process, through the same functions, to keep the tests fast.
    """
    port = free_port()
    node = TopNode(f"http://127.0.0.1:{port}", port, str(tmp_path / "top.db"), tmp_path / "top-home",
                   tmp_path / "top.log")
    config = Config(database=node.database, node_prefix=TOP, node_role="top-level", base_url=node.url)
    db = open_database(node.database)
    try:
        init_node(db, config, TOP_SECRET)
        create_prefix(db, config, SEC_B, SEC_B_SECRET)
    finally:
        db.close()
    done = node.cli("prefix", "create", SEC_A, "--secret-stdin", stdin=SEC_A_SECRET + "\n")
    assert done.returncode == 0, done.stderr
    return node


def start(node: TopNode) -> None:
    """``idres serve`` on the node's port, one gunicorn worker, no binary protocol."""
    with open(node.log_path, "ab") as log:
        node.proc = subprocess.Popen(
            [str(IDRES), "--database", node.database, "--base-url", node.url, *TOP_OPTIONS, "serve",
             "--bind", f"127.0.0.1:{node.port}", "--workers", "1", "--hdl-port", "0"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=cli_env(node.home), cwd=node.home, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if node.proc.poll() is not None:
            raise AssertionError(f"top-level node exited:\n{node.log_text()}")
        try:
            if node.record(f"0.NA/{TOP}").status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"top-level node not ready:\n{node.log_text()}")


def stop(node: TopNode) -> None:
    if node.proc is not None:
        _stop(node.proc)
        node.proc = None


@contextmanager
def serving(node: TopNode) -> Iterator[TopNode]:
    start(node)
    try:
        yield node
    finally:
        stop(node)


def wait_for(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``check()`` until it returns something true; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
