"""Recall scope and campaigns.

A scope walks up from the suspects (handles, batches, or parts of a type
commissioned in a window, optionally only those last inspected
non_conformant) to the top-level products: parts with no assembly or
transformation link above them as of the scope's time.  Each product comes
with one shortest path from a suspect, its holder, status and dates.

A campaign appends one ``recalled`` event per 10,000 handles, in one batch,
for every handle the scope reaches (suspect parts, the assemblies between,
the products) that lies under the caller's prefix, since the ledger lets an
actor speak only for its own handles.  Handles under other prefixes are
reported back (``notRecorded``) for their owners to recall; handles already
recalled in the same campaign are skipped, so repeating a request adds nothing.
"""
from __future__ import annotations

import csv
import io
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

from marshmallow import Schema, ValidationError

from idres.auth import Identity
from idres.config import Config
from idres.errors import BadRequest, HandleNotFound
from idres.events.service import record_events
from idres.genealogy import Node, batch_node, now_text, sync
from idres.handles import fold, parse_handle
from idres.storage import Database, records
from idres.storage import genealogy as sql
from ledger.log import Log
from schemas.events import MAX_HANDLES
from schemas.recall import RecallRequestSchema, ScopeRequestSchema

SCOPE_SCHEMA, RECALL_SCHEMA = ScopeRequestSchema(), RecallRequestSchema()
CSV_COLUMNS = ("handle", "part_type", "status", "holder", "commissioned", "last_shipped", "last_received",
               "recall_campaign", "depth", "path", "seqs", "paths")


@dataclass(frozen=True)
class Suspects:
    """A validated scope request."""

    handles: list[tuple[Node, str]]   # (node, field)
    batches: list[tuple[Node, str]]
    window: tuple[str, str, str] | None  # (part type, from, to)
    only_nonconformant: bool
    as_of: str
    depth: int


def _field_error(err: ValidationError) -> BadRequest:
    """The first marshmallow message as a 400 naming its field (``handles[2]``, ``batches[0].actor``)."""
    name, detail = sorted(err.normalized_messages().items(), key=lambda kv: str(kv[0]))[0]
    path = "body" if name == "_schema" else str(name)
    while isinstance(detail, dict):
        key, detail = sorted(detail.items(), key=lambda kv: str(kv[0]))[0]
        path += f"[{key}]" if isinstance(key, int) else f".{key}"
    text = detail[0] if isinstance(detail, list) else str(detail)
    return BadRequest(f"{path}: {text}", field=path)


def load_request(body: Any, schema: Schema = SCOPE_SCHEMA) -> tuple[Suspects, dict[str, Any]]:
    """Validate a scope (or campaign) body; returns the suspects and the loaded fields."""
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object", field="body")
    try:
        data = schema.load(body)
    except ValidationError as err:
        raise _field_error(err) from None
    handles = []
    for i, text in enumerate(data.get("handles", [])):
        handle = parse_handle(text, field=f"handles[{i}]")
        handles.append((Node(handle.text, handle.key), f"handles[{i}]"))
    batches = [(batch_node(b["actor"], b["batch"], f"batches[{i}].actor"), f"batches[{i}]")
               for i, b in enumerate(data.get("batches", []))]
    window = (data["partType"], data["producedFrom"], data["producedTo"]) if "partType" in data else None
    return Suspects(handles, batches, window, data["onlyNonConformant"], data.get("asOf") or now_text(),
                    data["depth"]), data


def _check_known(s: Any, suspects: Suspects) -> None:
    """Unknown suspects are errors: a typo must not shrink a recall silently."""
    known = sql.known_keys(s, sorted({n.key for n, _ in suspects.handles}))
    for node, field in suspects.handles:
        if node.key not in known:
            raise HandleNotFound(f"{node.text} is neither registered nor known to the ledger", field=field)
    for node, field in suspects.batches:
        if not sql.batch_exists(s, node.key, *node.batch):
            raise HandleNotFound(f"No part or transformation uses {node.text}", field=field)


