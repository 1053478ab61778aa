"""``idres trace up|down`` and ``idres recall scope|create`` on the shared plant, on both backends."""
from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner, Result

import idres.commands  # noqa: F401  (registers the subcommands)
from idres.cli import cli
from tests.conftest import ENT, row_count
from tests.idres.trace import STEEL7, day

NO_ENV = {"IDRES_DATABASE": None, "IDRES_NODE_PREFIX": None, "IDRES_BASE_URL": None,
          "IDRES_NODE_ROLE": None, "IDRES_LEDGER_KEY": None, "IDRES_LEDGER_KEY_FILE": None}


@pytest.fixture
def idres(shared):
    def run(*args: str, code: int = 0) -> Result:
        result = CliRunner(env=NO_ENV).invoke(
            cli, ["--database", shared.config.database, "--ledger-key-file", shared.config.ledger_key_file, *args])
        assert "Traceback" not in result.output
        assert result.exit_code == code, result.output
        return result
    return run


def test_trace_down_prints_the_tree_and_json_matches_the_api(shared, idres):
    h = shared.plant.h
    lines = idres("trace", "down", h["VIN-1"], "--as-of", day(9)).output.splitlines()
    assert lines[0].startswith(h["VIN-1"])
    assert [line.split("  [")[0] for line in lines[1:5]] == [
        f"  {h['ENG-1']}", f"    {h['BLOCK-1']}", f"      {h['BOLT-001']}", f"        {STEEL7}"]
    assert any(h["BOLT-002"] in line for line in lines) and not any(h["BOLT-003"] in line for line in lines)
    cli_json = json.loads(idres("trace", "down", h["VIN-1"], "--as-of", day(9), "--json").output)
    api = shared.client.get(f"/api/genealogy/{h['VIN-1']}", query_string={"asOf": day(9)}).json
    assert cli_json == api


def test_trace_up_with_depth_and_bad_options(shared, idres):
    h = shared.plant.h
    out = idres("trace", "up", h["BOLT-004"], "--depth", "2", "--as-of", day(14)).output
    assert h["ENG-2"] in out and h["VIN-3"] not in out and "truncated at depth 2" in out
    assert "[--as-of]" in idres("trace", "up", h["BOLT-004"], "--as-of", "soon", code=1).output
    assert "[depth]" in idres("trace", "up", h["BOLT-004"], "--depth", "0", code=1).output
    assert "rc 100" in idres("trace", "down", f"{ENT}/NOPE", code=1).output


def test_trace_sync_reports_the_entries_covered(shared, idres):
    size = row_count(shared.db, "ledger_entries")
    assert idres("trace", "sync").output.strip() == f"part dates cover {size} ledger entries"


def test_recall_scope_formats(shared, idres):
    h = shared.plant.h
    api = shared.client.post("/api/recalls/scope", json={"batches": [STEEL7]}).json
    assert json.loads(idres("recall", "scope", "--batch", f"{ENT}/STEEL-7", "--format", "json").output) | {
        "asOf": None} == api | {"asOf": None}
    rows = list(csv.DictReader(io.StringIO(idres("recall", "scope", "--batch", STEEL7, "--format", "csv").output)))
    assert [r["handle"] for r in rows] == [p["handle"] for p in api["products"]]
    text = idres("recall", "scope", "--part-type", "BOLT-M10", "--from", "2026-10-02", "--to", "2026-10-03",
                 "--only-non-conformant").output
    assert h["VIN-1"] in text and "1 product(s)" in text
    assert "[partType]" in idres("recall", "scope", "--from", "2026-10-02", code=1).output


def test_recall_create_as_the_local_operator(shared, idres):
    h = shared.plant.h
    size = row_count(shared.db, "ledger_entries")
    assert "[handles]" in idres("recall", "create", "--actor", ENT, "--campaign", "RC-CLI", code=1).output
    assert row_count(shared.db, "ledger_entries") == size
    out = json.loads(idres("recall", "create", "--actor", ENT, "--campaign", "RC-CLI",
                           "--handle", h["BOLT-005"]).output)
    assert (out["recorded"], out["notRecorded"], len(out["entries"])) == ([h["BOLT-005"]], [], 1)
    assert row_count(shared.db, "ledger_entries") == size + 1
    state = shared.client.post("/api/recalls/scope", json={"handles": [h["BOLT-005"]]}).json["products"][0]
    assert (state["status"], state["recallCampaign"]) == ("recalled", "RC-CLI")
