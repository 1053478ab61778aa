"""PACT footprints as the API and CLI serve them: one read transaction each, with its checkpoint.

Figures, the entries they rest on and the checkpoint are read in the same
transaction, so the checkpoint covers every contributing entry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from idres.carbon.pact import Figure, PactSubject, catalog, figure, figures, find
from idres.carbon.pact_json import Origin, product_footprint
from idres.carbon.results import CarbonDataError
from idres.carbon.service import checkpoint_json
from idres.carbon.subjects import parse_subject
from idres.config import Config
from idres.errors import BadRequest, HandleNotFound
from idres.storage import Database, carbon as carbon_store, pact as store
from idres.storage.engine import Session

MAX_LIMIT = 100
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page:
    """One page of the footprint list; ``next_offset`` is None on the last page."""

    footprints: list[dict[str, Any]]
    next_offset: int | None


def _origin(s: Session, config: Config, found: list[Figure]) -> Origin:
    seqs = sorted({q for f in found for q in f.seqs})
    entries = {int(r["seq"]): json.loads(r["entry"]) for r in store.entries(s, seqs)}
    operators = {r["installation_key"]: r["operator"] for r in carbon_store.installations(s)
                 if r["operator"]}
    return Origin(config.node_prefix, config.base_url, config.origin, checkpoint_json(s), entries,
                  operators)


def _render(s: Session, config: Config, found: list[Figure]) -> list[dict[str, Any]]:
    origin = _origin(s, config, found)
    return [product_footprint(f, origin) for f in found]


def list_footprints(db: Database, config: Config, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Page:
    """Footprints ``offset .. offset + limit`` of the catalog (fewer when some have no figure)."""
    if limit < 1:
        raise BadRequest("limit must be a positive integer", field="limit")
    limit = min(limit, MAX_LIMIT)
    with db.read() as s:
        subjects = catalog(s)
        page = subjects[offset:offset + limit]
        out = _render(s, config, figures(s, page))
    more = offset + limit < len(subjects)
    return Page(out, offset + limit if more else None)


def get_footprint(db: Database, config: Config, footprint_id: str) -> dict[str, Any]:
    """The footprint with this id; 404 when no subject has it or it has no figure."""
    with db.read() as s:
        subj = find(s, config.node_prefix, footprint_id)
        try:
            found = figure(s, subj)
        except CarbonDataError as err:
            raise HandleNotFound(f"{subj.text} has no footprint: {err.message}", field="id") from None
        return _render(s, config, [found])[0]


def subject_of(text: str) -> PactSubject:
    """A CLI subject: a handle, ``batch:<maker>/<batch>`` or ``part-type:<owner>/<code>``."""
    if text.startswith("part-type:"):
        owner, sep, code = text[len("part-type:"):].partition("/")
        if not (owner and sep and code):
            raise BadRequest("A part type is part-type:<owner prefix>/<code>", field="subject")
        return PactSubject("part-type", owner, code)
    kind, owner, batch = parse_subject(text)
    if kind == "batch":
        return PactSubject("batch", owner, batch or "")
    return PactSubject("part", owner, text.partition("/")[2])


def pact_footprint(db: Database, config: Config, text: str) -> dict[str, Any]:
    """The ProductFootprint of one subject (a handle too, which the HTTP list does not offer)."""
    subj = subject_of(text)
    with db.read() as s:
        return _render(s, config, [figure(s, subj)])[0]
