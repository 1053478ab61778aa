"""``/api/events`` and ``/api/ledger``: appending events, checkpoints and proofs."""
from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, current_app, request

from idres.api.context import caller, json_body, node, respond
from idres.auth import require_authenticated
from idres.errors import BadRequest, HandleError
from idres.events.group import GroupCommitter
from idres.events.service import b64, checkpoint_json, handle_history, prepare_events
from idres.ledger_key import LedgerKeyError, load_signer
from ledger import store as ledger_store
from ledger.log import Log

bp = Blueprint("ledger", __name__)
MAX_EVENTS_BODY = 32 * 1024 * 1024  # 10,000 events fit comfortably


class LedgerUnavailable(HandleError):
    rc, status, default_message = 2, 503, "The ledger is not configured on this node"


def current_log() -> Log:
    """The node's log, its signer loaded once per worker."""
    log = current_app.extensions.get("idres.log")
    if log is None:
        n = node()
        try:
            signer = load_signer(n.config)
            log = Log(signer, signer.name)
        except (LedgerKeyError, ValueError) as err:
            raise LedgerUnavailable(str(err)) from None
        current_app.extensions["idres.log"] = log
    return log


def current_committer() -> GroupCommitter:
    """The worker's group committer: concurrent appends of its threads share transactions."""
    committer = current_app.extensions.get("idres.committer")
    if committer is None:
        n = node()
        fresh = GroupCommitter(n.db, current_log(), n.config.max_events)
        # setdefault is atomic: two threads racing here still share one committer
        committer = current_app.extensions.setdefault("idres.committer", fresh)
    return committer


def _int_arg(name: str) -> int:
    raw = request.args.get(name, "")
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest(f"{name} must be a non-negative integer", field=name)
    return int(raw)


@bp.post("/api/events")
def post_events() -> Any:
    """Append one event or ``{"events": [...]}`` (up to 10,000) atomically."""
    who = require_authenticated(caller())
    request.max_content_length = MAX_EVENTS_BODY
    body = json_body()
    prepared = prepare_events(node().config, who, body)
    return respond(current_committer().commit(prepared), 201)


@bp.get("/api/ledger/key")
def verifier_key() -> Any:
    log = current_log()
    return respond({"origin": log.origin, "verifierKey": log.signer.verifier_key})


@bp.get("/api/ledger/checkpoint")
def checkpoint() -> Any:
    """The latest signed checkpoint (``text/plain`` gives the bare note)."""
    log = current_log()
    with node().db.write() as s:
        cp = log.ensure_checkpoint(s)
    if request.accept_mimetypes.best == "text/plain":
        return current_app.response_class(cp.note, mimetype="text/plain")
    return respond(checkpoint_json(cp))


@bp.get("/api/ledger/entries/<int:seq>")
def entry(seq: int) -> Any:
    with node().db.read() as s:
        size, _ = ledger_store.head(s)
        # beyond the head there is nothing to find (and no number too large for SQL)
        row = ledger_store.entry(s, seq) if seq < size else None
    if row is None:
        raise BadRequest(f"No entry {seq}", field="seq", status=404)
    return respond({"seq": seq, "entry": row["entry"],
                    "entryBase64": base64.b64encode(row["entry"].encode()).decode(),
                    "leafHash": b64(bytes.fromhex(row["leaf_hash"])),
                    "chainHash": row["chain_hash"]})


def _size_at_most_head(s: Any, size: int, field: str) -> None:
    head, _ = ledger_store.head(s)
    if size > head:
        raise BadRequest(f"{field} {size} is beyond the log size {head}", field=field)


@bp.get("/api/ledger/proof/inclusion")
def inclusion() -> Any:
    seq, size = _int_arg("entry"), _int_arg("size")
    if seq >= size:
        raise BadRequest("entry must be smaller than size", field="entry")
    log = current_log()
    with node().db.read() as s:
        _size_at_most_head(s, size, "size")
        proof = log.inclusion_proof(s, seq, size)
        root = log.root(s, size)
        leaf = ledger_store.entry(s, seq)["leaf_hash"]
    return respond({"entry": seq, "size": size, "leafHash": b64(bytes.fromhex(leaf)),
                    "root": b64(root), "proof": [b64(p) for p in proof]})


@bp.get("/api/ledger/proof/consistency")
def consistency() -> Any:
    first, second = _int_arg("from"), _int_arg("to")
    if not 0 < first <= second:
        raise BadRequest("need 0 < from <= to", field="from")
    log = current_log()
    with node().db.read() as s:
        _size_at_most_head(s, second, "to")
        proof = log.consistency_proof(s, first, second) if first < second else []
        roots = (log.root(s, first), log.root(s, second))
    return respond({"from": first, "to": second, "root1": b64(roots[0]), "root2": b64(roots[1]),
                    "proof": [b64(p) for p in proof]})


@bp.get("/api/handles/<path:handle>/events")
def events_of(handle: str) -> Any:
    """A part's history, each event with an inclusion proof."""
    n = node()
    return respond(handle_history(n.db, handle))
