"""Batch minting: N new part identifiers from a pattern, all or none."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from idres.auth import Identity, require
from idres.authority import check_responsible, permissions_on
from idres.config import Config
from idres.errors import BadRequest, HandleAlreadyExists
from idres.handles import Handle, fold, parse_handle, validate_prefix
from idres.registrar import default_admin, stamp, validate_record
from idres.storage import Database, records
from idres.values import parse_values, utc_timestamp

_SEQ = re.compile(r"\{seq(?::0?([0-9]{1,2})d?)?\}")
CHUNK = 5000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class MintRequest:
    """Mint ``count`` handles ``prefix/pattern`` sharing the initial ``values``."""

    prefix: str
    pattern: str
    count: int
    values: Any = ()


def render(pattern: str, seq: int) -> str:
    """Fill ``{seq}`` / ``{seq:06}`` in a pattern with a sequence number."""
    def fill(match: re.Match) -> str:
        width = int(match.group(1) or 0)
        return f"{seq:0{width}d}"
    return _SEQ.sub(fill, pattern, count=1)


def sequence_key(pattern: str) -> str:
    """The key of a pattern's sequence counter.

    Patterns whose handles are the same after ASCII case folding
    (``ENG-{seq}``, ``eng-{seq:1}``) share one counter; separate counters would
    mint clashing suffixes and fail with rc 101 on every attempt.
    """
    def canonical(match: re.Match) -> str:
        return "{seq:0%d}" % max(int(match.group(1) or 0), 1)
    return fold(_SEQ.sub(canonical, pattern, count=1))


def check_pattern(pattern: Any) -> str:
    """A pattern has exactly one ``{seq}`` placeholder and no other braces."""
    if not isinstance(pattern, str) or not pattern:
        raise BadRequest("pattern must be a non-empty string such as ENG-2026-{seq:06}", field="pattern")
    if len(_SEQ.findall(pattern)) != 1 or "{" in _SEQ.sub("", pattern) or "}" in _SEQ.sub("", pattern):
        raise BadRequest("pattern needs exactly one {seq} or {seq:0N} placeholder", field="pattern")
    return pattern


def check_count(count: Any, limit: int) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= limit:
        raise BadRequest(f"count must be an integer from 1 to {limit}", field="count")
    return count


def mint(db: Database, config: Config, who: Identity, req: MintRequest,
         progress: Progress | None = None) -> dict[str, Any]:
    """Create the handles in one transaction; a collision aborts them all."""
    validate_prefix(req.prefix)
    pattern, count = check_pattern(req.pattern), check_count(req.count, config.max_mint)
    values = parse_values({"values": list(req.values)})
    probe = parse_handle(f"{req.prefix}/{render(pattern, 10**12)}", field="pattern")
    with db.write() as s:
        check_responsible(s, config, probe)
        if probe.is_prefix_record:
            raise BadRequest("Prefix records are not minted", field="prefix")
        require(permissions_on(s, config, who, probe, None), {"ADD_HANDLE"}, who, probe.text)
        template = stamp([], default_admin(who, values), utc_timestamp())
        validate_record(config, probe, template)
        first = records.next_mint_sequence(s, fold(req.prefix), sequence_key(pattern), count)
        handles = [Handle(req.prefix, render(pattern, n)) for n in range(first, first + count)]
        clash = records.existing_keys(s, [h.key for h in handles])
        if clash:
            # Report the handle as it would have been minted, not its folded key.
            taken = next(h.text for h in handles if h.key == clash[0])
            raise HandleAlreadyExists(f"{taken} already exists; nothing was minted", handle=taken)
        for start in range(0, count, CHUNK):
            chunk = handles[start:start + CHUNK]
            records.insert_handles(s, [(h.key, h.text, h.prefix_key, template) for h in chunk])
            if progress:
                progress(len(chunk))
        records.record_audit(s, who.name, "mint", f"{req.prefix}/{pattern}",
                             {"count": count, "first": handles[0].text, "last": handles[-1].text})
    return {"responseCode": 1, "prefix": req.prefix, "count": count,
            "first": handles[0].text, "last": handles[-1].text,
            "handles": [h.text for h in handles]}
