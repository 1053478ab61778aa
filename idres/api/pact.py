"""PACT v2 (WBCSD Technical Specifications 2.x) footprint exchange.

- ``POST /auth/token``: OAuth2 client credentials (RFC 6749 section 4.4).
  The client is a Handle identity: ``client_id`` = ``300:0.NA/88.118.8``,
  ``client_secret`` = its HS_SECKEY secret, as HTTP Basic (id and secret
  form-urlencoded first, as RFC 6749 section 2.3.1 says) or in the form body.
  Answers ``{"access_token", "token_type": "bearer", "expires_in"}``; errors
  in RFC 6749 section 5.2 shape.
- ``GET /2/footprints[?limit=N]`` and ``GET /2/footprints/{id}`` with
  ``Authorization: Bearer <token>``: ``{"data": ...}``; the list pages with a
  ``Link: <...>; rel="next"`` header.  ``$filter`` is not implemented and,
  as the specification allows, ignored.

Errors of the ``/2`` actions have PACT's shape ``{"code", "message"}``:
``AccessDenied`` 403 (no token, a forged or altered one, another node's, or
one whose credentials changed: the spec's own example answers a request
without a token this way), ``TokenExpired`` 401, ``BadRequest`` 400 (a bad
``limit``, an Authorization header that is not a bearer token),
``NoSuchFootprint`` 404, ``InternalError`` 500.

Any identity of this node may read every footprint: footprints are public
on ``/api/carbon`` already; the token only proves who is asking.
"""
from __future__ import annotations

import base64
import logging
import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException

from idres.api.context import node, respond
from idres.api.ledger import current_log
from idres.auth import authenticate
from idres.carbon.pact_json import EXTENSION_PATH, EXTENSION_SCHEMA
from idres.carbon.pact_service import DEFAULT_LIMIT, MAX_LIMIT, get_footprint, list_footprints
from idres.errors import BadRequest, HandleError
from idres.tokens import TokenExpired, TokenRejected, issue, mac_key, verify

bp = Blueprint("pact", __name__)
log = logging.getLogger("idres")
_UINT = re.compile(r"^[0-9]{1,10}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PACT_CODES = {400: "BadRequest", 401: "TokenExpired", 403: "AccessDenied", 404: "NoSuchFootprint"}


_PACT_ERROR = {"type": "object", "required": ["code", "message"],
               "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}


def _answers(description: str, *codes: int) -> dict[str, Any]:
    texts = {400: "BadRequest (e.g. a bad limit)", 401: "TokenExpired",
             403: "AccessDenied (no token, or one not accepted)", 404: "NoSuchFootprint"}
    out = {"200": {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "required": ["data"]}}}}}
    out.update({str(c): {"description": texts[c], "content": {"application/json": {"schema": _PACT_ERROR}}}
                for c in codes})
    return out


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/auth/token": {"post": {
        "summary": "PACT Action Authenticate: OAuth2 client credentials (client_id 300:0.NA/<prefix>, "
                   "client_secret its HS_SECKEY secret) for a short-lived bearer token",
        "security": [{"basic": []}],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["grant_type"], "properties": {
                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}},
        "responses": {"200": {"description": "access_token, token_type bearer, expires_in"},
                      "400": {"description": "invalid_request or unsupported_grant_type (RFC 6749 5.2)"},
                      "401": {"description": "invalid_client (RFC 6749 5.2)"}}}},
    "/2/footprints": {"get": {
        "summary": "PACT Action ListFootprints: ProductFootprints of part types and batches, paged "
                   "(Link rel=next); $filter is ignored", "security": [{"bearer": []}],
        "parameters": [{"name": n, "in": "query", "required": False, "description": d,
                        "schema": {"type": "integer"}}
                       for n, d in (("limit", "at most this many (1..; capped at 100)"),
                                    ("offset", "start at this footprint (from the Link header)"))],
        "responses": _answers("{data: [ProductFootprint]}", 400, 401, 403)}},
    "/2/footprints/{footprint_id}": {"get": {
        "summary": "PACT Action GetFootprint", "security": [{"bearer": []}],
        "parameters": [{"name": "footprint_id", "in": "path", "required": True, "description": "a UUID",
                        "schema": {"type": "string"}}],
        "responses": _answers("{data: ProductFootprint}", 400, 401, 403, 404)}},
    EXTENSION_PATH: {"get": {"summary": "JSON schema of the idres proof-of-origin PACT extension",
                             "responses": {"200": {"description": "the schema"}}}},
}


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _token_key() -> bytes:
    """The node's token MAC key, derived from its ledger key once per worker."""
    key = current_app.extensions.get("idres.pact_key")
    if key is None:
        key = current_app.extensions["idres.pact_key"] = mac_key(current_log().signer.private_key)
    return key


