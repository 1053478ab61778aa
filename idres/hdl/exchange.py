"""One request in, one response out: the transport-free half of the server.

:func:`respond` turns a request's envelope and message bytes into the
response message (blocking: it calls the :data:`~idres.hdl.answer.Answer`);
:func:`tcp_frame` and :func:`udp_frames` put it on the wire.  Nothing here
raises on bad input: every problem becomes an error response whose message
says what was wrong (RFC 3652: RC_PROTOCOL_ERROR for a malformed message,
RC_OPERATION_NOT_SUPPORTED for an operation this server does not do).
"""
from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass
from typing import Sequence

from idres.errors import HandleError
from idres.hdl import records
from idres.hdl.answer import Answer, Hop, Reply
from idres.hdl.wire import (DIGEST_SHA1, ENV_COMPRESSED, ENV_ENCRYPTED, ENV_TRUNCATED,
                            ENVELOPE_SIZE, FLAG_AT, FLAG_DNRF, FLAG_KC, FLAG_PO, FLAG_RD,
                            FLAG_REC, MAJOR_VERSION, OC_RESERVED, OC_RESOLUTION, RC_ERROR,
                            RC_OPERATION_NOT_SUPPORTED, RC_PROTOCOL_ERROR, RC_SERVER_TOO_BUSY,
                            RC_SUCCESS, REFERRAL_CODES, Envelope, Header, Message, ProtocolError,
                            decode_message, decode_resolution_request, digest_prefix,
                            error_body, string, u32)
from idres.resolver import ResolveQuery

log = logging.getLogger("idres.hdl")

MAX_REQUEST_BYTES = 64 * 1024   # a resolution request is a handle and two short lists
UDP_PACKET_BYTES = 512          # RFC 3652: a UDP packet carries at most 512 octets
UDP_DATA_BYTES = UDP_PACKET_BYTES - ENVELOPE_SIZE
MAX_UDP_FRAGMENTS = 8           # bounds what one (spoofable) UDP request can make us send
RESPONSE_LIFETIME = 12 * 3600   # seconds, the header's expiration time (as CNRI servers do)
VALUES_NOT_FOUND = "No values match the requested types or indexes"
USE_TCP = "Use TCP"  # short: the answer stays within a well-formed request's 60+ bytes


@dataclass(frozen=True)
class Outcome:
    """A response message for one request, and whether the TCP connection stays open."""

    envelope: Envelope   # the request's
    message: bytes       # header, body, credential
    keep_open: bool = False


def envelope_problem(env: Envelope, received: int | None = None) -> tuple[int, str] | None:
    """``(rc, message)`` when a request cannot be served from its envelope alone."""
    if env.major != MAJOR_VERSION:
        return RC_PROTOCOL_ERROR, f"protocol version {env.major}.{env.minor} is not supported (2.x)"
    if env.flags & (ENV_COMPRESSED | ENV_ENCRYPTED):
        return RC_OPERATION_NOT_SUPPORTED, "compressed or encrypted messages are not supported"
    if env.flags & ENV_TRUNCATED:
        return (RC_OPERATION_NOT_SUPPORTED, "multi-packet (truncated) requests are not supported: "
                "send the request as one message, over TCP if it does not fit a UDP packet")
    if env.length > MAX_REQUEST_BYTES:
        return RC_PROTOCOL_ERROR, (f"envelope message length {env.length} exceeds the "
                                   f"{MAX_REQUEST_BYTES}-byte limit for requests")
    if received is not None and received != env.length:
        return RC_PROTOCOL_ERROR, (f"envelope message length {env.length}, but {received} bytes "
                                   "follow the envelope")
    return None


def respond(env: Envelope, data: bytes, answer: Answer) -> Outcome:
    """The response to one request (``data``: the bytes after its envelope)."""
    problem = envelope_problem(env, len(data))
    if problem:
        return error(env, None, *problem)
    try:
        request = decode_message(data)
    except ProtocolError as err:
        return error(env, None, RC_PROTOCOL_ERROR, str(err))
    header = request.header
    if header.rc != 0:
        return error(env, request, RC_PROTOCOL_ERROR,
                     f"response code {header.rc} in a request (requests carry 0)")
    if header.opcode != OC_RESOLUTION:
        return error(env, request, RC_OPERATION_NOT_SUPPORTED,
                     f"operation {header.opcode} is not supported: this server answers "
                     f"resolution requests (opcode {OC_RESOLUTION}) only")
    try:
        body = decode_resolution_request(request.body)
    except ProtocolError as err:
        return error(env, request, RC_PROTOCOL_ERROR, str(err))
    query = ResolveQuery(body.handle, body.types, body.indexes, public_only=header.has(FLAG_PO))
    hop = Hop(header.recursion, header.has(FLAG_REC), header.has(FLAG_DNRF), header.has(FLAG_AT))
    try:
        reply = answer(query, hop)
    except HandleError as err:
        return error(env, request, err.rc, err.message)
    except Exception:  # never let one request take the server down
        log.exception("resolving %r failed", body.handle)
        return error(env, request, RC_ERROR, "Internal error")
    return encode_reply(env, request, reply)


