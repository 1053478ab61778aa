"""The identifier model: handles, prefixes and their folded lookup keys.

REFERENCE section 1: ASCII case is folded for lookup and uniqueness, the
spelling as registered is preserved; control characters, an empty prefix or
suffix and handles over 255 bytes are rejected (rc 102).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from idres.errors import InvalidHandle

MAX_HANDLE_BYTES = 255
NA_PREFIX = "0.NA"

# Only A-Z fold: str.lower() would also fold non-ASCII letters, which the
# Handle System keeps distinct.
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def fold(text: str) -> str:
    """Fold ASCII letters to lower case, leaving every other character alone."""
    return text.translate(_ASCII_FOLD)


def validate_prefix(prefix: str, *, field: str = "prefix") -> str:
    """Check a prefix such as ``88.118.8`` (dot-separated segments)."""
    if not prefix:
        raise InvalidHandle("Empty prefix", field=field)
    for segment in prefix.split("."):
        if not _PREFIX_SEGMENT.match(segment):
            raise InvalidHandle(
                f"Invalid prefix {prefix!r}: segments are letters, digits, '-' or '_' "
                "separated by single dots", field=field)
    return prefix


@dataclass(frozen=True)
class Handle:
    """A parsed handle ``prefix/suffix`` with its spelling as given."""

    prefix: str
    suffix: str

    @property
    def text(self) -> str:
        return f"{self.prefix}/{self.suffix}"

    @property
    def key(self) -> str:
        """The folded form used for lookup and uniqueness."""
        return fold(self.text)

    @property
    def prefix_key(self) -> str:
        return fold(self.prefix)

    @property
    def is_prefix_record(self) -> bool:
        """True for ``0.NA/<prefix>`` records."""
        return self.prefix_key == fold(NA_PREFIX)

    @property
    def owning_prefix(self) -> str:
        """The prefix this handle's authority comes from.

        For ``0.NA/88.118.8`` that is ``88.118.8``'s parent chain, decided by
        the caller; for a part handle it is simply its prefix.
        """
        return self.suffix if self.is_prefix_record else self.prefix


def parse_handle(text: str, *, field: str = "handle") -> Handle:
    """Parse and validate a handle, raising :class:`InvalidHandle` (rc 102)."""
    if not isinstance(text, str) or not text:
        raise InvalidHandle("Empty handle", field=field)
    if len(text.encode("utf-8")) > MAX_HANDLE_BYTES:
        raise InvalidHandle(f"Handle longer than {MAX_HANDLE_BYTES} bytes", field=field)
    if _CONTROL.search(text):
        raise InvalidHandle("Handle contains control characters", field=field)
    prefix, sep, suffix = text.partition("/")
    if not sep or not suffix:
        raise InvalidHandle("A handle is prefix/suffix with a non-empty suffix", field=field)
    validate_prefix(prefix, field=field)
    if prefix.upper() == NA_PREFIX.upper():
        validate_prefix(suffix, field=field)
    return Handle(prefix, suffix)


def prefix_record(prefix: str) -> Handle:
    """The ``0.NA/<prefix>`` handle that describes ``prefix``."""
    return Handle(NA_PREFIX, validate_prefix(prefix))


def is_within(prefix: str, parent: str) -> bool:
    """True when ``prefix`` is ``parent`` or a derived prefix beneath it."""
    p, q = fold(prefix), fold(parent)
    return p == q or p.startswith(q + ".")
