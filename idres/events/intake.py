"""Checking events before they reach the ledger: shape, actor, ownership, existence."""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from idres.auth import Identity
from idres.config import Config
from idres.errors import from_validation, BadRequest, HandleError, HandleNotFound, NotAuthorized
from idres.handles import Handle, fold, is_within, parse_handle, prefix_record
from idres.storage import carbon as carbon_store, records
from idres.storage.engine import Session
from schemas.events import REFERENCES, SUBJECTS, load_event


class EventConflict(HandleError):
    """An event that contradicts the log or the parts' state."""

    rc, status, default_message = 4, 409, "Event conflicts with the ledger"


def body_base(body: Any) -> str:
    """How the body's events are named in errors: ``events[i]`` in a batch, else ``event``."""
    return "events" if isinstance(body, dict) and set(body) == {"events"} else "event"


def parse_events(body: Any, limit: int) -> list[dict[str, Any]]:
    """One event or ``{"events": [...]}`` (at most ``limit``), each validated strictly."""
    if body_base(body) == "events":
        items, base = body["events"], "events"
        if not isinstance(items, list) or not items:
            raise BadRequest("events must be a non-empty array", field="events")
    elif isinstance(body, dict):
        items, base = [body], "event"
    else:
        raise BadRequest("Body must be an event object or {\"events\": [...]}", field="body")
    if len(items) > limit:
        raise BadRequest(f"At most {limit} events per request", field="events")
    out = []
    for i, item in enumerate(items):
        where = f"{base}[{i}]" if base == "events" else base
        try:
            loaded = load_event(item)
        except ValidationError as err:
            raise from_validation(err, where) from None
        _no_repeats(loaded, where)
        out.append(loaded)
    return out


def _no_repeats(event: dict[str, Any], where: str) -> None:
    """A handle (or batch) listed twice in one event is ambiguous: which edge, which mass?"""
    for name in ("children", "outputs", "handles", "inputs"):
        seen: set[str] = set()
        for j, item in enumerate(event.get(name, ())):
            if isinstance(item, dict):
                key = fold(item["handle"]) if "handle" in item else "batch:" + fold(item["batch"])
            else:
                key = fold(item)
            if key in seen:
                raise BadRequest(f"{name}[{j}] repeats an earlier item", field=f"{where}.{name}[{j}]")
            seen.add(key)


def _handles(event: dict, names: tuple[str, ...], where: str) -> list[tuple[Handle, str]]:
    found = []
    for name in names:
        value = event.get(name)
        items = value if isinstance(value, list) else ([] if value is None else [value])
        for j, item in enumerate(items):
            text = item.get("handle") if isinstance(item, dict) else item
            if text is None:
                continue  # an input given as a batch
            field = f"{where}.{name}" + (f"[{j}]" if isinstance(value, list) else "")
            if isinstance(item, dict):
                field += ".handle"  # inputs[j].handle
            try:
                found.append((parse_handle(text, field=field), field))
            except HandleError as err:
                err.field = field
                raise
    return found


Named = list[tuple[Handle, str]]


def authorize(config: Config, who: Identity, events: list[dict], base: str) -> tuple[Named, Named]:
    """Actor and subject checks; returns the subjects and the possibly-local references."""
    local: Named = []
    references: Named = []
    for i, event in enumerate(events):
        where = f"{base}[{i}]" if base == "events" else base
        if not who.operator and fold(event["actor"]) != fold(who.home_prefix):
            raise NotAuthorized(f"{who.name} may not act as {event['actor']}", field=f"{where}.actor")
        _party_check(event, where)
        for handle, field in _handles(event, SUBJECTS[event["event_type"]], where):
            if fold(handle.prefix) != fold(event["actor"]):
                raise NotAuthorized(f"{handle.text} is not under the actor's prefix {event['actor']}",
                                    field=field)
            local.append((handle, field))
        for handle, field in _handles(event, REFERENCES.get(event["event_type"], ()), where):
            if is_within(handle.prefix, config.node_prefix):
                references.append((handle, field))
    return local, references


def _party_check(event: dict, where: str) -> None:
    """The shipper records shipping, the receiver records receipt."""
    side = {"shipped": "from_party", "received": "to_party"}.get(event["event_type"])
    if side and fold(event[side]) != fold(event["actor"]):
        raise BadRequest(f"{side} must be the actor {event['actor']}", field=f"{where}.{side}")


def require_existing(s: Session, subjects: Named, references: Named) -> None:
    """Subjects must be registered here; so must references under prefixes held here."""
    prefixes = sorted({prefix_record(h.prefix).key for h, _ in references})
    held = set(records.existing_keys(s, prefixes))
    handles = subjects + [(h, f) for h, f in references if prefix_record(h.prefix).key in held]
    present = set(records.existing_keys(s, sorted({h.key for h, _ in handles})))
    for handle, field in handles:
        if handle.key not in present:
            raise HandleNotFound(f"{handle.text} is not registered on this node", field=field)


def require_installations(s: Session, events: list[dict], base: str) -> None:
    """A ``carbon.recorded`` event must name a registered installation (422 naming the field).

    Checked here so that a record no roll-up could use never reaches the
    log; the roll-up still checks too, for logs written before this check.
    Only ``carbon.recorded`` is checked: a ``commissioned`` event's
    ``installation`` is a free-text place until a roll-up needs its default.
    """
    known: dict[str, bool] = {}
    for i, event in enumerate(events):
        if event["event_type"] != "carbon.recorded":
            continue
        key = fold(event["installation_id"])
        if key not in known:
            known[key] = carbon_store.installation(s, key) is not None
        if not known[key]:
            where = f"{base}[{i}]" if base == "events" else base
            raise BadRequest(f"installation {event['installation_id']!r} is not registered: add it with "
                             f"PUT /api/carbon/installations/{event['installation_id']}",
                             field=f"{where}.installation_id", status=422)