def _seeds(suspects: Suspects) -> list[sql.Seed]:
    """The seed selects of every kind of suspect asked for."""
    seeds = [sql.seed_batch(i, n.text, n.key, *n.batch) for i, (n, _) in enumerate(suspects.batches)]
    if suspects.handles:
        seeds.append(sql.seed_handles(sorted({n.key for n, _ in suspects.handles})))
    if suspects.window:
        seeds.append(sql.seed_window(*suspects.window))
    return seeds


Link = tuple[str | None, str | None, str, Any]  # (via key, via, node, seq)


class Reach:
    """The links a scope walked up, indexed by (node key, depth), for products, paths and counts.

    ``rows`` are :func:`idres.storage.genealogy.reach_up` tuples.  Built in one pass over
    plain tuples: a large scope has tens of thousands of links.
    """

    def __init__(self, rows: list[tuple]) -> None:
        key_of = {row[2]: row[1] for row in rows}  # a via is an earlier row's node
        nodes: dict[str, str] = {}
        at: dict[tuple[str, int], list[Link]] = {}
        walked_from: set[tuple[str | None, int]] = set()
        cut: set[tuple[str, int]] = set()  # (node, depth) with a link cut by the depth limit
        at_get, key_get, walked = at.get, key_of.get, walked_from.add
        for via, key, node, depth, _kind, seq, more in rows:
            via_key = None if via is None else key_get(via) or fold(via)
            where = (key, depth)
            links = at_get(where)
            if links is None:
                at[where] = [(via_key, via, node, seq)]
            else:
                links.append((via_key, via, node, seq))
            walked((via_key, depth - 1))
            nodes[key] = node
            if more:
                cut.add(where)
        self.nodes, self.at, self.walked_from, self._cut = nodes, at, walked_from, cut
        self.truncated = bool(cut)

    @cached_property
    def tops(self) -> dict[str, list[int]]:
        """Top-level products (nothing above them as of the scope's time) and the depths they were reached at."""
        found: dict[str, list[int]] = defaultdict(list)
        walked_from, cut = self.walked_from, self._cut
        for where in self.at:
            if where not in walked_from and where not in cut:
                found[where[0]].append(where[1])
        return found

    def counts(self) -> dict[tuple[str, int], int]:
        """How many distinct paths from the suspects reach each (node, depth)."""
        count: dict[tuple[str | None, int], int] = {}
        for key, depth in sorted(self.at, key=lambda kd: kd[1]):
            n = 0
            for link in self.at[(key, depth)]:
                n += count.get((link[0], depth - 1), 1)  # a suspect, or the batch it came from: 1
            count[(key, depth)] = n
        return count

    def path(self, key: str, depth: int) -> tuple[list[str], list[int | None]]:
        """One path from a suspect to (key, depth) (the smallest link at each step back), and its seqs."""
        handles: list[str] = []
        seqs: list[int | None] = []
        at = self.at
        while True:
            links = at[(key, depth)]
            via_key, via, node, seq = links[0] if len(links) == 1 else min(links, key=lambda k: k[0] or "")
            handles.append(node)
            if via is None:
                break
            seqs.append(None if seq is None else int(seq))
            key, depth = via_key, depth - 1
            if (key, depth) not in at:  # the batch the walk started from
                handles.append(via)
                break
        return handles[::-1], seqs[::-1]


def _walk(db: Database, suspects: Suspects, wanted: Callable[[Reach], list[str]]) -> tuple[Reach, dict]:
    """Walk up from the suspects; returns the links and the state of the parts ``wanted`` names."""
    sync(db)
    with db.read() as s:
        sql.prefer_index_lookups(s, db.dialect)
        _check_known(s, suspects)
        reach = Reach(sql.reach_up(s, _seeds(suspects), suspects.as_of, suspects.depth,
                                   suspects.only_nonconformant))
        return reach, sql.details(s, sorted(wanted(reach)))


def _product(reach: Reach, key: str, depths: list[int], paths: int, info: Any) -> dict[str, Any]:
    path, seqs = reach.path(key, min(depths))
    get = (lambda name: info[name]) if info is not None else (lambda name: None)  # noqa: E731
    return {"handle": path[-1], "partType": get("part_type"), "status": get("status"),
            "holder": get("holder"), "commissioned": get("commissioned_at"), "lastShipped": get("shipped_at"),
            "lastReceived": get("received_at"), "recallCampaign": get("recall_campaign"),
            "depth": min(depths), "path": path, "seqs": seqs, "paths": paths}


