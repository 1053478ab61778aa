"""The binary Handle protocol server: asyncio on UDP and TCP, answers in a thread pool.

The event loop only frames bytes; decoding, resolving (blocking database
reads) and encoding run in a thread pool.  Limits keep a hostile client from
hurting others: a request size cap, read timeouts on TCP, a cap on open TCP
connections and on requests waiting for the pool (past it: RC_SERVER_TOO_BUSY
at once), and on UDP a response-rate limit per source address plus a bound
on multi-piece answers (:mod:`idres.hdl.ratelimit`), so that a request with a
forged source address cannot make us flood its victim.  A packet too short to hold an envelope is dropped; anything else
that is wrong gets an error response, and the server keeps going.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from idres.hdl import exchange
from idres.hdl.answer import Answer
from idres.hdl.ratelimit import SourceLimiter, UdpLimits, Verdict
from idres.hdl.wire import ENVELOPE_SIZE, RC_SERVER_TOO_BUSY, decode_envelope

log = logging.getLogger("idres.hdl")


class HdlServer:
    """UDP and TCP listeners on one port, answering with ``answer``.

    ``port=0`` picks a free port (the same number for UDP and TCP); the bound
    port is :attr:`port` once :meth:`start` has returned.  ``udp_limits``:
    the per-source UDP rate limit and multi-piece bound (see :class:`UdpLimits`
    for the defaults and why); TCP is not rate-limited.
    """

    def __init__(self, answer: Answer, host: str = "127.0.0.1", port: int = 2641, *,
                 workers: int = 8, max_connections: int = 256, max_pending: int = 512,
                 read_timeout: float = 5.0, idle_timeout: float = 15.0,
                 udp_limits: UdpLimits = UdpLimits()) -> None:
        self.answer, self.host, self.port = answer, host, port
        self.max_connections, self.max_pending = max_connections, max_pending
        self.read_timeout, self.idle_timeout = read_timeout, idle_timeout
        self.udp_limits, self.limiter = udp_limits, SourceLimiter(udp_limits)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hdl")
        self._pending = 0
        self._streams: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}  # open TCP connections
        self._datagrams: set[asyncio.Task[Any]] = set()   # UDP requests being answered
        self._tcp: asyncio.AbstractServer | None = None
        self._udp: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        """Bind both listeners (OSError when the port is taken)."""
        loop = asyncio.get_running_loop()
        for attempt in range(20 if self.port == 0 else 1):
            tcp = await asyncio.start_server(self._connection, self.host, self.port,
                                             reuse_address=True, backlog=512)
            port = tcp.sockets[0].getsockname()[1]
            try:
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(self), local_addr=(self.host, port),
                    family=socket.AF_INET6 if ":" in self.host else socket.AF_INET)
            except OSError:
                tcp.close()
                if self.port or attempt == 19:
                    raise
                continue  # that number was taken on UDP: try another free TCP port
            self._tcp, self.port = tcp, port
            return

    async def close(self) -> None:
        """Stop listening, drop open connections, let the pool finish what it runs."""
        if self._tcp is not None:
            self._tcp.close()
        if self._udp is not None:
            self._udp.close()
        for writer in self._streams.values():
            writer.transport.abort()  # the handler sees the connection end and returns
        for task in self._datagrams:
            task.cancel()
        tasks = set(self._streams) | self._datagrams
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _respond(self, env: Any, data: bytes) -> exchange.Outcome:
        """Run one request in the pool, or answer RC_SERVER_TOO_BUSY when it is full."""
        if self._pending >= self.max_pending:
            return exchange.error(env, None, RC_SERVER_TOO_BUSY, "Server too busy, try again")
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, exchange.respond, env, data, self.answer)
        finally:
            self._pending -= 1

    # ------------------------------------------------------------------ UDP

    def datagram(self, data: bytes, addr: Any) -> None:
        if len(data) < ENVELOPE_SIZE:
            return  # nothing to answer to: no request id
        verdict = self.limiter.admit(addr)
        if verdict is not Verdict.ANSWER:  # refused in the loop: no pool, no lookup elsewhere
            self._refuse(verdict, data, addr)
            return
        task = asyncio.get_running_loop().create_task(self._answer_datagram(data, addr))
        self._datagrams.add(task)
        task.add_done_callback(self._datagrams.discard)

    async def _answer_datagram(self, data: bytes, addr: Any) -> None:
        env = decode_envelope(data)
        try:
            outcome = await self._respond(env, data[ENVELOPE_SIZE:])
            if self._udp is not None and not self._udp.is_closing():
                packets = exchange.udp_frames(outcome, len(data), self.udp_limits.amplification)
                self.limiter.charge(addr, len(packets) - 1)
                for packet in packets:
                    self._udp.sendto(packet, addr)
        except Exception:  # a send to a vanished client, a pool shut down under us
            log.exception("UDP request from %s not answered", addr)

    def _refuse(self, verdict: Verdict, data: bytes, addr: Any) -> None:
        """Over the rate limit: the short "use TCP" answer when it is no longer than the request."""
        if verdict is Verdict.SLIP and self._udp is not None and not self._udp.is_closing():
            packet = exchange.use_tcp_frame(decode_envelope(data))
            if len(packet) <= len(data):
                self._udp.sendto(packet, addr)

    # ------------------------------------------------------------------ TCP

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._streams) >= self.max_connections or task is None:
            writer.close()  # over the cap: refuse rather than queue
            return
        self._streams[task] = writer
        try:
            await self._serve_stream(reader, writer)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass  # a client that went away or stalled: just close
        except Exception:
            log.exception("TCP connection failed")
        finally:
            self._streams.pop(task, None)
            writer.close()

    async def _serve_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        timeout = self.read_timeout
        while True:
            head = await asyncio.wait_for(reader.readexactly(ENVELOPE_SIZE), timeout)
            env = decode_envelope(head)
            problem = exchange.envelope_problem(env)
            if problem:  # the stream cannot be trusted past a bad envelope
                await self._send(writer, exchange.error(env, None, *problem))
                return
            data = await asyncio.wait_for(reader.readexactly(env.length), self.read_timeout)
            outcome = await self._respond(env, data)
            await self._send(writer, outcome)
            if not outcome.keep_open:
                return
            timeout = self.idle_timeout  # KC: wait for the client's next request

    async def _send(self, writer: asyncio.StreamWriter, outcome: exchange.Outcome) -> None:
        writer.write(exchange.tcp_frame(outcome))
        await asyncio.wait_for(writer.drain(), self.read_timeout)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: HdlServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.datagram(data, addr)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        log.debug("UDP error: %s", exc)
