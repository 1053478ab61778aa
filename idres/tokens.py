"""Short-lived bearer tokens for the PACT API (OAuth2 client credentials), never stored.

A client authenticates with its Handle credentials (``client_id`` =
``300:0.NA/88.118.8``, ``client_secret`` = that HS_SECKEY's secret, checked
by :func:`idres.auth.authenticate`) and gets a token::

    v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "v1." + claims))>

The claims name the identity (``sub``), the node (``aud``, its prefix), the
issue and expiry times, and a fingerprint of the HS_SECKEY hash the secret
matched (``kfp``).  Nothing is written to the database: a token is checked by
its MAC, its expiry, its audience, and by the fingerprint still matching an
HS_SECKEY of that handle, so replacing or removing the key revokes its tokens.

The MAC key is derived from the node's ledger signing key (HMAC-SHA256 of a
fixed label under the private key), so it is kept exactly like that key
(``IDRES_LEDGER_KEY`` or a 0600 file, never in the database) and differs
from node to node.  Rotating the ledger key invalidates every token.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from idres.auth import Identity
from idres.errors import HandleError
from idres.handles import fold, parse_handle
from idres.storage import records
from idres.storage.engine import Session

VERSION = "v1"
LIFETIME = 900            # seconds: PACT recommends expiring tokens; clients fetch new ones
_LABEL = b"idres PACT access token MAC key v1"


class TokenRejected(HandleError):
    """A bearer token that is malformed, forged, for another node, or revoked (PACT AccessDenied)."""

    rc, status, default_message = 402, 403, "Access denied"


class TokenExpired(TokenRejected):
    """A genuine token past its expiry (PACT TokenExpired)."""

    status, default_message = 401, "The specified access token has expired"


def mac_key(ledger_private_key: str) -> bytes:
    """The token MAC key of a node, derived from its ledger signing key."""
    return hmac.new(ledger_private_key.encode("ascii"), _LABEL, hashlib.sha256).digest()


def key_fingerprint(stored_hash: str) -> str:
    """A short public fingerprint of a stored HS_SECKEY hash (not of the secret)."""
    return hashlib.sha256(stored_hash.encode("utf-8")).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, signed: str) -> str:
    return _b64(hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest())


@dataclass(frozen=True)
class Issued:
    token: str
    expires_in: int


def issue(s: Session, key: bytes, audience: str, who: Identity, now: float | None = None,
          lifetime: int = LIFETIME) -> Issued:
    """A token for an identity that has just authenticated with its secret."""
    stored = _seckey(s, who)
    if stored is None:
        raise TokenRejected(f"{who.name} has no HS_SECKEY to issue a token for", field="client_id")
    at = int(time.time() if now is None else now)
    claims = {"sub": who.name, "aud": fold(audience), "iat": at, "exp": at + lifetime,
              "kfp": key_fingerprint(stored)}
    signed = f"{VERSION}.{_b64(json.dumps(claims, separators=(',', ':'), sort_keys=True).encode())}"
    return Issued(f"{signed}.{_mac(key, signed)}", lifetime)


def _seckey(s: Session, who: Identity) -> str | None:
    """The stored hash of the HS_SECKEY value the identity authenticated with."""
    # Read on every bearer request: the keys alone, as authentication reads them.
    keys = records.secret_keys(s, who.handle.key) if who.handle is not None else []
    return next((str(data) for index, data in keys if index == who.index), None)


def _claims(key: bytes, token: str) -> dict[str, Any]:
    """The claims of a token whose MAC checks; :class:`TokenRejected` otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise TokenRejected("Malformed access token", field="Authorization")
    signed = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_mac(key, signed), parts[2]):
        raise TokenRejected("Access token not issued by this node or altered", field="Authorization")
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TokenRejected("Malformed access token", field="Authorization") from None
    if not isinstance(claims, dict):
        raise TokenRejected("Malformed access token", field="Authorization")
    return claims


def verify(s: Session, key: bytes, audience: str, token: str, now: float | None = None) -> Identity:
    """The identity a bearer token stands for; raises :class:`TokenRejected` or :class:`TokenExpired`."""
    claims = _claims(key, token)
    if claims.get("aud") != fold(audience):
        raise TokenRejected("Access token issued for another node", field="Authorization")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= (time.time() if now is None else now):
        raise TokenExpired(field="Authorization")
    index, _, handle = str(claims.get("sub", "")).partition(":")
    who = Identity(int(index), parse_handle(handle)) if index.isdigit() else None
    stored = _seckey(s, who) if who is not None else None
    if stored is None or key_fingerprint(stored) != claims.get("kfp"):
        raise TokenRejected("The credentials this token was issued for have changed", field="Authorization")
    return who
