"""A blocking binary-protocol client: resolve one handle at another server.

UDP first, resent after 0.5, 1 and 1.5 s (REFERENCE section 4) within the
caller's ``timeout``; a truncated answer (TC) is asked again over TCP with
the time that is left.  ``tcp=True`` goes to TCP directly.  Answers whose
request id is not ours are ignored, so a stray or spoofed datagram cannot
stand in for the real one.

Success (rc 1), no matching values (rc 200) and referrals (rc 302/303) come
back as a :class:`~idres.hdl.answer.Reply` with REST-shaped values; any other
response code raises :class:`RemoteError` carrying it; no answer in time
raises :class:`UpstreamTimeout`, a broken answer :class:`UpstreamFailure`
(both rc 2, HTTP 504 / 502).
"""
from __future__ import annotations

import secrets
import socket
import time
from typing import Sequence

from idres.errors import HandleError
from idres.hdl import records
from idres.hdl.answer import Reply
from idres.hdl.exchange import RESPONSE_LIFETIME, UDP_PACKET_BYTES
from idres.hdl.wire import (ENVELOPE_SIZE, FLAG_AT, FLAG_DNRF, FLAG_PO, FLAG_REC,
                            OC_RESOLUTION, RC_SUCCESS, RC_VALUES_NOT_FOUND, REFERRAL_CODES,
                            Envelope, Header, Message, ProtocolError, Reader, ResolutionRequest,
                            decode_envelope, decode_error_body, decode_message, read_digest)

UDP_RETRIES = (0.5, 1.0, 1.5)          # wait after each send
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # what we accept from a server over TCP
# HTTP status of a remote response code (REFERENCE section 3), for the REST API.
_STATUS = {2: 502, 3: 503, 4: 400, 5: 400, 6: 508, 7: 503, 100: 404, 101: 409, 102: 400,
           200: 400, 201: 409, 202: 400, 301: 400, 400: 403, 401: 403, 402: 401, 403: 403,
           404: 403}


class RemoteError(HandleError):
    """The server answered with an error response code."""

    def __init__(self, rc: int, message: str, handle: str | None = None) -> None:
        self.rc = rc
        super().__init__(message or f"error response code {rc}", handle=handle,
                         status=_STATUS.get(rc, 502))


class UpstreamTimeout(HandleError):
    rc, status, default_message = 2, 504, "No answer from the responsible server in time"


class UpstreamFailure(HandleError):
    rc, status, default_message = 2, 502, "The responsible server could not be reached"


def resolve(host: str, port: int, handle: str, types: Sequence[str] = (),
            indexes: Sequence[int] = (), timeout: float = 3.0, recursion: int = 0, *,
            tcp: bool = False, recursive: bool = True, do_not_refer: bool = False,
            public_only: bool = False, authoritative: bool = False) -> Reply:
    """Resolve ``handle`` at ``host:port`` (see the module docstring for outcomes)."""
    flags = ((FLAG_REC if recursive else 0) | (FLAG_DNRF if do_not_refer else 0)
             | (FLAG_PO if public_only else 0) | (FLAG_AT if authoritative else 0))
    header = Header(OC_RESOLUTION, 0, flags, recursion=recursion,
                    expiration=int(time.time()) + RESPONSE_LIFETIME)
    message = Message(header, ResolutionRequest(handle, tuple(indexes), tuple(types)).pack()).pack()
    request_id = secrets.randbits(31) or 1
    packet = Envelope(request_id=request_id, length=len(message)).pack() + message
    deadline = time.monotonic() + timeout
    where = f"{host}:{port}"
    if not tcp and len(packet) <= UDP_PACKET_BYTES:
        data = _udp_exchange(host, port, packet, request_id, deadline, where)
        if data is not None:
            return parse_response(data, handle, where)
    return parse_response(_tcp_exchange(host, port, packet, request_id, deadline, where),
                          handle, where)


def _udp_exchange(host: str, port: int, packet: bytes, request_id: int, deadline: float,
                  where: str) -> bytes | None:
    """The message of the answer; None when it came truncated (ask over TCP)."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.connect(addr)  # the kernel then drops datagrams from anyone else
            for wait in UDP_RETRIES:
                if time.monotonic() >= deadline:
                    break
                sock.send(packet)
                data = _udp_wait(sock, request_id, min(deadline, time.monotonic() + wait))
                if data is not None:
                    env = decode_envelope(data)
                    return None if env.truncated else _payload(env, data[ENVELOPE_SIZE:], where)
    except OSError as err:  # e.g. ICMP port unreachable on a connected socket
        raise UpstreamFailure(f"{where}: {err}") from None
    raise UpstreamTimeout(f"No answer from {where} over UDP in time")


def _udp_wait(sock: socket.socket, request_id: int, until: float) -> bytes | None:
    while (left := until - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65535)
        except socket.timeout:
            return None
        if len(data) >= ENVELOPE_SIZE and decode_envelope(data).request_id == request_id:
            return data
    return None


def _tcp_exchange(host: str, port: int, packet: bytes, request_id: int, deadline: float,
                  where: str) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise UpstreamTimeout(f"No answer from {where} in time")
    try:
        with socket.create_connection((host, port), timeout=left) as sock:
            sock.sendall(packet)
            env = decode_envelope(_read(sock, ENVELOPE_SIZE, deadline))
            if env.request_id != request_id:
                raise UpstreamFailure(f"{where}: answer for request {env.request_id}, "
                                      f"not {request_id}")
            if env.length > MAX_RESPONSE_BYTES:
                raise UpstreamFailure(f"{where}: answer of {env.length} bytes is too large")
            return _payload(env, _read(sock, env.length, deadline), where)
    except socket.timeout:
        raise UpstreamTimeout(f"No answer from {where} over TCP in time") from None
    except OSError as err:
        raise UpstreamFailure(f"{where}: {err}") from None


def _read(sock: socket.socket, n: int, deadline: float) -> bytes:
    chunks, got = [], 0
    while got < n:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = sock.recv(min(n - got, 1 << 16))
        if not chunk:
            raise OSError(f"connection closed after {got} of {n} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _payload(env: Envelope, data: bytes, where: str) -> bytes:
    if len(data) != env.length:
        raise UpstreamFailure(f"{where}: envelope says {env.length} bytes, {len(data)} came")
    return data


def parse_response(data: bytes, handle: str, where: str = "server") -> Reply:
    """A response message (after its envelope) as a Reply, or the error it carries."""
    try:
        message = decode_message(data)
        header = message.header
        if header.rc == RC_SUCCESS or header.rc in REFERRAL_CODES:
            r = Reader(message.body, "resolution response")
            read_digest(r, header)
            answered = r.string("handle")
            values: list = []
            if r.left or header.rc == RC_SUCCESS:  # a referral may carry no value list
                values = [records.decode_value(r)
                          for _ in range(r.count("value count", records.MIN_VALUE_SIZE))]
            r.finish()
            return Reply(header.rc, answered, tuple(values))
        text = decode_error_body(header, message.body)
    except ProtocolError as err:
        raise UpstreamFailure(f"{where}: malformed answer: {err}") from None
    if header.rc == RC_VALUES_NOT_FOUND:
        return Reply(RC_VALUES_NOT_FOUND, handle, (), text)
    raise RemoteError(header.rc, text, handle)

