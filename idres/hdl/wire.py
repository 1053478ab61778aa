"""RFC 3652 framing: message envelope, message header, bodies, credential.

Every message on the wire is a 20-byte envelope followed by ``envelope.length``
bytes: a 24-byte header, ``header.body_length`` bytes of body and a
credential section (4-byte length, 0 here: idres neither signs nor asks for
signatures).  Integers are big-endian; strings are UTF-8 with a 4-byte length.
Layouts are cross-checked against CNRI's hdllib ``Encoder`` (handle.net 9).

Decoding never trusts a length: :class:`Reader` checks each one against what
is left of the buffer and raises one :class:`ProtocolError` naming the field.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace

ENVELOPE = struct.Struct(">BBHIIII")   # major, minor, flags, session, request, sequence, length
HEADER = struct.Struct(">IIIHBBII")    # opcode, rc, op flags, site serial, recursion, reserved,
#                                        expiration, body length
ENVELOPE_SIZE = ENVELOPE.size          # 20
HEADER_SIZE = HEADER.size              # 24
MAJOR_VERSION, MINOR_VERSION = 2, 1    # the layout of RFC 3652 (protocol 2.1)

# Envelope flags (the 16-bit MessageFlag; CNRI reads the top bits of its first byte).
ENV_COMPRESSED, ENV_ENCRYPTED, ENV_TRUNCATED = 0x8000, 0x4000, 0x2000

# Operation codes and response codes used here (RFC 3652 section 2.2.2).
OC_RESERVED, OC_RESOLUTION, OC_GET_SITE_INFO = 0, 1, 2
RC_SUCCESS, RC_ERROR, RC_SERVER_TOO_BUSY, RC_PROTOCOL_ERROR = 1, 2, 3, 4
RC_OPERATION_NOT_SUPPORTED, RC_RECURSION_COUNT_TOO_HIGH = 5, 6
RC_HANDLE_NOT_FOUND, RC_VALUES_NOT_FOUND, RC_SERVER_NOT_RESP = 100, 200, 301
RC_SERVICE_REFERRAL, RC_PREFIX_REFERRAL = 302, 303
REFERRAL_CODES = (RC_SERVICE_REFERRAL, RC_PREFIX_REFERRAL)

# Op flags (header), most significant bit first: AT CT ENC REC CA CN KC PO RD OVRW MINT DNRF.
FLAG_AT, FLAG_CT, FLAG_ENC, FLAG_REC = 0x80000000, 0x40000000, 0x20000000, 0x10000000
FLAG_CA, FLAG_CN, FLAG_KC, FLAG_PO = 0x08000000, 0x04000000, 0x02000000, 0x01000000
FLAG_RD, FLAG_OVRW, FLAG_MINT, FLAG_DNRF = 0x00800000, 0x00400000, 0x00200000, 0x00100000

# Request digest algorithms (1 byte before the digest in a response body).
DIGESTS = {1: ("md5", 16), 2: ("sha1", 20), 3: ("sha256", 32)}
DIGEST_SHA1 = 2


class ProtocolError(ValueError):
    """A message that does not follow RFC 3652; the text says which field and why."""


@dataclass(frozen=True)
class Envelope:
    """The 20-byte message envelope."""

    major: int = MAJOR_VERSION
    minor: int = MINOR_VERSION
    flags: int = 0
    session_id: int = 0
    request_id: int = 0
    sequence: int = 0
    length: int = 0

    @property
    def truncated(self) -> bool:
        return bool(self.flags & ENV_TRUNCATED)

    def pack(self) -> bytes:
        return ENVELOPE.pack(self.major, self.minor, self.flags, self.session_id,
                             self.request_id, self.sequence, self.length)


def decode_envelope(data: bytes) -> Envelope:
    """The envelope at the start of ``data`` (at least 20 bytes)."""
    if len(data) < ENVELOPE_SIZE:
        raise ProtocolError(f"envelope: needs {ENVELOPE_SIZE} bytes, got {len(data)}")
    return Envelope(*ENVELOPE.unpack_from(data))


@dataclass(frozen=True)
class Header:
    """The 24-byte message header."""

    opcode: int
    rc: int = 0
    flags: int = 0
    serial: int = 0
    recursion: int = 0
    expiration: int = 0
    body_length: int = 0

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


@dataclass(frozen=True)
class Message:
    """Header, body and credential of one message (everything after the envelope)."""

    header: Header
    body: bytes
    credential: bytes = b""

    def pack(self) -> bytes:
        """Header (with the body length filled in), body, credential."""
        header = replace(self.header, body_length=len(self.body))
        return (HEADER.pack(header.opcode, header.rc, header.flags, header.serial,
                            header.recursion, 0, header.expiration, header.body_length)
                + self.body + struct.pack(">I", len(self.credential)) + self.credential)

    def digest(self, algorithm: int = DIGEST_SHA1) -> bytes:
        """The request digest a response carries when asked (RD): over header and body."""
        name, _ = DIGESTS[algorithm]
        return hashlib.new(name, self.pack()[:HEADER_SIZE + len(self.body)]).digest()


def decode_message(data: bytes) -> Message:
    """Header, body and credential; ``data`` is exactly the envelope's ``length`` bytes."""
    if len(data) < HEADER_SIZE:
        raise ProtocolError(f"message header: needs {HEADER_SIZE} bytes, the message has {len(data)}")
    opcode, rc, flags, serial, recursion, _, expiration, body_length = HEADER.unpack_from(data)
    header = Header(opcode, rc, flags, serial, recursion, expiration, body_length)
    rest = Reader(data[HEADER_SIZE:], "message")
    body = rest.take(body_length, "header body length")
    credential = b""
    if rest.left:  # optional: CNRI reads it only "if there is room for one"
        credential = rest.bytes_field("credential")
    rest.finish()
    return Message(header, body, credential)


