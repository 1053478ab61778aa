"""The batch-minting request and response."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from schemas.handle_values import ValueInSchema


class MintRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    pattern = fields.String(required=True, metadata={"example": "ENG-2026-{seq:06}"})
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    values = fields.List(fields.Dict(), load_default=list,
                         metadata={"description": "initial values of every minted handle (see Value)"})


class MintResponseSchema(Schema):
    responseCode = fields.Integer()
    prefix = fields.String()
    count = fields.Integer()
    first = fields.String()
    last = fields.String()
    handles = fields.List(fields.String())


__all__ = ["MintRequestSchema", "MintResponseSchema", "ValueInSchema"]
