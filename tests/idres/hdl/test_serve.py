"""``idres serve`` as a real process: HTTP (gunicorn child) and UDP/TCP on loopback, clean SIGTERM."""
from __future__ import annotations

import signal
from pathlib import Path

import requests

from tests.idres.hdl.packets import parse, request, tcp_exchange, udp_exchange
from tests.idres.live_node import ENT, _children, free_port, live_node


def test_serve_answers_http_and_binary_and_stops_on_sigterm(tmp_path: Path) -> None:
    hdl_port = free_port()
    with live_node(str(tmp_path / "idres.db"), tmp_path, workers=1, hdl_port=hdl_port) as node:
        rest = requests.get(f"{node.url}/api/handles/0.NA/{ENT}", timeout=10).json()
        udp = parse(udp_exchange(hdl_port, request(f"0.NA/{ENT}", request_id=3)))
        tcp = parse(tcp_exchange(hdl_port, request(f"0.NA/{ENT}", request_id=4)))
        assert (udp.rc, udp.request_id, tcp.rc) == (1, 3, 1)
        assert sorted(v.index for v in udp.values) == sorted(v["index"] for v in rest["values"])
        children, workers = _children(node.proc.pid), node.worker_pids()
        assert (len(children), len(workers)) == (1, 1)  # the gunicorn master, its one worker
        node.proc.send_signal(signal.SIGTERM)  # the supervisor alone, not its process group
        assert node.proc.wait(timeout=20) == 0, node.log_text()
        assert not any(Path(f"/proc/{pid}").exists() for pid in children + workers)
        assert udp_exchange(hdl_port, request(f"0.NA/{ENT}"), timeout=0.3) is None