class Reader:
    """Bounded reads over a buffer; every length is checked before it is used."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, field: str) -> bytes:
        if n < 0 or n > self.left:
            raise ProtocolError(f"{self.what}: {field} is {n} bytes at offset {self.pos}, "
                                f"only {self.left} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u16(self, field: str) -> int:
        return struct.unpack(">H", self.take(2, field))[0]

    def u32(self, field: str) -> int:
        return struct.unpack(">I", self.take(4, field))[0]

    def bytes_field(self, field: str) -> bytes:
        """A 4-byte length, then that many bytes."""
        return self.take(self.u32(f"{field} length"), field)

    def string(self, field: str) -> str:
        raw = self.bytes_field(field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProtocolError(f"{self.what}: {field} is not UTF-8 ({err.reason} at byte "
                                f"{err.start})") from None

    def count(self, field: str, min_item: int) -> int:
        """A 4-byte item count that the rest of the buffer can actually hold."""
        n = self.u32(field)
        if n * min_item > self.left:
            raise ProtocolError(f"{self.what}: {field} says {n} items of at least {min_item} "
                                f"bytes, only {self.left} bytes left")
        return n

    def finish(self) -> None:
        if self.left:
            raise ProtocolError(f"{self.what}: {self.left} unexpected bytes after the last field")


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def bytes_field(raw: bytes) -> bytes:
    return u32(len(raw)) + raw


def string(text: str) -> bytes:
    return bytes_field(text.encode("utf-8"))


# --------------------------------------------------------------------------- bodies

@dataclass(frozen=True)
class ResolutionRequest:
    """Body of an OC_RESOLUTION request: a handle, an index list and a type list."""

    handle: str
    indexes: tuple[int, ...] = ()
    types: tuple[str, ...] = ()

    def pack(self) -> bytes:
        return (string(self.handle) + u32(len(self.indexes))
                + b"".join(struct.pack(">I", i) for i in self.indexes)
                + u32(len(self.types)) + b"".join(string(t) for t in self.types))


def decode_resolution_request(body: bytes) -> ResolutionRequest:
    r = Reader(body, "resolution request")
    handle = r.string("handle")
    indexes = tuple(r.u32("index") for _ in range(r.count("index list count", 4)))
    types = tuple(r.string("type") for _ in range(r.count("type list count", 4)))
    r.finish()
    return ResolutionRequest(handle, indexes, types)


def digest_prefix(digest: tuple[int, bytes] | None) -> bytes:
    """The RequestDigest that starts a response body when the request set RD."""
    return b"" if digest is None else bytes([digest[0]]) + digest[1]


def read_digest(r: Reader, header: Header) -> tuple[int, bytes] | None:
    """Skip (and return) the request digest a response carries when its RD flag is set."""
    if not header.has(FLAG_RD):
        return None
    algorithm = r.u8("request digest algorithm")
    if algorithm not in DIGESTS:
        raise ProtocolError(f"{r.what}: unknown request digest algorithm {algorithm}")
    return algorithm, r.take(DIGESTS[algorithm][1], "request digest")


def error_body(message: str, digest: tuple[int, bytes] | None = None) -> bytes:
    """An error response body: the digest if asked for, then the message."""
    return digest_prefix(digest) + string(message)


def decode_error_body(header: Header, body: bytes) -> str:
    r = Reader(body, "error response")
    read_digest(r, header)
    message = r.string("error message") if r.left else ""
    # RFC 3652 allows a trailing index list naming the values at fault: ignored.
    return message
