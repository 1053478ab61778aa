"""Salted secret hashes."""
from __future__ import annotations

from idres.seckey import hash_secret, is_hashed, verify_secret


def test_hash_is_salted_and_verifies() -> None:
    a, b = hash_secret("s3cret-key"), hash_secret("s3cret-key")
    assert a != b and "s3cret-key" not in a
    assert is_hashed(a) and verify_secret("s3cret-key", a) and verify_secret("s3cret-key", b)


def test_wrong_and_malformed() -> None:
    stored = hash_secret("right-secret")
    assert not verify_secret("wrong-secret", stored)
    tampered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    assert not verify_secret("right-secret", tampered)
    for junk in ("", "plain", "scrypt$1$1$1$x$y", "scrypt$a$b$c$d$e"):
        assert not is_hashed(junk) and not verify_secret("plain", junk)


def test_remembered_success_does_not_leak_to_other_secrets_or_hashes() -> None:
    stored = hash_secret("remembered-secret")
    assert verify_secret("remembered-secret", stored)
    assert verify_secret("remembered-secret", stored)  # from the in-process cache
    assert not verify_secret("remembered-secreT", stored)
    rotated = hash_secret("another-secret")
    assert not verify_secret("remembered-secret", rotated)