def _client_header() -> str:
    """The client's credentials as the Basic header :func:`idres.auth.authenticate` checks."""
    header = request.headers.get("Authorization", "")
    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    if header and (client_id or secret):
        raise OAuthError("invalid_request", "Give the client credentials once: header or body")
    if header:
        return header
    if not client_id or secret is None:
        raise OAuthError("invalid_client", "Client authentication needed (HTTP Basic)", 401)
    raw = f"{quote(client_id, safe='')}:{secret}".encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


@bp.post("/auth/token")
def token() -> Any:
    """Issue a short-lived bearer token to a Handle identity (OAuth2 client credentials)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    if request.form.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type" if request.form.get("grant_type") else "invalid_request",
                         "grant_type must be client_credentials")
    header = _client_header()
    n = node()
    try:
        with n.db.read() as s:
            who = authenticate(s, header)
            issued = issue(s, _token_key(), n.config.node_prefix, who)
    except HandleError as err:
        if err.status >= 500:
            raise
        raise OAuthError("invalid_client", err.message, 401) from None
    response = respond({"access_token": issued.token, "token_type": "bearer",
                        "expires_in": issued.expires_in})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _require_token() -> None:
    header = request.headers.get("Authorization")
    if not header:
        raise TokenRejected("Access denied: this action needs a bearer token from POST /auth/token")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise BadRequest("The Authorization header must be a bearer token", field="Authorization")
    n = node()
    with n.db.lookup() as s:
        verify(s, _token_key(), n.config.node_prefix, value.strip())


def _uint(name: str, default: int, least: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _UINT.match(raw) or not least <= int(raw) <= 2**31 - 1:
        raise BadRequest(f"{name} must be an integer from {least} to {2**31 - 1}", field=name)
    return int(raw)


@bp.get("/2/footprints")
def footprints() -> Any:
    """ListFootprints: at most ``limit`` (capped at 100) per page, ``Link`` to the next page."""
    _require_token()
    limit, offset = _uint("limit", DEFAULT_LIMIT, 1), _uint("offset", 0, 0)
    n = node()
    page = list_footprints(n.db, n.config, offset, limit)
    response = respond({"data": page.footprints})
    if page.next_offset is not None:
        target = f"{request.host_url}2/footprints?limit={min(limit, MAX_LIMIT)}&offset={page.next_offset}"
        response.headers["Link"] = f'<{target}>; rel="next"'
    return response


@bp.get("/2/footprints/<footprint_id>")
def footprint(footprint_id: str) -> Any:
    """GetFootprint by its UUID."""
    _require_token()
    if not _UUID.match(footprint_id):
        raise BadRequest(f"{footprint_id!r} is not a footprint id (a UUID)", field="id")
    n = node()
    return respond({"data": get_footprint(n.db, n.config, footprint_id)})


@bp.get(EXTENSION_PATH)
def extension_schema() -> Any:
    """The JSON schema of the proof-of-origin extension (public)."""
    return respond(EXTENSION_SCHEMA)


@bp.errorhandler(OAuthError)
def _oauth_error(err: OAuthError) -> Any:
    response = respond({"error": err.error, "error_description": err.description}, err.status)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="idres PACT token endpoint"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HandleError)
def _pact_error(err: HandleError) -> Any:
    code = PACT_CODES.get(err.status, "InternalError")
    status = err.status if code != "InternalError" else 500
    response = respond({"code": code, "message": err.message}, status)
    if isinstance(err, TokenExpired):
        response.headers["WWW-Authenticate"] = ('Bearer error="invalid_token", '
                                                'error_description="The access token expired"')
    return response


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Any:
    status = err.code or 400
    code = PACT_CODES.get(status, "BadRequest" if status < 500 else "InternalError")
    return respond({"code": code, "message": err.description or code}, status)


@bp.errorhandler(Exception)
def _unexpected(err: Exception) -> Any:
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return respond({"code": "InternalError", "message": "An internal or unexpected error has occurred"},
                   500)
