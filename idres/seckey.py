"""Salted hashes of HS_SECKEY secrets: the node never stores a secret in plain text."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections import OrderedDict

SCHEME = "scrypt"
# scrypt cost: about 20 ms and 16 MiB per check on one core.
N, R, P = 2**14, 8, 1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_secret(secret: str) -> str:
    """Return ``scrypt$N$r$p$salt$hash`` for a secret."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def is_hashed(text: str) -> bool:
    """True when ``text`` already is a hash in this module's format."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return False
    try:
        return all(int(x) > 0 for x in parts[1:4]) and len(base64.b64decode(parts[5], validate=True)) == 32
    except ValueError:
        return False


# Clients send Basic credentials with every write; paying scrypt each time
# would cap a node at ~50 writes/s per core.  Successful checks are remembered
# in this process only, as an HMAC under a random per-process key (never the
# secret).  Failures are not remembered, so guessing stays as slow as scrypt.
_PROCESS_KEY = os.urandom(32)
_VERIFIED: OrderedDict[bytes, None] = OrderedDict()
_VERIFIED_MAX = 4096
_lock = threading.Lock()


def _tag(secret: str, stored: str) -> bytes:
    # hmac.digest: OpenSSL's one-shot HMAC, without hmac.new's Python object.
    return hmac.digest(_PROCESS_KEY, stored.encode("utf-8") + b"\0" + secret.encode("utf-8"),
                       "sha256")


def verify_secret(secret: str, stored: str) -> bool:
    """Check a presented secret against a stored hash in constant time."""
    tag = _tag(secret, stored)
    with _lock:
        # A remembered tag is this very stored hash, already checked by scrypt:
        # it passed is_hashed then, so that parse need not be repeated.
        if tag in _VERIFIED:
            _VERIFIED.move_to_end(tag)
            return True
    if not is_hashed(stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(secret.encode("utf-8"), salt=base64.b64decode(salt),
                               n=int(n), r=int(r), p=int(p), dklen=32)
    ok = hmac.compare_digest(candidate, base64.b64decode(digest))
    if ok:
        with _lock:
            _VERIFIED[tag] = None
            if len(_VERIFIED) > _VERIFIED_MAX:
                _VERIFIED.popitem(last=False)
    return ok
