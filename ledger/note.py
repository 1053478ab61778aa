"""C2SP signed notes with Ed25519 keys, and C2SP tlog checkpoints.

A signed note is a UTF-8 text ending in a newline, one blank line, then one
or more signature lines ``— <key name> <base64(4-byte key id || signature)>``
(the dash is U+2014). Key strings use the Go ``golang.org/x/mod/sumdb/note``
layout, so keys and notes interoperate with Go tooling and witnesses:

* verifier key: ``<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>``
* private key: ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>``

with key id = SHA-256(name || 0x0A || 0x01 || public key)[:4].

A checkpoint is a note whose text is ``<origin>\\n<size>\\n<base64 root>\\n``
optionally followed by extension lines (c2sp.org/tlog-checkpoint).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.merkle import HASH_SIZE, VerificationError

ALG_ED25519 = 0x01
SIGNATURE_DASH = "\u2014"  # em dash, easily confused with "-" in terminals
MAX_SIGNATURES = 100  # C2SP: verifiers must accept at least 16
MAX_TREE_SIZE = 2**64 - 1  # tree sizes are uint64 in every deployed log
_ED25519_SIGNATURE_SIZE = 64
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteError(Exception):
    """Base class for every signed-note and checkpoint error."""


class NoteFormatError(NoteError, ValueError):
    """A note, key string or checkpoint body is malformed."""


class NoteVerificationError(NoteError, VerificationError):
    """A note's signatures do not establish that a trusted key signed it."""


def _b64decode(value: str, what: str) -> bytes:
    # Only canonical standard base64 is accepted, so every byte string has one
    # spelling and a note cannot be altered without breaking its encoding.
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise NoteFormatError(f"{what} is not valid base64: {err}") from None
    if base64.b64encode(decoded).decode() != value:
        raise NoteFormatError(f"{what} is not canonical base64")
    return decoded


