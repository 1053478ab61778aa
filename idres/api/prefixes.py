"""``/api/prefixes``: batch minting of part identifiers."""
from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import ValidationError

from idres.api.context import caller, json_body, node, respond
from idres.auth import require_authenticated
from idres.errors import BadRequest, from_validation
from idres.minting import MintRequest, mint
from schemas.mint import MintRequestSchema

bp = Blueprint("prefixes", __name__, url_prefix="/api/prefixes")


@bp.post("/<prefix>/mint")
def mint_handles(prefix: str) -> Any:
    """Mint ``count`` identifiers from ``pattern``, all or none."""
    who = require_authenticated(caller())
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object", field="body")
    try:
        loaded = MintRequestSchema().load(body)
    except ValidationError as err:
        raise from_validation(err) from None
    n = node()
    result = mint(n.db, n.config, who, MintRequest(prefix, loaded["pattern"], loaded["count"],
                                                    loaded["values"]))
    return respond(result, 201)
