"""The blocking client against a real server, a silent socket and a liar."""
from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any

import pytest

from idres.errors import HandleNotFound
from idres.hdl import client as hdl_client
from idres.hdl.answer import Hop, Reply, local_answer
from idres.hdl.exchange import encode_reply, udp_frames
from idres.hdl.wire import Envelope, decode_envelope, decode_message
from idres.resolver import ResolveQuery
from tests.conftest import ENT, ENT_AUTH
from tests.idres.hdl.packets import running

STAMP = "2026-11-30T08:15:00Z"


def value(index: int, text: str) -> dict:
    return {"index": index, "type": "URL", "data": {"format": "string", "value": text},
            "ttl": 86400, "timestamp": STAMP}


def fixed(values: tuple) -> Any:
    seen: list[tuple[ResolveQuery, Hop]] = []

    def answer(query: ResolveQuery, hop: Hop) -> Reply:
        seen.append((query, hop))
        if query.handle.endswith("/MISSING"):
            raise HandleNotFound(handle=query.handle)
        return Reply(1, query.handle, values)

    answer.seen = seen  # type: ignore[attr-defined]
    return answer


def test_udp_tcp_and_truncation_fallback() -> None:
    small = (value(1, "https://a.example/"),)
    answer = fixed(small)
    with running(answer) as srv:
        got = hdl_client.resolve("127.0.0.1", srv.port, "88.118.8/A", types=("URL",), indexes=(1,),
                             recursion=2, recursive=False, do_not_refer=True)
        assert got == Reply(1, "88.118.8/A", small)
        query, hop = answer.seen[-1]
        assert (query.types, query.indexes) == (("URL",), (1,))
        assert hop == Hop(recursion_count=2, recursive=False, do_not_refer=True)
        assert hdl_client.resolve("127.0.0.1", srv.port, "88.118.8/A", tcp=True) == got
        with pytest.raises(hdl_client.RemoteError) as err:
            hdl_client.resolve("127.0.0.1", srv.port, "88.118.8/MISSING")
        assert (err.value.rc, err.value.status, err.value.handle) == (100, 404, "88.118.8/MISSING")
    big = tuple(value(i, "https://b.example/" + "z" * 300) for i in range(1, 30))  # > 8 UDP pieces
    answer = fixed(big)
    with running(answer) as srv:
        got = hdl_client.resolve("127.0.0.1", srv.port, "88.118.8/B")
        assert got.values == big and len(answer.seen) == 2  # TC seen: straight to TCP, no UDP resend


def test_resolves_what_rest_shows(db: Any, config: Any, client: Any) -> None:
    r = client.put(f"/api/handles/{ENT}/C-1", headers=ENT_AUTH, json={"values": [
        {"index": 1, "type": "URL", "data": "https://c.example/"},
        {"index": 2, "type": "HIDDEN", "data": "no", "permissions": "1100"}]})
    assert r.status_code == 201
    rest = client.get(f"/api/handles/{ENT}/C-1").json
    with running(local_answer(db, config)) as srv:
        got = hdl_client.resolve("127.0.0.1", srv.port, f"{ENT}/C-1")
        assert got == Reply(1, rest["handle"], tuple(rest["values"]))
        empty = hdl_client.resolve("127.0.0.1", srv.port, f"{ENT}/C-1", types=("NOPE",))
        assert (empty.rc, empty.values) == (200, ())
        with pytest.raises(hdl_client.RemoteError) as err:
            hdl_client.resolve("127.0.0.1", srv.port, "99.1/X")
        assert err.value.rc == 301


def test_silent_server_times_out_after_retrying() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(0.1)
        t0 = time.monotonic()
        with pytest.raises(hdl_client.UpstreamTimeout):
            hdl_client.resolve("127.0.0.1", silent.getsockname()[1], "88.118.8/A", timeout=0.8)
        elapsed = time.monotonic() - t0
        sends = []
        try:
            while True:
                sends.append(silent.recv(1024))
        except socket.timeout:
            pass
    assert 0.75 < elapsed < 1.3
    assert len(sends) == 2  # at 0 and 0.5 s; the 1.5 s resend is past the 0.8 s budget
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(hdl_client.UpstreamFailure):
        hdl_client.resolve("127.0.0.1", port, "88.118.8/A", tcp=True, timeout=1)


def test_answers_for_other_requests_are_ignored() -> None:
    """A liar first sends an answer with another request id, then the real one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as liar:
        liar.bind(("127.0.0.1", 0))

        def serve() -> None:
            data, addr = liar.recvfrom(2048)
            env = decode_envelope(data)
            req = decode_message(data[20:])
            for request_id, text in ((env.request_id ^ 1, "forged"), (env.request_id, "real")):
                outcome = encode_reply(Envelope(request_id=request_id), req,
                                       Reply(1, "88.118.8/A", (value(1, text),)))
                liar.sendto(udp_frames(outcome)[0], addr)

        thread = threading.Thread(target=serve)
        thread.start()
        got = hdl_client.resolve("127.0.0.1", liar.getsockname()[1], "88.118.8/A", timeout=2)
        thread.join(2)
    assert got.values[0]["data"]["value"] == "real"


def test_garbage_answer_is_an_upstream_failure() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as liar:
        liar.bind(("127.0.0.1", 0))

        def serve() -> None:
            data, addr = liar.recvfrom(2048)
            liar.sendto(data[:20] + struct.pack(">I", 1) + b"\0" * 3, addr)

        thread = threading.Thread(target=serve)
        thread.start()
        with pytest.raises(hdl_client.UpstreamFailure, match="envelope says"):
            hdl_client.resolve("127.0.0.1", liar.getsockname()[1], "88.118.8/A", timeout=2)
        thread.join(2)
