"""PACT v2 export over the shared carbon plant: token flow, ProductFootprint shape, hand-computed values,
paging, errors and the ``idres pcf`` command, on both backends (see :mod:`tests.idres.carbon`)."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

import idres.commands  # noqa: F401  (registers the subcommands)
from idres.cli import cli
from idres.ledger_key import load_signer
from idres.tokens import issue, mac_key
from idres.auth import Identity
from idres.handles import parse_handle
from ledger.note import Signer
from tests.conftest import ENT, ENT_AUTH, ENT_SECRET, OTHER, OTHER_AUTH, basic
from tests.idres.carbon import batch
from tests.idres.carbon.test_carbon_cli import NO_ENV

DECIMAL = re.compile(r"^\d+(\.\d+)?$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
REQUIRED = ("id", "specVersion", "version", "created", "status", "companyName", "companyIds",
            "productDescription", "productIds", "productCategoryCpc", "productNameCompany", "comment", "pcf")
PCF_REQUIRED = ("declaredUnit", "unitaryProductAmount", "pCfExcludingBiogenic", "pCfIncludingBiogenic",
                "fossilGhgEmissions", "fossilCarbonContent", "biogenicCarbonContent", "characterizationFactors",
                "ipccCharacterizationFactorsSources", "crossSectoralStandardsUsed",
                "boundaryProcessesDescription", "referencePeriodStart", "referencePeriodEnd",
                "exemptedEmissionsPercent", "exemptedEmissionsDescription", "packagingEmissionsIncluded")
DECIMAL_FIELDS = ("unitaryProductAmount", "pCfExcludingBiogenic", "pCfIncludingBiogenic", "fossilGhgEmissions",
                  "fossilCarbonContent", "biogenicCarbonContent")


def token(shared, auth=ENT_AUTH) -> dict[str, str]:
    r = shared.client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=auth)
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}


def everything(shared, headers=None) -> dict[str, dict]:
    r = shared.client.get("/2/footprints?limit=100", headers=headers or token(shared))
    assert r.status_code == 200 and "Link" not in r.headers, r.json
    return {f["productIds"][0]: f for f in r.json["data"]}


def urn(kind: str, name: str, owner: str = ENT) -> str:
    return f"urn:hdl:{owner}:{kind}:{name}"


def pact_error(r, status: int, code: str) -> None:
    assert (r.status_code, r.json["code"]) == (status, code), r.json
    assert set(r.json) == {"code", "message"} and r.json["message"]


# --- tokens ---------------------------------------------------------------------------

def test_token_endpoint_issues_bearer_tokens_to_handle_admins(shared):
    r = shared.client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=ENT_AUTH)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert (r.json["token_type"], r.json["expires_in"]) == ("bearer", 900)
    assert ENT_SECRET not in r.get_data(as_text=True)
    form = {"grant_type": "client_credentials", "client_id": f"300:0.NA/{OTHER}",
            "client_secret": "bolt-maker-secret"}
    assert shared.client.post("/auth/token", data=form).status_code == 200  # credentials in the body


@pytest.mark.parametrize("data, headers, status, error", [
    ({"grant_type": "client_credentials"}, basic(f"300:0.NA/{ENT}", "wrong"), 401, "invalid_client"),
    ({"grant_type": "client_credentials"}, basic(f"300:0.NA/{ENT}.77", "x"), 401, "invalid_client"),
    ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": f"300:0.NA/{ENT}", "client_secret": "wrong"}, {},
     401, "invalid_client"),
    ({}, ENT_AUTH, 400, "invalid_request"),
    ({"grant_type": "password"}, ENT_AUTH, 400, "unsupported_grant_type")])
def test_token_endpoint_refusals(shared, data, headers, status, error):
    r = shared.client.post("/auth/token", data=data, headers=headers)
    assert (r.status_code, r.json["error"]) == (status, error), r.json
    assert "access_token" not in r.json


def test_token_endpoint_wants_a_form(shared):
    r = shared.client.post("/auth/token", json={"grant_type": "client_credentials"}, headers=ENT_AUTH)
    assert (r.status_code, r.json["error"]) == (400, "invalid_request")


def _claims_token(key: bytes, claims: dict) -> str:
    """A token with chosen claims under ``key`` (what a forger holding the key could make)."""
    import base64
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    signed = "v1." + b64(json.dumps(claims).encode())
    return f"{signed}.{b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())}"


def test_footprints_need_a_valid_token(shared):
    r = shared.client.get("/2/footprints")
    pact_error(r, 403, "AccessDenied")
    pact_error(shared.client.get("/2/footprints", headers=ENT_AUTH), 400, "BadRequest")  # Basic, not Bearer
    pact_error(shared.client.get("/2/footprints", headers={"Authorization": "Bearer nonsense"}),
               403, "AccessDenied")
    key = mac_key(load_signer(shared.config).private_key)
    ent = Identity(300, parse_handle(f"0.NA/{ENT}"))
    with shared.db.read() as s:
        expired = issue(s, key, "88.118", ent, now=0).token
        foreign = issue(s, mac_key(Signer.generate("other.node/88.119").private_key), "88.118", ent).token
        elsewhere = issue(s, key, "88.119", ent).token
    r = shared.client.get("/2/footprints", headers={"Authorization": f"Bearer {expired}"})
    pact_error(r, 401, "TokenExpired")
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    for bad in (foreign, elsewhere):
        pact_error(shared.client.get("/2/footprints", headers={"Authorization": f"Bearer {bad}"}),
                   403, "AccessDenied")


def test_a_tampered_token_is_refused(shared):
    good = token(shared)["Authorization"].split()[1]
    version, claims, mac = good.split(".")
    import base64
    body = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    body["sub"] = f"300:0.NA/{OTHER}"  # another prefix's identity under ENT's MAC
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    for bad in (f"{version}.{forged}.{mac}", f"{version}.{claims}.{mac[:-2]}AA", good + "x"):
        pact_error(shared.client.get("/2/footprints", headers={"Authorization": f"Bearer {bad}"}),
                   403, "AccessDenied")
    # the MAC key alone does not help either: the token must match the key's current HS_SECKEY
    key = mac_key(load_signer(shared.config).private_key)
    stale = _claims_token(key, {**body, "sub": f"300:0.NA/{ENT}", "kfp": "0" * 16})
    pact_error(shared.client.get("/2/footprints", headers={"Authorization": f"Bearer {stale}"}),
               403, "AccessDenied")


def test_another_prefixs_token_reads_the_same_footprints(shared):
    assert everything(shared, token(shared, OTHER_AUTH)) == everything(shared)


# --- shape and values ---------------------------------------------------------------------

def test_every_footprint_has_the_pact_shape(shared):
    found = everything(shared)
    assert len(found) == 12
    for pf in found.values():
        assert all(k in pf for k in REQUIRED) and all(k in pf["pcf"] for k in PCF_REQUIRED), pf
        assert UUID.match(pf["id"]) and pf["specVersion"].startswith("2.") and pf["status"] == "Active"
        assert RFC3339.match(pf["created"]) and pf["companyIds"][0].startswith("urn:hdl:0.NA/")
        pcf = pf["pcf"]
        assert all(isinstance(pcf[k], str) and DECIMAL.match(pcf[k]) for k in DECIMAL_FIELDS), pcf
        assert (pcf["declaredUnit"], pcf["characterizationFactors"], pcf["ipccCharacterizationFactorsSources"]) \
            == ("kilogram", "AR6", ["AR6"])
        assert RFC3339.match(pcf["referencePeriodStart"]) and pcf["referencePeriodStart"] < pcf["referencePeriodEnd"]
        assert "not a CBAM" in pf["comment"]
    assert len({pf["id"] for pf in found.values()}) == 12
    assert everything(shared) == found  # stable across calls


def test_values_equal_the_hand_computed_footprints(shared):
    found = everything(shared)
    lot1 = found[urn("batch", "BOLT-LOT-1")]["pcf"]
    # (150 + 1,080 x 2.10) / 1,000 + (30 + 1,080 x 0.42) / 1,000 = 2.418 + 0.4836 kgCO2e/kg, 3 bolts of 52 g
    assert (lot1["pCfExcludingBiogenic"], lot1["unitaryProductAmount"], lot1["primaryDataShare"]) == (
        "2.9016", "0.156", 100.0)
    assert found[urn("batch", "BOLT-LOT-3")]["pcf"]["primaryDataShare"] == 5.26  # 0.15 / 2.85
    # BOLT-M10, mass-weighted (g): LOT-1 2.9016 x 156, LOT-2 3.198 x 104, D1 2.85 x 52, E1 (default
    # 1.80 + 0.30, no mark-up) 2.10 x 52, G1 2.1 x 52, G2 2.1 x 104; X1 (NOPE-9) left out
    parts = [("2.9016", 156, 1), ("3.198", 104, 1), ("2.85", 52, Decimal("0.15") / Decimal("2.85")),
             ("2.10", 52, 0), ("2.1", 52, 1), ("2.1", 104, 1)]
    emissions = sum(Decimal(f) * m for f, m, _ in parts)
    actual = sum(Decimal(f) * m * share for f, m, share in parts)
    bolts = found[urn("part-type", "BOLT-M10")]
    assert bolts["pcf"]["pCfExcludingBiogenic"] == str(emissions / 520) == "2.63508"
    assert bolts["pcf"]["primaryDataShare"] == float(round(100 * actual / emissions, 2)) == 81.78
    assert (bolts["pcf"]["unitaryProductAmount"], bolts["pcf"]["geographyCountry"]) == ("0.052", "CN")
    assert bolts["companyName"] == "Ningbo Fasteners Co." and bolts["productCategoryCpc"] == "42"
    assert batch("BOLT-LOT-5") in bolts["pcf"]["exemptedEmissionsDescription"]
    assert found[urn("part-type", "BLOCK-1.5T")]["pcf"]["pCfExcludingBiogenic"] == "11.7575442"
    rod = found[urn("part-type", "ROD-5.5", OTHER)]["pcf"]  # (2.5 + 3.1 + 2.5 + 3.9) / 4 coils of 2 t
    assert (rod["pCfExcludingBiogenic"], rod["primaryDataShare"]) == ("3", 46.67)
    assert urn("batch", "BOLT-LOT-5") not in found and urn("batch", "MIX-LOT") not in found


def test_proof_of_origin_names_the_checkpoint_and_the_entries(shared):
    seq = shared.plant.seq
    pf = everything(shared)[urn("batch", "BOLT-LOT-1")]
    (ext,) = pf["extensions"]
    data = ext["data"]
    assert data["contributingSeqs"] == sorted([seq["co2-ROD-LOT-1"], seq["t-A"], seq["co2-BOLT-LOT-1"]])
    assert pf["version"] == max(data["contributingSeqs"]) < data["checkpoint"]["size"]
    assert pf["pcf"]["referencePeriodStart"] == "2026-01-01T00:00:00Z"  # period 2026-Q1
    assert pf["pcf"]["referencePeriodEnd"] == "2026-04-01T00:00:00Z"
    proof = data["inclusionProof"].format(seq=data["contributingSeqs"][0])
    r = shared.client.get(urlsplit(proof).path + "?" + urlsplit(proof).query)
    assert r.status_code == 200 and r.json["root"] == data["checkpoint"]["root"]
    schema = shared.client.get(urlsplit(ext["dataSchema"]).path)
    assert schema.status_code == 200 and set(schema.json["required"]) <= set(data)


# --- paging and errors --------------------------------------------------------------------

def test_paging_follows_link_headers(shared):
    headers, seen, url = token(shared), [], "/2/footprints?limit=5"
    while url:
        r = shared.client.get(url, headers=headers)
        assert r.status_code == 200 and len(r.json["data"]) <= 5
        seen += [f["id"] for f in r.json["data"]]
        link = r.headers.get("Link")
        assert link is None or link.startswith("<http://localhost/2/footprints?") and link.endswith('rel="next"')
        url = link[1:link.index(">")].replace("http://localhost", "") if link else None
    assert seen == [f["id"] for f in everything(shared).values()]


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=abc", "limit=1.5", "offset=-2",
                                   "limit=99999999999"])
def test_bad_limits_are_bad_requests(shared, query):
    pact_error(shared.client.get(f"/2/footprints?{query}", headers=token(shared)), 400, "BadRequest")


def test_get_footprint_and_its_404(shared):
    headers = token(shared)
    pf = everything(shared)[urn("part-type", "BOLT-M10")]
    r = shared.client.get(f"/2/footprints/{pf['id']}", headers=headers)
    assert r.status_code == 200 and r.json["data"] == pf
    assert shared.client.get(f"/2/footprints/{pf['id'].upper()}", headers=headers).json["data"] == pf
    pact_error(shared.client.get("/2/footprints/00000000-0000-5000-8000-000000000000", headers=headers),
               404, "NoSuchFootprint")
    pact_error(shared.client.get("/2/footprints/not-a-uuid", headers=headers), 400, "BadRequest")
    from idres.carbon.pact import PactSubject
    broken = PactSubject("batch", ENT, "BOLT-LOT-5").footprint_id("88.118")  # rests on NOPE-9
    r = shared.client.get(f"/2/footprints/{broken}", headers=headers)
    pact_error(r, 404, "NoSuchFootprint")
    assert "NOPE-9" in r.json["message"]


# --- idres pcf -------------------------------------------------------------------------------

def run_pcf(shared, *args: str, code: int = 0):
    result = CliRunner(env=NO_ENV).invoke(cli, ["--database", shared.config.database, "--ledger-key-file",
                                                shared.config.ledger_key_file, "--base-url", "http://node.test",
                                                "pcf", *args])
    assert result.exit_code == code and "Traceback" not in result.output, result.output
    return result


def test_cli_pcf(shared):
    h = shared.plant.h
    plain = json.loads(run_pcf(shared, h["K1"]).output)
    api = shared.client.get(f"/api/carbon/footprint/{h['K1']}").json
    assert plain == api and plain["pcf_excluding_biogenic"] == "11.7575442"
    pact = json.loads(run_pcf(shared, batch("BOLT-LOT-1"), "--pact").output)
    assert pact == everything(shared)[urn("batch", "BOLT-LOT-1")]
    kind = json.loads(run_pcf(shared, f"part-type:{ENT}/BOLT-M10", "--pact").output)
    assert kind["pcf"]["pCfExcludingBiogenic"] == "2.63508"
    part = json.loads(run_pcf(shared, h["A1"], "--pact").output)
    assert part["productIds"] == [f"urn:hdl:{h['A1']}"] and part["pcf"]["pCfExcludingBiogenic"] == "2.9016"
    assert part["pcf"]["unitaryProductAmount"] == "0.052"
    assert "[subject]" in run_pcf(shared, f"{ENT}/NEVER-SEEN", code=1).output
    assert "[subject]" in run_pcf(shared, "part-type:nothing", "--pact", code=1).output
