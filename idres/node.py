"""Setting a node up: its own admin record and enterprise prefix records."""
from __future__ import annotations

from idres.auth import OPERATOR, Identity
from idres.config import Config
from idres.federation import upstream
from idres.federation.upstream import site_value, utc_text
from idres.handles import fold, prefix_record
from idres.ledger_key import ensure_key_file, load_signer
from idres.registrar import PutRequest, put_handle
from idres.storage import Database, federation, records
from idres.storage.engine import Session
from idres.storage.migrations import migrate
from idres.values import ALL_PERMISSIONS
from ledger import store as ledger_store
from ledger.log import Log
from ledger.note import NoteError, Signer, open_checkpoint

ADMIN_INDEX = 100
SECKEY_INDEX = 300
SITE_INDEX = 1
LEDGER_KEY_INDEX = 400
LEDGER_KEY_TYPE = "IDRES.LEDGER_KEY"


def prefix_values(config: Config, prefix: str, secret: str) -> list[dict]:
    """The values of ``0.NA/<prefix>``: HS_ADMIN, a hashed HS_SECKEY at 300, a public HS_SITE
    naming this node's HTTP and binary-protocol interfaces (the same one the upstream gets).

    A top-level node's records of its secondaries' prefixes get no HS_SITE: the
    prefix lives on the secondary, which writes its own site there by
    registering (``idres upstream sync``).
    """
    record = prefix_record(prefix).text
    values = [
        {"index": ADMIN_INDEX, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
            "handle": record, "index": SECKEY_INDEX, "permissions": ALL_PERMISSIONS}}},
        {"index": SECKEY_INDEX, "type": "HS_SECKEY", "data": secret, "permissions": "1100"},
    ]
    if config.node_role != "top-level" or fold(prefix) == fold(config.node_prefix):
        values.append({"index": SITE_INDEX, "type": "HS_SITE", "data": site_value(config)})
    return values


def check_secret(secret: str) -> str:
    """Refuse secrets too weak to guard a prefix."""
    secret = secret.strip("\r\n")
    if len(secret) < 8:
        raise ValueError("A secret needs at least 8 characters")
    return secret


def init_node(db: Database, config: Config, admin_secret: str | None) -> bool:
    """Apply migrations; create ``0.NA/<node prefix>`` when a secret is given.

    Also creates the ledger signing key (unless one is configured) and
    publishes its verifier key in the node's prefix record.  Returns True
    when the admin record was created now.
    """
    migrate(db)
    ensure_key_file(config)
    signer = load_signer(config)
    with db.write() as s:
        check_same_key(s, signer)
        Log(signer, signer.name).ensure_checkpoint(s)  # size 0: the log exists from here on
    created = False
    if admin_secret is not None:
        handle = prefix_record(config.node_prefix)
        with db.read() as s:
            if records.handle_exists(s, handle.key):
                raise ValueError(f"{handle.text} already exists; the admin secret was not changed")
        put_handle(db, config, OPERATOR, PutRequest(
            handle.text, prefix_values(config, config.node_prefix, check_secret(admin_secret)),
            overwrite=False))
        created = True
        upstream.queue_node_prefix(db, config)
    publish_ledger_key(db, config)
    return created


def check_same_key(s: Session, signer: Signer) -> None:
    """Refuse a key that did not sign this log's checkpoints (it would fork the log)."""
    row = ledger_store.latest_checkpoint(s)
    if row is None:
        return
    try:
        open_checkpoint(row["note"], [signer.verifier()])
    except NoteError:
        raise ValueError("This database's ledger was signed by another key; point "
                         "IDRES_LEDGER_KEY_FILE (or IDRES_LEDGER_KEY) at the original key") from None


def publish_ledger_key(db: Database, config: Config) -> None:
    """Put the ledger's verifier key in ``0.NA/<node prefix>`` (a public value)."""
    handle = prefix_record(config.node_prefix)
    with db.read() as s:
        if not records.handle_exists(s, handle.key):
            return
    value = {"index": LEDGER_KEY_INDEX, "type": LEDGER_KEY_TYPE, "data": load_signer(config).verifier_key}
    put_handle(db, config, OPERATOR, PutRequest(handle.text, [value], indexes=(LEDGER_KEY_INDEX,)))


def create_prefix(db: Database, config: Config, prefix: str, secret: str,
                  who: Identity = OPERATOR) -> str:
    """Create an enterprise prefix record whose key logs in as ``300:0.NA/<prefix>``."""
    handle = prefix_record(prefix)
    put_handle(db, config, who, PutRequest(handle.text, prefix_values(config, prefix, check_secret(secret)),
                                           overwrite=False))
    return handle.text


def list_prefixes(db: Database) -> list[dict]:
    """Prefix records this node holds, with their handle counts and registration upward.

    ``upstream`` is None for a prefix never queued for registration (the
    node's own prefix, or any prefix of a node without an upstream).
    """
    with db.read() as s:
        names = records.list_handles(s, fold("0.NA"), 0, None)
        queued = federation.all_registrations(s)
        rows = []
        for name in names:
            prefix = name.split("/", 1)[1]
            reg = queued.get(fold(prefix))
            rows.append({"prefix": prefix, "record": name, "handles": records.count_handles(s, fold(prefix)),
                         "upstream": None if reg is None else registration_state(reg)})
        return rows


def registration_state(reg: federation.Registration) -> dict:
    """A registration upward as ``idres prefix list --json`` shows it."""
    pending = reg.state == federation.PENDING
    return {"state": reg.state, "upstream": reg.upstream, "attempts": reg.attempts,
            "lastError": reg.last_error or None, "nextTry": utc_text(reg.next_try) if pending else None,
            "registeredAt": reg.registered_at}
