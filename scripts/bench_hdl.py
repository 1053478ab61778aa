"""Binary Handle protocol load for scripts/bench_resolve (same data, same run).

Three targets, each its own process, loaded in turn by the same Python client
processes (one outstanding request each, a fresh random minted handle every
time):

- ``echo-udp``: the baseline, a minimal asyncio UDP server that answers every
  datagram with one canned resolution response of the same size (no decode,
  no database): the ceiling of this transport and load generator;
- ``hdl-udp``: ``idres serve-hdl`` answering over UDP;
- ``hdl-tcp``: the same server over TCP, persistent connections (KC flag).

Each answer is checked: request id echoed, response code 1 (anything else
counts as an error).
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import socket
import struct
import subprocess
import sys
import time
from array import array
from dataclasses import dataclass
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEP_CONNECTION = 0x02000000
START_TIMEOUT = 30.0


def request_packet(handle: str, request_id: int, flags: int = 0) -> bytes:
    """A resolution request built with struct (RFC 3652: envelope, header, body, credential)."""
    raw = handle.encode()
    body = struct.pack(">I", len(raw)) + raw + struct.pack(">II", 0, 0)
    msg = struct.pack(">IIIHBBII", 1, 0, flags, 0, 0, 0, 0, len(body)) + body + b"\0\0\0\0"
    return struct.pack(">BBHIIII", 2, 1, 0, 0, request_id, 0, len(msg)) + msg


@dataclass
class HdlLoad:
    target: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    answer_bytes: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _check(answer: bytes, request_id: int) -> bool:
    return (len(answer) >= 44 and struct.unpack(">I", answer[8:12])[0] == request_id
            and struct.unpack(">I", answer[24:28])[0] == 1 and not answer[2] & 0x20)


def _recv_framed(sock: socket.socket) -> bytes:
    data = b""
    while len(data) < 20:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("closed")
        data += chunk
    need = 20 + struct.unpack(">I", data[16:20])[0]
    while len(data) < need:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _client(kind: str, port: int, handles: list[str], start: float, stop: float, seed: int,
            queue: Any) -> None:
    rnd = random.Random(seed)
    lat, errors, rid = array("d"), 0, seed * 100_000
    if kind == "tcp":
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", port))
        sock.settimeout(5)
    while time.time() < start:
        time.sleep(0.001)
    clock = time.perf_counter
    while time.time() < stop:
        rid = (rid + 1) & 0x7FFFFFFF
        packet = request_packet(handles[rnd.randrange(len(handles))], rid,
                                KEEP_CONNECTION if kind == "tcp" else 0)
        t0 = clock()
        try:
            sock.send(packet) if kind != "tcp" else sock.sendall(packet)
            answer = sock.recv(65536) if kind != "tcp" else _recv_framed(sock)
        except OSError:
            errors += 1
            if kind == "tcp":
                sock.close()
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            continue
        if kind == "echo" or _check(answer, rid):
            lat.append(clock() - t0)
        else:
            errors += 1
    sock.close()
    queue.put((lat.tobytes(), errors))


def load(target: str, kind: str, port: int, handles: list[str], seconds: float, clients: int,
         answer_bytes: int) -> HdlLoad:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.time() + 0.5
    procs = [ctx.Process(target=_client, args=(kind, port, handles, start, start + seconds,
                                               i + 1 + os.getpid() % 1000, queue), daemon=True)
             for i in range(clients)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join(5)
    lat: list[float] = []
    errors = 0
    for raw, errs in results:
        a = array("d")
        a.frombytes(raw)
        lat.extend(a)
        errors += errs
    lat.sort()

    def pct(q: float) -> float | None:
        return lat[min(len(lat) - 1, int(q / 100 * len(lat)))] * 1000 if lat else None

    return HdlLoad(target, len(lat), seconds, errors, pct(50), pct(95), answer_bytes)


# --------------------------------------------------------------------------- servers

def _echo_main(port: int, canned: bytes) -> None:
    """The baseline server: every datagram gets the canned answer."""

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.transport.sendto(canned, addr)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", port))
        await asyncio.Event().wait()

    asyncio.run(run())


def start_echo(port: int, canned: bytes) -> multiprocessing.Process:
    proc = multiprocessing.get_context("fork").Process(target=_echo_main, args=(port, canned),
                                                       daemon=True)
    proc.start()
    time.sleep(0.3)
    return proc


def start_hdl(database: str, port: int, env: dict[str, str], log_path: str) -> subprocess.Popen:
    """``idres serve-hdl`` on ``port``; returns once a request is answered."""
    idres = os.path.join(os.path.dirname(sys.executable), "idres")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([idres, "--database", database, "serve-hdl", "--port", str(port)],
                                env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"idres serve-hdl exited with {proc.returncode}: "
                               f"{open(log_path, errors='replace').read()[-2000:]}")
        try:
            probe(port, "0.NA/0.NA")
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"idres serve-hdl not answering on {port} within {START_TIMEOUT:.0f} s")


def probe(port: int, handle: str) -> bytes:
    """One UDP request; the raw answer (OSError when there is none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(request_packet(handle, 1), ("127.0.0.1", port))
        return s.recv(65536)


def stop(proc: Any) -> None:
    if isinstance(proc, subprocess.Popen):
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)
    elif proc.is_alive():
        proc.terminate()
        proc.join(5)


def bench(database: str, handles: list[str], seconds: float, clients: int, env: dict[str, str],
          workdir: str, free_port: Any) -> list[HdlLoad]:
    """Echo baseline, then idres over UDP and TCP; each loaded for ``seconds``."""
    port = free_port()
    server = start_hdl(database, port, env, os.path.join(workdir, "serve-hdl.log"))
    try:
        sample = probe(port, handles[0])
        if struct.unpack(">I", sample[24:28])[0] != 1 or sample[2] & 0x20:
            raise RuntimeError(f"serve-hdl: unexpected answer for {handles[0]}: {sample[:64]!r}")
        echo_port = free_port()
        echo = start_echo(echo_port, sample)
        try:
            rows = [load("echo-udp", "echo", echo_port, handles, seconds, clients, len(sample))]
        finally:
            stop(echo)
        rows.append(load("hdl-udp", "udp", port, handles, seconds, clients, len(sample)))
        rows.append(load("hdl-tcp", "tcp", port, handles, seconds, clients, len(sample)))
        return rows
    finally:
        stop(server)
