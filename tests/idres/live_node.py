"""A real node: a database set up with the ``idres`` CLI, served by ``idres serve``.

Nothing is mocked: the CLI runs as a subprocess (secrets on stdin), ``serve``
runs gunicorn with two workers on a free port (binary protocol off), and the tests talk HTTP to it.
The server runs in its own process group, which teardown always terminates.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

IDRES = Path(sys.executable).parent / "idres"
NODE = "88.118"
ENT = "88.118.8"
ADMIN_SECRET = "live-node-admin-secret-7f3a"
ENT_SECRET = "live-engine-maker-secret-91c2"
ENT_USER = f"300:0.NA/{ENT}"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env(home: Path) -> dict[str, str]:
    """The environment without IDRES_* settings, with a private HOME (also the working
    directory, so nothing the node writes beside itself lands in the repository)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDRES_")}
    env.pop("XDG_RUNTIME_DIR", None)
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    return env


def run_idres(database: str, base_url: str, *args: str, stdin: str = "", home: Path,
              timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed ``idres`` console script; global options come first."""
    argv = [str(IDRES), "--database", database, "--base-url", base_url, *args]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=cli_env(home), cwd=home)


@dataclass
class LiveNode:
    url: str
    database: str
    log_path: Path
    home: Path
    proc: subprocess.Popen

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """Children of the gunicorn master (``serve`` runs it as its child process)."""
        masters = _children(self.proc.pid)
        return [pid for master in masters for pid in _children(master)]


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            pids.append(int(entry.name))
    return pids


def _wait_ready(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"idres serve exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            r = requests.get(f"{url}/api/handles/0.NA/{ENT}", timeout=2)
            if r.status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.1)
    raise AssertionError(f"idres serve not ready after {START_TIMEOUT}s:\n{log_path.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def set_up_node(database: str, base_url: str, home: Path) -> None:
    """``idres init --admin-secret-stdin`` then ``idres prefix create 88.118.8 --secret-stdin``."""
    init = run_idres(database, base_url, "init", "--admin-secret-stdin", stdin=ADMIN_SECRET + "\n",
                     home=home)
    assert init.returncode == 0, init.stderr
    assert f"node admin: 300:0.NA/{NODE}" in init.stdout
    created = run_idres(database, base_url, "prefix", "create", ENT, "--secret-stdin",
                        stdin=ENT_SECRET + "\n", home=home)
    assert created.returncode == 0, created.stderr
    assert f"log in as {ENT_USER}" in created.stdout


@contextmanager
def live_node(database: str, tmp_path: Path, workers: int = 2, hdl_port: int = 0) -> Iterator[LiveNode]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = tmp_path / "home"
    set_up_node(database, url, home)
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(IDRES), "--database", database, "--base-url", url, "serve",
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--hdl-port", str(hdl_port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=cli_env(home), cwd=home, start_new_session=True)
    try:
        _wait_ready(proc, url, log_path)
        yield LiveNode(url, database, log_path, home, proc)
    finally:
        _stop(proc)


def stored_text(database: str) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or PostgreSQL rows."""
    if not database.startswith("postgresql://"):
        return b"".join(Path(database + ext).read_bytes()
                        for ext in ("", "-wal", "-journal") if Path(database + ext).exists())
    import psycopg

    chunks = []
    with psycopg.connect(database) as conn:
        for table in ("handles", "handle_values", "mint_sequences", "audit_log"):
            for row in conn.execute(f"SELECT * FROM {table}"):
                chunks.append(repr(row).encode())
    return b"\n".join(chunks)
