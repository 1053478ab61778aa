"""Authentication (HTTP Basic against HS_SECKEY hashes) and authorization.

Authorization follows the Handle System: a caller may change a handle when
an HS_ADMIN value of that handle (directly, or through an HS_VLIST group)
names the caller with the needed permission bit, or when the caller is an
administrator of the handle's prefix record (CNRI's ``allow_na_admins``).
On top of that idres enforces a hard boundary: a key whose home is one
prefix can never write under another.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote

from idres import seckey
from idres.errors import AuthenticationNeeded, HandleError, InvalidCredentials, NotAuthorized
from idres.handles import Handle, fold, parse_handle
from idres.storage import records
from idres.storage.engine import Session
from idres.values import HandleValue, admin_permissions

VLIST_DEPTH = 3


@dataclass(frozen=True)
class Identity:
    """Who is calling: ``index:handle``, or the local operator (CLI)."""

    index: int
    handle: Handle | None
    operator: bool = False

    @property
    def name(self) -> str:
        return "local-operator" if self.operator else f"{self.index}:{self.handle.text}"

    @property
    def home_prefix(self) -> str:
        """The prefix this key belongs to: ``88.118.8`` for ``300:0.NA/88.118.8``."""
        assert self.handle is not None
        return self.handle.suffix if self.handle.is_prefix_record else self.handle.prefix


OPERATOR = Identity(0, None, operator=True)


def parse_basic(header: str) -> tuple[int, Handle, str]:
    """Split a Basic ``Authorization`` header into ``(index, handle, password)``.

    The username is ``index:handle``.  Clients percent-encode it
    (``300%3A0.NA/88.118.8:secret``); when they do not
    (``300:0.NA/88.118.8:secret``) the handle ends at the next ``:``, since
    RFC 7617 lets the password, not the user-id, contain colons.
    """
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise InvalidCredentials("Only HTTP Basic authentication is supported", field="Authorization")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCredentials("Malformed Basic credentials", field="Authorization") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise InvalidCredentials("Username must be index:handle", field="Authorization")
    index_text, sep2, handle_text = unquote(username).partition(":")
    if not sep2:
        # Not percent-encoded: the first ':' ended the index, the handle follows.
        handle_text, sep2, password = password.partition(":")
        handle_text = unquote(handle_text)
    if not sep2 or not (index_text.isascii() and index_text.isdigit()):
        raise InvalidCredentials("Username must be index:handle", field="Authorization")
    try:
        handle = parse_handle(handle_text)
    except HandleError:
        raise InvalidCredentials("Username must be index:handle", field="Authorization") from None
    return int(index_text), handle, password


def authenticate(s: Session, header: str) -> Identity:
    """Check Basic credentials against the named handle's HS_SECKEY values.

    Index 0 means any HS_SECKEY of the handle; the identity then carries the
    index of the key that matched.
    """
    index, handle, password = parse_basic(header)
    # Read on every request (no cache of keys): a rotated or deleted key counts at once.
    keys = [(i, data) for i, data in records.secret_keys(s, handle.key) if index in (0, i)]
    matched = next((i for i, data in keys if seckey.verify_secret(password, str(data))), None)
    if matched is None:
        raise InvalidCredentials("Invalid credentials", field="Authorization")
    return Identity(matched, handle)


def _names(s: Session, ref: dict, who: Identity, depth: int) -> bool:
    """Does an admin reference ``{handle, index}`` name ``who``?"""
    if fold(ref["handle"]) == who.handle.key and ref["index"] in (0, who.index):
        return True
    if depth >= VLIST_DEPTH:
        return False
    group = records.load_record(s, fold(ref["handle"]))
    if group is None:
        return False
    return any(v.type == "HS_VLIST" and v.index == ref["index"] and isinstance(v.value, list)
               and any(_names(s, member, who, depth + 1) for member in v.value)
               for v in group.values)


def granted(s: Session, admin_values: list[HandleValue], who: Identity) -> set[str]:
    """The permissions the HS_ADMIN values of a record grant to ``who``."""
    perms: set[str] = set()
    for value in admin_values:
        if value.is_admin and isinstance(value.value, dict) and _names(s, value.value, who, 0):
            perms |= admin_permissions(value)
    return perms


def require(perms: set[str], needed: set[str], who: Identity, handle: str) -> None:
    """Raise rc 400 / HTTP 403 unless every needed permission is present."""
    if who.operator:
        return
    missing = needed - perms
    if missing:
        raise NotAuthorized(f"{who.name} lacks {', '.join(sorted(missing))} on {handle}",
                            handle=handle)


def require_authenticated(who: Identity | None) -> Identity:
    """The caller, or rc 402 / HTTP 401 when there are no credentials."""
    if who is None:
        raise AuthenticationNeeded("This request needs authentication")
    return who
