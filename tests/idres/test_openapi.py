"""The OpenAPI document generated from the marshmallow schemas."""
from __future__ import annotations


def test_openapi_document(client) -> None:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.json
    assert doc["openapi"].startswith("3.")
    assert {"/api/handles/{handle}", "/api/handles", "/api/prefixes/{prefix}/mint"} <= set(doc["paths"])
    assert set(doc["paths"]["/api/handles/{handle}"]) == {"get", "put", "delete"}
    schemas = doc["components"]["schemas"]
    assert {"Value", "MintRequest", "PartData", "Error"} <= set(schemas)
    assert "cn_code" in schemas["PartData"]["properties"]
    assert schemas["Value"]["required"] == sorted(["data", "index", "type"])
