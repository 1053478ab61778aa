"""Tests for ledger.note: C2SP signed notes (Ed25519) and tlog checkpoints."""
from __future__ import annotations

import base64
import hashlib
from typing import Callable

import pytest

from ledger.merkle import VerificationError
from ledger.note import (
    Checkpoint,
    NoteError,
    NoteFormatError,
    NoteVerificationError,
    Signer,
    Verifier,
    check_key_name,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_note,
)

# Test vector from REFERENCE.md section 5 (originally golang.org/x/mod/sumdb/note).
PRIVATE = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
NOTE = TEXT + "\n\u2014 PeterNeumann " + SIGNATURE + "\n"
ROOT = hashlib.sha256(b"root").digest()


def _resign(note: str, transform: Callable[[bytes], bytes]) -> str:
    """Replace the signature bytes of a single-signature note by transform(bytes)."""
    head, _, encoded = note.rstrip("\n").rpartition(" ")
    raw = transform(base64.b64decode(encoded))
    return f"{head} {base64.b64encode(raw).decode()}\n"


# --- the reference vector -----------------------------------------------------


def test_reference_signature_is_reproduced() -> None:
    signer = Signer(PRIVATE)
    assert signer.sign(TEXT) == NOTE
    assert signer.verifier_key == VERIFIER
    assert signer.private_key == PRIVATE
    assert signer.key_id == bytes.fromhex("c74f20a3")


def test_reference_note_opens() -> None:
    assert open_note(NOTE, [Verifier(VERIFIER)]) == TEXT


def test_reference_key_id() -> None:
    verifier = Verifier(VERIFIER)
    assert verifier.name == "PeterNeumann"
    assert key_id("PeterNeumann", verifier.public_key).hex() == "c74f20a3"
    assert verifier.verifier_key == VERIFIER
    assert repr(verifier) == f"Verifier({VERIFIER!r})"


# --- round trips ----------------------------------------------------------------


def test_generated_key_round_trip() -> None:
    signer = Signer.generate("example.com/log")
    again = Signer(signer.private_key)
    assert again.verifier_key == signer.verifier_key
    assert signer.verifier().verifier_key == signer.verifier_key
    note = signer.sign("hello\n")
    assert open_note(note, [Verifier(signer.verifier_key)]) == "hello\n"
    assert signer.private_key.split("+", 4)[4] not in repr(signer)


@pytest.mark.parametrize("text", ["\n", "a\n\nb\n", "x\n\n\n", "ünïcødé — ok\n", "a\n" * 1000])
def test_texts_with_blank_lines_and_unicode_round_trip(text: str) -> None:
    signer = Signer.generate("n")
    assert open_note(signer.sign(text), [signer.verifier()]) == text


def test_several_signatures_and_unknown_keys_ignored() -> None:
    log, witness, stranger = (Signer.generate(n) for n in ("log", "witness", "stranger"))
    note = log.sign(TEXT) + witness.signature_line(TEXT) + stranger.signature_line(TEXT)
    assert open_note(note, [log.verifier()]) == TEXT
    assert open_note(note, [witness.verifier(), log.verifier()]) == TEXT
    text, signatures = parse_note(note)
    assert text == TEXT
    assert [s.name for s in signatures] == ["log", "witness", "stranger"]


def test_unknown_garbage_signature_is_ignored() -> None:
    # Signatures by unknown keys are not even checked (C2SP: MUST ignore).
    junk = base64.b64encode(b"\0\0\0\0" + b"x" * 10).decode()
    note = NOTE + f"\u2014 someone.else {junk}\n"
    assert open_note(note, [Verifier(VERIFIER)]) == TEXT


# --- rejected notes -------------------------------------------------------------


def test_tampered_body_rejected() -> None:
    with pytest.raises(NoteVerificationError, match="does not verify"):
        open_note(NOTE.replace("cryptography", "cryptographY"), [Verifier(VERIFIER)])


