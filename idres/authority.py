"""Which handles this node answers for, and what a caller may do to them.

A node holds its own prefix (``88.118``), the enterprise prefixes beneath it
whose ``0.NA/<prefix>`` records it stores, and those ``0.NA/`` records.

Roles differ in two ways.  A ``top-level`` node (``88``) holds only prefix
records of the nodes below it: handles under ``88.118`` live on the secondary
node, so the top-level node answers rc 301 for them.  And a top-level node
takes registrations of derived prefixes: the key of ``0.NA/88.118`` (whose
record grants it ADD_NA) may create ``0.NA/88.118.<n>`` records there, and
nothing outside ``88.118``.  Secondary and enterprise nodes hold the handles
of the prefixes they create, ``<node prefix>.<n>``.
"""
from __future__ import annotations

import re

from idres.auth import Identity, granted
from idres.config import Config
from idres.errors import InvalidHandle, NotResponsible
from idres.handles import Handle, fold, is_within, prefix_record
from idres.storage import records
from idres.storage.engine import Session
from idres.values import ADMIN_BITS

VALUE_OPS = {"MODIFY_VALUE", "REMOVE_VALUE", "ADD_VALUE", "MODIFY_ADMIN", "REMOVE_ADMIN",
             "ADD_ADMIN", "READ_VALUE"}
EVERYTHING = set(ADMIN_BITS)


def is_node_record(config: Config, handle: Handle) -> bool:
    """True for the node's own ``0.NA/<node prefix>``."""
    return handle.is_prefix_record and fold(handle.suffix) == fold(config.node_prefix)


def check_enterprise_prefix(config: Config, prefix: str) -> None:
    """Enterprise prefixes are ``<node prefix>.<number>`` (REFERENCE section 1).

    No leading zeros: ``88.118.08`` would be a second record for enterprise 8.
    """
    node = re.escape(fold(config.node_prefix))
    if not re.fullmatch(node + r"\.(0|[1-9][0-9]{0,8})", fold(prefix)):
        raise InvalidHandle(f"Enterprise prefixes of this node are {config.node_prefix}.<number>, "
                            f"not {prefix}", field="handle")


_SEGMENT = r"\.(0|[1-9][0-9]{0,8})"


def check_new_prefix(s: Session, config: Config, prefix: str) -> None:
    """A new prefix record's name: ``<node prefix>.<n>``, or on a top-level node also
    ``<P>.<n>`` for a prefix ``P`` whose record it holds (registered from below)."""
    parent, _, _ = prefix.rpartition(".")
    if (config.node_role == "top-level" and fold(parent) != fold(config.node_prefix)
            and is_within(parent, config.node_prefix)
            and re.fullmatch(re.escape(fold(parent)) + _SEGMENT, fold(prefix))
            and records.handle_exists(s, prefix_record(parent).key)):
        return
    check_enterprise_prefix(config, prefix)


def check_responsible(s: Session, config: Config, handle: Handle) -> None:
    """Raise rc 301 unless this node holds the handle's prefix."""
    node = config.node_prefix
    if handle.is_prefix_record:
        if is_within(handle.suffix, node):
            return
    elif fold(handle.prefix) == fold(node):
        return
    elif (config.node_role != "top-level" and is_within(handle.prefix, node)
          and records.handle_exists(s, prefix_record(handle.prefix).key)):
        return
    raise NotResponsible(handle=handle.text)


def _home_allowed(config: Config, who: Identity, handle: Handle) -> bool:
    """The hard boundary: a key for one prefix never acts under another.

    The one widening: on a top-level node a secondary's key may act on prefix
    records derived from its own prefix (``0.NA/88.118.*`` for ``88.118``).
    """
    home = fold(who.home_prefix)
    if handle.is_prefix_record:
        if home in {fold(config.node_prefix), fold(handle.suffix)}:
            return True
        return config.node_role == "top-level" and is_within(handle.suffix, home)
    return home == fold(handle.prefix)


def _delegated(s: Session, config: Config, who: Identity, handle: Handle) -> set[str]:
    """ADD_NA on the caller's own prefix record lets it create derived prefix records
    (top-level nodes only).  Changing an existing one needs that record's own HS_ADMIN,
    so a record another node registered cannot be taken over."""
    home = who.home_prefix
    if (config.node_role != "top-level" or fold(home) == fold(config.node_prefix)
            or not is_within(handle.suffix, home) or fold(handle.suffix) == fold(home)):
        return set()
    parent = records.load_record(s, prefix_record(home).key)
    return {"ADD_HANDLE"} if parent and "ADD_NA" in granted(s, parent.values, who) else set()


def permissions_on(s: Session, config: Config, who: Identity | None, handle: Handle,
                   record: records.StoredRecord | None) -> set[str]:
    """Everything ``who`` may do to ``handle`` (whose current record is ``record``)."""
    if who is None:
        return set()
    if who.operator:
        return set(EVERYTHING)
    if not _home_allowed(config, who, handle):
        return set()
    perms = granted(s, record.values, who) if record else set()
    if is_node_record(config, handle):
        return perms
    if handle.is_prefix_record:
        node = records.load_record(s, prefix_record(config.node_prefix).key)
        node_perms = granted(s, node.values, who) if node else set()
        if "ADD_NA" in node_perms:
            perms |= {"ADD_HANDLE"} | VALUE_OPS
        if "DELETE_NA" in node_perms:
            perms |= {"DELETE_HANDLE"}
        return perms | _delegated(s, config, who, handle)
    # CNRI's allow_na_admins: a prefix's administrators administer its handles.
    na = records.load_record(s, prefix_record(handle.prefix).key)
    return perms | (granted(s, na.values, who) if na else set())


def listing_permissions(s: Session, config: Config, who: Identity | None, prefix: str) -> set[str]:
    """What ``who`` may do with the handle list of ``prefix``."""
    if who is None:
        return set()
    target = config.node_prefix if fold(prefix) == fold("0.NA") else prefix
    record_handle = prefix_record(target)
    record = records.load_record(s, record_handle.key)
    return permissions_on(s, config, who, record_handle, record)