def _check_no_controls(text: str, what: str) -> None:
    for ch in text:
        if ch < " " and ch != "\n":
            raise NoteFormatError(f"{what} contains control character U+{ord(ch):04X}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteFormatError(f"{what} is not valid UTF-8 (lone surrogate)") from None


def check_key_name(name: str) -> None:
    """Raise :class:`NoteFormatError` unless ``name`` is a valid C2SP key name."""
    if not name:
        raise NoteFormatError("key name is empty")
    if "+" in name:
        raise NoteFormatError(f"key name {name!r} contains '+'")
    if any(ch.isspace() or ch < " " for ch in name):
        raise NoteFormatError(f"key name {name!r} contains whitespace or a control character")
    _check_no_controls(name, "key name")


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte C2SP key id: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _parse_key_fields(name: str, id_hex: str, key_b64: str, what: str) -> tuple[bytes, bytes]:
    """Validate name, key id and ``base64(0x01 || 32 bytes)``; return (key id, 32 key bytes)."""
    check_key_name(name)
    if not _KEY_ID_HEX.fullmatch(id_hex):
        raise NoteFormatError(f"{what} key id {id_hex!r} is not 8 hex digits")
    raw = _b64decode(key_b64, f"{what} key material")
    if len(raw) != 33:
        raise NoteFormatError(f"{what} key material is {len(raw)} bytes, expected 33")
    if raw[0] != ALG_ED25519:
        raise NoteFormatError(
            f"{what} uses algorithm 0x{raw[0]:02x}, only Ed25519 (0x01) is supported"
        )
    return bytes.fromhex(id_hex), raw[1:]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteFormatError("note text must end with a newline")
    _check_no_controls(text, "note text")


def _encode_key(name: str, kid: bytes, material: bytes) -> str:
    """``<name>+<hex key id>+<base64(0x01 || material)>``, shared by both key strings."""
    return f"{name}+{kid.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + material).decode()}"


def _raw_public_key(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Verifier:
    """An Ed25519 public key with its C2SP name, built from a verifier key string."""

    def __init__(self, verifier_key: str) -> None:
        """Parse ``<name>+<hex key id>+<base64(0x01 || public key)>``."""
        parts = verifier_key.split("+", 2)  # base64 may contain '+', names may not
        if len(parts) != 3:
            raise NoteFormatError("verifier key must look like <name>+<key id>+<base64 key>")
        name, id_hex, key_b64 = parts
        kid, public = _parse_key_fields(name, id_hex, key_b64, "verifier")
        if key_id(name, public) != kid:
            raise NoteFormatError(f"verifier key id {id_hex} does not match the key and name")
        self.name = name
        self.key_id = kid
        self.public_key = public
        try:
            self._key = Ed25519PublicKey.from_public_bytes(public)
        except ValueError as err:
            raise NoteFormatError(f"verifier key is not a valid Ed25519 key: {err}") from None

    @property
    def verifier_key(self) -> str:
        """The verifier key string this verifier was (or could have been) built from."""
        return _encode_key(self.name, self.key_id, self.public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this key's Ed25519 signature of ``text``."""
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, text)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Verifier({self.verifier_key!r})"


class Signer:
    """An Ed25519 private key with its C2SP name, from a private key string."""

    def __init__(self, private_key: str) -> None:
        """Parse ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>``."""
        parts = private_key.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteFormatError(
                "private key must look like PRIVATE+KEY+<name>+<key id>+<base64 seed>"
            )
        name, id_hex, seed_b64 = parts[2:]
        kid, seed = _parse_key_fields(name, id_hex, seed_b64, "private")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._seed = seed
        public = _raw_public_key(self._key)
        if key_id(name, public) != kid:
            raise NoteFormatError(f"private key id {id_hex} does not match the key and name")
        self.name = name
        self.key_id = kid
        self.verifier_key = _encode_key(name, kid, public)

    @classmethod
    def generate(cls, name: str) -> Signer:
        """Create a signer with a fresh random Ed25519 key."""
        check_key_name(name)
        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls("PRIVATE+KEY+" + _encode_key(name, key_id(name, _raw_public_key(key)), seed))

    @property
    def private_key(self) -> str:
        """The private key string, for storing the key; keep it secret."""
        return "PRIVATE+KEY+" + _encode_key(self.name, self.key_id, self._seed)

    def verifier(self) -> Verifier:
        """The matching :class:`Verifier`."""
        return Verifier(self.verifier_key)

    def signature_line(self, text: str) -> str:
        """One ``— <name> <base64>`` line signing ``text`` (for adding to an existing note)."""
        _check_text(text)
        signature = base64.b64encode(self.key_id + self._key.sign(text.encode("utf-8")))
        return f"{SIGNATURE_DASH} {self.name} {signature.decode()}\n"

    def sign(self, text: str) -> str:
        """Return the signed note: ``text``, a blank line, and this key's signature line.

        ``text`` must end with a newline and contain no control characters
        other than newlines. Empty lines inside it are allowed (C2SP splits
        at the last blank line).
        """
        return text + "\n" + self.signature_line(text)

    def __repr__(self) -> str:  # never print the seed
        return f"Signer(name={self.name!r}, key_id={self.key_id.hex()!r})"


@dataclass(frozen=True)
class NoteSignature:
    """One parsed, not yet verified, signature line."""

    name: str
    key_id: bytes
    signature: bytes


def _parse_signature_line(line: str) -> NoteSignature:
    prefix = SIGNATURE_DASH + " "
    if not line.startswith(prefix):
        raise NoteFormatError(f"signature line {line!r} does not start with em dash and space")
    name, sep, encoded = line[len(prefix):].partition(" ")
    if not sep:
        raise NoteFormatError(f"signature line {line!r} has no space after the key name")
    check_key_name(name)
    raw = _b64decode(encoded, f"signature by {name}")
    if len(raw) < 5:
        raise NoteFormatError(f"signature by {name} is {len(raw)} bytes, too short")
    return NoteSignature(name, raw[:4], raw[4:])


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signatures, checking syntax only."""
    _check_no_controls(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteFormatError("note has no blank line before its signatures")
    text, block = note[:split + 1], note[split + 2:]
    if not block.endswith("\n"):
        raise NoteFormatError("note has no signature lines, or its last line lacks a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return text, [_parse_signature_line(line) for line in lines]


def open_note(note: str, verifiers: Iterable[Verifier]) -> str:
    """Verify ``note`` against trusted ``verifiers`` and return its text.

    Signatures whose (name, key id) matches no verifier are ignored, as C2SP
    requires (they may be witnesses or rotated keys). A known key's signature
    that fails rejects the whole note; so does a note with no valid signature
    from a known key.
    """
    text, signatures = parse_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = 0
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verify(text.encode("utf-8"), sig.signature):
            raise NoteVerificationError(
                f"signature by known key {sig.name}+{sig.key_id.hex()} does not verify"
            )
        verified += 1
    if not verified:
        seen = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in signatures)
        raise NoteVerificationError(f"note has no signature by a known key (signed by: {seen})")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint body: origin, tree size, root hash and opaque extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        labelled = [("origin", self.origin), *(("extension line", e) for e in self.extensions)]
        for what, line in labelled:
            if not line or "\n" in line:
                raise NoteFormatError(f"checkpoint {what} {line!r} must be one non-empty line")
            _check_no_controls(line, f"checkpoint {what}")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteFormatError(f"checkpoint size {self.size!r} is not a uint64")
        if len(self.root) != HASH_SIZE:
            raise NoteFormatError(
                f"checkpoint root is {len(self.root)} bytes, expected {HASH_SIZE}"
            )

    def body(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` plus any extension lines."""
        root = base64.b64encode(self.root).decode()
        return "\n".join([self.origin, str(self.size), root, *self.extensions]) + "\n"


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint note text strictly (C2SP tlog-checkpoint)."""
    if not body.endswith("\n"):
        raise NoteFormatError("checkpoint must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteFormatError(f"checkpoint has {len(lines)} lines, needs origin, size and root")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text):
        raise NoteFormatError(
            f"checkpoint size {size_text!r} is not a decimal without leading zeros"
        )
    root = _b64decode(root_text, "checkpoint root")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def open_checkpoint(
    note: str, verifiers: Iterable[Verifier], origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and parse it; if ``origin`` is given, it must match."""
    checkpoint = parse_checkpoint(open_note(note, verifiers))
    if origin is not None and checkpoint.origin != origin:
        raise NoteVerificationError(
            f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r}"
        )
    return checkpoint