@pytest.mark.parametrize("position", [0, 3, 4, 30, 67])
def test_tampered_signature_rejected(position: int) -> None:
    def flip(raw: bytes) -> bytes:
        return raw[:position] + bytes([raw[position] ^ 1]) + raw[position + 1:]

    # Flipping a key id byte makes it an unknown key; a signature byte, a bad one.
    with pytest.raises(NoteVerificationError):
        open_note(_resign(NOTE, flip), [Verifier(VERIFIER)])


def test_signature_of_wrong_length_rejected() -> None:
    with pytest.raises(NoteVerificationError, match="does not verify"):
        open_note(_resign(NOTE, lambda raw: raw[:-1]), [Verifier(VERIFIER)])


def test_wrong_key_rejected() -> None:
    other = Signer.generate("PeterNeumann")  # same name, different key and key id
    with pytest.raises(NoteVerificationError, match="no signature by a known key"):
        open_note(NOTE, [other.verifier()])
    with pytest.raises(NoteVerificationError, match=r"PeterNeumann\+c74f20a3"):
        open_note(NOTE, [])


def test_bad_known_signature_rejects_whole_note() -> None:
    log = Signer.generate("log")
    forged = _resign(NOTE, lambda raw: raw[:4] + bytes(64))
    note = forged + log.signature_line(TEXT)
    with pytest.raises(NoteVerificationError, match="PeterNeumann"):
        open_note(note, [Verifier(VERIFIER), log.verifier()])


def test_every_truncation_rejected() -> None:
    verifiers = [Verifier(VERIFIER)]
    for cut in range(len(NOTE)):
        with pytest.raises(NoteError):
            open_note(NOTE[:cut], verifiers)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (TEXT + "\u2014 PeterNeumann " + SIGNATURE + "\n", "no blank line"),
        (TEXT + "\n", "no signature lines"),
        (NOTE.rstrip("\n"), "no signature lines"),
        (NOTE + "\n", "no signature lines"),
        (NOTE.replace("\u2014", "-"), "em dash"),
        (NOTE.replace("\u2014 ", "\u2014"), "em dash"),
        (NOTE.replace("PeterNeumann ", "PeterNeumann"), "no space"),
        (NOTE.replace("PeterNeumann ", "PeterNeumann  "), "not valid base64"),
        (NOTE.replace("=\n", "\n"), "not valid base64"),
        (NOTE.replace("AM=", "AN="), "not canonical"),
        (NOTE.replace("cryptography", "crypto\tgraphy"), "control character"),
        (NOTE.replace("PeterNeumann ", "Peter+Neumann "), r"contains '\+'"),
        (NOTE.replace("PeterNeumann ", "Peter\u2003Neumann "), "whitespace"),
        (TEXT + "\n\u2014 x AAAA\n", "too short"),
        (NOTE + ("\u2014 x " + SIGNATURE + "\n") * 100, "more than 100"),
    ],
)
def test_malformed_notes_rejected(note: str, message: str) -> None:
    with pytest.raises(NoteFormatError, match=message):
        open_note(note, [Verifier(VERIFIER)])


def test_sign_rejects_bad_text() -> None:
    signer = Signer(PRIVATE)
    with pytest.raises(NoteFormatError, match="end with a newline"):
        signer.sign("no newline")
    with pytest.raises(NoteFormatError, match="control character"):
        signer.sign("bell\a\n")
    with pytest.raises(NoteFormatError, match="UTF-8"):
        signer.sign("surrogate \udc80\n")