def encode_reply(env: Envelope, request: Message, reply: Reply) -> Outcome:
    """Values (rc 1) or a referral (302/303) as such; any other rc as an error message."""
    if reply.rc != RC_SUCCESS and reply.rc not in REFERRAL_CODES:
        return error(env, request, reply.rc, reply.message or VALUES_NOT_FOUND)
    try:
        values = [records.encode_value(v) for v in reply.values]
    # A value relayed from another node may hold numbers or shapes RFC 3651 cannot carry.
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, struct.error) as err:
        log.error("a value of %r cannot be encoded: %s", reply.handle, err)
        return error(env, request, RC_ERROR, f"a value of {reply.handle} cannot be encoded: {err}")
    body = string(reply.handle) + u32(len(values)) + b"".join(values)
    return _outcome(env, request, reply.rc, body)


def error(env: Envelope, request: Message | None, rc: int, message: str) -> Outcome:
    """An error response; without a readable request header the opcode is 0 (reserved)."""
    return _outcome(env, request, rc, error_body(message))


def _outcome(env: Envelope, request: Message | None, rc: int, body: bytes) -> Outcome:
    flags = 0
    if request is not None and request.header.has(FLAG_RD):
        body = digest_prefix((DIGEST_SHA1, request.digest(DIGEST_SHA1))) + body
        flags |= FLAG_RD
    keep = request is not None and request.header.has(FLAG_KC)
    flags |= FLAG_KC if keep else 0
    header = Header(request.header.opcode if request else OC_RESERVED, rc, flags,
                    serial=request.header.serial if request else 0,
                    recursion=request.header.recursion if request else 0,
                    expiration=int(time.time()) + RESPONSE_LIFETIME)
    # A framing problem (no header read) leaves a TCP stream out of step: close it.
    return Outcome(env, Message(header, body).pack(), keep_open=keep)


def _response_envelope(request: Envelope, length: int, flags: int = 0, sequence: int = 0) -> bytes:
    minor = request.minor if request.major == MAJOR_VERSION else 1
    return Envelope(MAJOR_VERSION, minor, flags, request.session_id, request.request_id,
                    sequence, length).pack()


def tcp_frame(outcome: Outcome) -> bytes:
    """Envelope and message, as one TCP write."""
    return _response_envelope(outcome.envelope, len(outcome.message)) + outcome.message


def udp_frames(outcome: Outcome, request_bytes: int = 0, amplification: int = 0) -> Sequence[bytes]:
    """Packets of at most 512 bytes (RFC 3652 section 2.3.1).

    A longer message is cut into pieces, each behind its own envelope with the
    TC flag, the piece's sequence number and the whole message's length (how
    CNRI clients reassemble).  Only the first piece is sent, its TC flag then
    telling the client to ask again over TCP, past :data:`MAX_UDP_FRAGMENTS`
    pieces or, with ``amplification``, when all pieces together would exceed
    ``amplification`` times the ``request_bytes`` of the request's datagram.
    """
    msg = outcome.message
    if len(msg) <= UDP_DATA_BYTES:
        return [_response_envelope(outcome.envelope, len(msg)) + msg]
    pieces = [msg[i:i + UDP_DATA_BYTES] for i in range(0, len(msg), UDP_DATA_BYTES)]
    total = len(msg) + ENVELOPE_SIZE * len(pieces)
    if len(pieces) > MAX_UDP_FRAGMENTS or (amplification and total > amplification * request_bytes):
        pieces = pieces[:1]
    return [_response_envelope(outcome.envelope, len(msg), ENV_TRUNCATED, seq) + piece
            for seq, piece in enumerate(pieces)]


def use_tcp_frame(env: Envelope) -> bytes:
    """The short answer to a request over the UDP rate limit: rc 3 with the TC flag.

    Built from the envelope alone (the request is not even decoded).  The TC
    flag sends our client and CNRI's to TCP; the whole message is in this one
    datagram, so a client that reads it anyway sees "server too busy".
    """
    message = error(env, None, RC_SERVER_TOO_BUSY, USE_TCP).message
    return _response_envelope(env, len(message), ENV_TRUNCATED) + message
