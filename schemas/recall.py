"""Recall requests: the suspects of a scope, and a campaign to record.

Times are ISO 8601 dates or date-times with a UTC offset; they load as
fixed-width UTC text (``2026-11-03T02:00:00.000000Z``), the form the
projections store, so they compare correctly as strings.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$")
MAX_DEPTH = 1000
MAX_SUSPECT_HANDLES = 10_000
MAX_BATCHES = 1000


def utc_instant(text: str) -> str:
    """``2026-11-03T10:00:00+08:00`` (or a date, meaning midnight UTC) as fixed-width UTC text.

    Raises ``ValueError`` for anything else, including a date-time without an offset.
    """
    if not isinstance(text, str) or not _INSTANT.match(text):
        raise ValueError("an ISO 8601 date or date-time with a UTC offset, e.g. 2026-11-03T10:00:00+08:00")
    if len(text) == 10:
        text += "T00:00:00Z"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except (ValueError, OverflowError) as err:
        raise ValueError(f"not a valid time: {err}") from None
    out = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if len(out) != 27:
        raise ValueError("the year must have four digits")
    return out


class Instant(fields.String):
    """A time, loaded as fixed-width UTC text."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return utc_instant(text)
        except ValueError as err:
            raise ValidationError(str(err)) from None


class BatchSchema(Schema):
    """A batch lives in its maker's namespace."""

    class Meta:
        unknown = RAISE

    actor = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z._-]{1,64}$"),
                          metadata={"description": "the prefix that named the batch, e.g. 88.118.8"})
    batch = fields.String(required=True, validate=validate.Length(1, 100))


class BatchField(fields.Field):
    """``{"actor": "88.118.8", "batch": "LOT-7"}`` or the node name ``batch:88.118.8/LOT-7``."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, str]:
        if isinstance(value, str):
            text = value[6:] if value[:6].lower() == "batch:" else value
            actor, sep, name = text.partition("/")
            if not sep:
                raise ValidationError("a batch is {actor, batch} or 'batch:<actor>/<batch>'")
            value = {"actor": actor, "batch": name}
        if not isinstance(value, dict):
            raise ValidationError("a batch is {actor, batch} or 'batch:<actor>/<batch>'")
        return BatchSchema().load(value)


class ScopeRequestSchema(Schema):
    """Suspects (any mix of handles, batches and a part type made in a window) and options."""

    class Meta:
        unknown = RAISE

    handles = fields.List(fields.String(validate=validate.Length(3, 255)),
                          validate=validate.Length(1, MAX_SUSPECT_HANDLES))
    batches = fields.List(BatchField(), validate=validate.Length(1, MAX_BATCHES))
    partType = fields.String(validate=validate.Length(1, 32))
    producedFrom = Instant(metadata={"description": "commissioned at or after (with partType)"})
    producedTo = Instant(metadata={"description": "commissioned before (with partType)"})
    onlyNonConformant = fields.Boolean(load_default=False,
                                       metadata={"description": "only suspects last inspected non_conformant"})
    asOf = Instant(metadata={"description": "genealogy as of this time (default: now)"})
    depth = fields.Integer(strict=True, validate=validate.Range(1, MAX_DEPTH), load_default=MAX_DEPTH)

    @validates_schema
    def _suspects(self, data: dict, **_: Any) -> None:
        if not any(name in data for name in ("handles", "batches", "partType", "producedFrom", "producedTo")):
            raise ValidationError("give handles, batches, or partType with producedFrom and producedTo",
                                  "handles")
        if "partType" not in data and ("producedFrom" in data or "producedTo" in data):
            raise ValidationError("required with producedFrom and producedTo", "partType")
        for name in ("producedFrom", "producedTo"):
            if "partType" in data and name not in data:
                raise ValidationError("required with partType", name)
        if "partType" in data and data["producedFrom"] >= data["producedTo"]:
            raise ValidationError("must be later than producedFrom", "producedTo")


class RecallRequestSchema(ScopeRequestSchema):
    """A campaign: the scope's handles under the caller's prefix get a ``recalled`` event."""

    campaignId = fields.String(required=True, validate=validate.Length(1, 100))
    eventTime = Instant(metadata={"description": "time of the recalled events (default: now)"})
