"""``idres serve`` as a real process: HTTP (gunicorn child) and UDP/TCP on loopback, clean SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.idres.hdl.packets import parse, request, tcp_exchange, udp_exchange
from tests.idres.live_node import ENT, IDRES, _children, cli_env, free_port, set_up_node


def test_serve_answers_http_and_binary_and_stops_on_sigterm(tmp_path: Path) -> None:
    database = str(tmp_path / "idres.db")
    http_port, hdl_port = free_port(), free_port()
    url = f"http://127.0.0.1:{http_port}"
    home = tmp_path / "home"
    set_up_node(database, url, home)
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(IDRES), "--database", database, "--base-url", url, "serve", "--bind",
             f"127.0.0.1:{http_port}", "--workers", "1", "--hdl-port", str(hdl_port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=cli_env(home),
            cwd=home, start_new_session=True)
    try:
        rest = wait_for_http(proc, f"{url}/api/handles/0.NA/{ENT}", log_path)
        udp = parse(udp_exchange(hdl_port, request(f"0.NA/{ENT}", request_id=3)))
        tcp = parse(tcp_exchange(hdl_port, request(f"0.NA/{ENT}", request_id=4)))
        assert (udp.rc, udp.request_id, tcp.rc) == (1, 3, 1)
        assert sorted(v.index for v in udp.values) == sorted(v["index"] for v in rest["values"])
        children = _children(proc.pid)
        assert len(children) == 1  # the gunicorn master
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log_path.read_text()
        assert not any(Path(f"/proc/{pid}").exists() for pid in children)
        assert udp_exchange(hdl_port, request(f"0.NA/{ENT}"), timeout=0.3) is None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wait_for_http(proc: subprocess.Popen, url: str, log_path: Path) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()
        try:
            r = requests.get(url, timeout=2)
            if r.status_code == 200:
                return r.json()
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not serving after 30 s:\n{log_path.read_text()}")
