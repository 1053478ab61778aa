"""``/api/openapi.json``: the API described from the marshmallow schemas."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint

from idres import __version__
from idres.api import labels, openapi_paths, pact, reports, stats
from idres.api.context import respond
from schemas.handle_values import (ErrorSchema, HandleListSchema, HandleRecordSchema,
                                   ValueInSchema, ValueOutSchema, ValuesBodySchema)
from schemas.mint import MintRequestSchema, MintResponseSchema
from schemas.part import PartDataSchema

bp = Blueprint("openapi", __name__)


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _param(name: str, where: str, description: str, schema: dict | None = None,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema or {"type": "string"}}


_ERRORS = {str(code): _json("Error", text) for code, text in (
    (400, "bad request, invalid handle or value, or not responsible (rc 4, 102, 200, 202, 301)"),
    (401, "authentication needed or invalid credentials (rc 402)"),
    (403, "not authorized (rc 400)"), (404, "handle not found (rc 100)"),
    (409, "handle or value already exists (rc 101, 201)"), (413, "body larger than 1 MiB"))}

_HANDLE = _param("handle", "path", "prefix/suffix, e.g. 88.118.8/ENG-2026-000123", required=True)
_INDEX = _param("index", "query", "repeatable value index; PUT also accepts 'various'")


def _operations() -> dict[str, dict[str, Any]]:
    boolean = {"type": "boolean"}
    return {
        "/api/handles/{handle}": {
            "get": {"summary": "Resolve a handle", "parameters": [
                _HANDLE, _INDEX, _param("type", "query", "repeatable; 'PART.' matches sub-types"),
                _param("publicOnly", "query", "only public values", boolean),
                _param("auth", "query", "accepted; this node is authoritative", boolean),
                _param("doNotRefer", "query", "accepted", boolean)],
                "responses": {"200": _json("HandleRecord", "the values"), **_ERRORS}},
            "put": {"summary": "Create, replace or update values", "security": [{"basic": []}],
                    "parameters": [_HANDLE, _INDEX,
                                   _param("overwrite", "query", "default true", boolean),
                                   _param("mintNewSuffix", "query", "append a UUID suffix", boolean)],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ValuesBody"}}}},
                    "responses": {"200": _json("Error", "replaced (rc 1)"),
                                  "201": _json("Error", "created (rc 1)"), **_ERRORS}},
            "delete": {"summary": "Delete a handle or values", "security": [{"basic": []}],
                       "parameters": [_HANDLE, _INDEX],
                       "responses": {"200": _json("Error", "deleted (rc 1)"), **_ERRORS}},
        },
        "/api/handles": {"get": {"summary": "List the handles of a prefix", "security": [{"basic": []}],
                                 "parameters": [_param("prefix", "query", "e.g. 88.118.8", required=True),
                                                _param("page", "query", "0-based", {"type": "integer"}),
                                                _param("pageSize", "query", "0: count only", {"type": "integer"})],
                                 "responses": {"200": _json("HandleList", "one page"), **_ERRORS}}},
        "/api/prefixes/{prefix}/mint": {"post": {
            "summary": "Mint identifiers from a pattern, all or none", "security": [{"basic": []}],
            "parameters": [_param("prefix", "path", "enterprise prefix", required=True)],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/MintRequest"}}}},
            "responses": {"201": _json("MintResponse", "the minted handles"), **_ERRORS}}},
    }


@lru_cache(maxsize=1)
def build_spec() -> dict[str, Any]:
    """The OpenAPI 3 document (built once per process)."""
    spec = APISpec(title="idres", version=__version__, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Handle.net-compatible identifier resolution node"})
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic",
                                              "description": "username index:handle, e.g. 300:0.NA/88.118.8"})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "a token from POST /auth/token (PACT)"})
    for name, schema in (("Value", ValueInSchema), ("ValueOut", ValueOutSchema),
                         ("ValuesBody", ValuesBodySchema), ("HandleRecord", HandleRecordSchema),
                         ("HandleList", HandleListSchema), ("Error", ErrorSchema),
                         ("MintRequest", MintRequestSchema), ("MintResponse", MintResponseSchema),
                         ("PartData", PartDataSchema)):
        spec.components.schema(name, schema=schema)
    for name, schema in openapi_paths.SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    for path, operations in {**_operations(), **labels.OPENAPI_PATHS, **stats.OPENAPI_PATHS,
                             **reports.OPENAPI_PATHS, **pact.OPENAPI_PATHS, **openapi_paths.paths()}.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/api/openapi.json")
def openapi_document() -> Any:
    return respond(build_spec())