# --- key strings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must look like"),
        ("PeterNeumann+c74f20a3", "must look like"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "empty"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "whitespace"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        ("PeterNeumann+c74f20g3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        ("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm 0x02"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10Q=", "expected 33"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=", "base64"),
        ("peterneumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
    ],
)
def test_bad_verifier_keys(key: str, message: str) -> None:
    with pytest.raises(NoteFormatError, match=message):
        Verifier(key)


def test_uppercase_key_id_is_accepted_like_go() -> None:
    assert Verifier(VERIFIER.replace("c74f20a3", "C74F20A3")).verifier_key == VERIFIER


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (VERIFIER, "must look like"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3", "must look like"),
        ("private+key+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "must look like"),
        ("PRIVATE+KEY+PeterNeumann+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "does not match"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "algorithm 0x02"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKA==", "expected 33"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDF", "base64"),
        ("PRIVATE+KEY+Peter\nNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "whitespace"),
    ],
)
def test_bad_private_keys(key: str, message: str) -> None:
    with pytest.raises(NoteFormatError, match=message):
        Signer(key)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\nb", "tab\there", "nbsp\u00a0x", "ctl\x01"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(NoteFormatError):
        check_key_name(name)
    with pytest.raises(NoteFormatError):
        Signer.generate(name)


def test_error_hierarchy() -> None:
    assert issubclass(NoteVerificationError, VerificationError)
    assert issubclass(NoteVerificationError, NoteError)
    assert issubclass(NoteFormatError, ValueError)


# --- checkpoints ----------------------------------------------------------------


def test_checkpoint_body_and_parse() -> None:
    cp = Checkpoint("example.com/log", 20852163, ROOT)
    body = cp.body()
    assert body == f"example.com/log\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    assert parse_checkpoint(body) == cp
    assert parse_checkpoint(Checkpoint("o", 0, ROOT).body()).size == 0


def test_checkpoint_extensions_are_kept() -> None:
    cp = Checkpoint("o", 5, ROOT, ("ext one", "ext two"))
    assert cp.body().endswith("\next one\next two\n")
    assert parse_checkpoint(cp.body()) == cp


def test_signed_checkpoint_round_trip() -> None:
    signer = Signer.generate("example.com/log")
    cp = Checkpoint("example.com/log", 42, ROOT)
    note = signer.sign(cp.body())
    assert open_checkpoint(note, [signer.verifier()]) == cp
    assert open_checkpoint(note, [signer.verifier()], origin="example.com/log") == cp
    with pytest.raises(NoteVerificationError, match="origin"):
        open_checkpoint(note, [signer.verifier()], origin="example.com/other")


ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"o\n1\n{ROOT64}", "end with a newline"),
        ("o\n1\n", "needs origin, size and root"),
        (f"o\n01\n{ROOT64}\n", "leading zeros"),
        (f"o\n-1\n{ROOT64}\n", "decimal"),
        (f"o\n+1\n{ROOT64}\n", "decimal"),
        (f"o\n 1\n{ROOT64}\n", "decimal"),
        (f"o\n1.0\n{ROOT64}\n", "decimal"),
        (f"o\n\u0661\n{ROOT64}\n", "decimal"),
        (f"o\n\n{ROOT64}\n", "decimal"),
        (f"o\n{2**64}\n{ROOT64}\n", "uint64"),
        (f"\n1\n{ROOT64}\n", "origin"),
        (f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
        ("o\n1\nnot base64!\n", "base64"),
        (f"o\n1\n{ROOT64}\n\n", "extension line"),
        (f"o\n1\n{ROOT64}\next\n\nmore\n", "extension line"),
        (f"o\x00\n1\n{ROOT64}\n", "control character"),
    ],
)
def test_bad_checkpoints(body: str, message: str) -> None:
    with pytest.raises(NoteFormatError, match=message):
        parse_checkpoint(body)


def test_checkpoint_constructor_validates() -> None:
    with pytest.raises(NoteFormatError, match="31 bytes"):
        Checkpoint("o", 1, ROOT[:31])
    with pytest.raises(NoteFormatError, match="uint64"):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(NoteFormatError, match="one non-empty line"):
        Checkpoint("o\nx", 1, ROOT)
    with pytest.raises(NoteFormatError, match="one non-empty line"):
        Checkpoint("o", 1, ROOT, ("",))
    assert parse_checkpoint(f"o\n{2**64 - 1}\n{ROOT64}\n").size == 2**64 - 1