def _scope_json(suspects: Suspects, reach: Reach, info: dict[str, Any]) -> dict[str, Any]:
    counts = reach.counts()
    products = sorted((_product(reach, key, depths, sum(counts[(key, d)] for d in depths), info.get(key))
                       for key, depths in reach.tops.items()), key=lambda p: fold(p["handle"]))
    holders = Counter(p["holder"] for p in products)
    return {"responseCode": 1, "asOf": suspects.as_of, "depth": suspects.depth, "truncated": reach.truncated,
            "count": len(products), "products": products,
            "holders": [{"holder": h, "count": n} for h, n in
                        sorted(holders.items(), key=lambda kv: (-kv[1], kv[0] or ""))]}


def scope(db: Database, suspects: Suspects) -> dict[str, Any]:
    """The top-level products the suspects reach, with paths, holders, dates and counts per holder."""
    reach, info = _walk(db, suspects, lambda r: list(r.tops))
    return _scope_json(suspects, reach, info)


def scope_csv(result: dict[str, Any]) -> str:
    """The products of a scope as CSV (path joined by ' > ', seqs by spaces)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in result["products"]:
        writer.writerow([p["handle"], p["partType"], p["status"], p["holder"], p["commissioned"],
                         p["lastShipped"], p["lastReceived"], p["recallCampaign"], p["depth"],
                         " > ".join(p["path"]), " ".join("" if s is None else str(s) for s in p["seqs"]),
                         p["paths"]])
    return out.getvalue()


def _split(affected: dict[str, str], info: dict[str, Any], actor: str, campaign: str,
           registered: set[str]) -> tuple[list[str], list, list]:
    """(handles to record, not recorded with a reason, already recalled in this campaign)."""
    mine, others, already = [], [], []
    for key in sorted(affected):
        handle, state = affected[key], info.get(key)
        campaign_now = state["recall_campaign"] if state is not None else None
        reason = ("under another prefix: its owner records the recall"
                  if fold(parse_handle(handle).prefix) != fold(actor)
                  else None if key in registered else "not registered on this node")
        if reason:
            others.append({"handle": handle, "reason": reason, "recallCampaign": campaign_now})
        elif state is not None and state["status"] == "recalled" and campaign_now == campaign:
            already.append(handle)
        else:
            mine.append(handle)
    return mine, others, already


def _events(actor: str, campaign: str, when: str, handles: list[str]) -> list[dict[str, Any]]:
    return [{"event_id": str(uuid.uuid4()), "event_type": "recalled", "event_time": when, "actor": actor,
             "handles": handles[i:i + MAX_HANDLES], "campaign_id": campaign}
            for i in range(0, len(handles), MAX_HANDLES)]


def create(db: Database, config: Config, log: Log, who: Identity, body: Any,
           actor: str | None = None) -> tuple[int, dict[str, Any]]:
    """Record a campaign for the scope of ``body``; returns (HTTP status, answer).

    ``actor`` defaults to the caller's prefix (the local operator must name one).
    """
    suspects, data = load_request(body, RECALL_SCHEMA)
    actor = actor or (None if who.operator else who.home_prefix)
    if not actor:
        raise BadRequest("the local operator must name the acting prefix", field="actor")
    campaign, when = data["campaignId"], data.get("eventTime") or now_text()
    reach, info = _walk(db, suspects, lambda r: list(r.nodes))
    affected = reach.nodes
    with db.read() as s:
        registered = set(records.existing_keys(s, sorted(affected)))
    mine, others, already = _split(affected, info, actor, campaign, registered)
    answer: dict[str, Any] = {"responseCode": 1, "campaignId": campaign, "actor": actor, "recorded": mine,
                              "alreadyRecalled": already, "notRecorded": others, "entries": [],
                              "checkpoint": None}
    if mine:
        result = record_events(db, config, log, who, {"events": _events(actor, campaign, when, mine)})
        answer.update(entries=result["entries"], checkpoint=result["checkpoint"])
    answer["scope"] = _scope_json(suspects, reach, info)
    return (201 if mine else 200), answer
