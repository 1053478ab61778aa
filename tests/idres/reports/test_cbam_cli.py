"""``idres cbam quarterly|annual`` over the shared plant, as the local operator for an --actor."""
from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner, Result

import idres.commands  # noqa: F401  (registers the subcommands)
from idres.cli import cli
from tests.conftest import ENT, OTHER
from tests.idres.carbon import HEAVY_IMPORTER
from tests.idres.reports import DECLARANT, SIGNATURE, assert_valid_qreport

NO_ENV = {"IDRES_DATABASE": None, "IDRES_NODE_PREFIX": None, "IDRES_BASE_URL": None,
          "IDRES_NODE_ROLE": None, "IDRES_LEDGER_KEY": None, "IDRES_LEDGER_KEY_FILE": None}


def run(shared, *args: str, code: int = 0) -> Result:
    result = CliRunner(env=NO_ENV).invoke(cli, ["--database", shared.config.database, "--ledger-key-file",
                                                shared.config.ledger_key_file, *args])
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, result.output
    return result


def test_quarterly_writes_xml_and_json(shared, tmp_path):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"declarant": DECLARANT, "signature": SIGNATURE, "year": 2027, "quarter": 1}))
    xml_out, json_out = tmp_path / "q.xml", tmp_path / "q.json"
    run(shared, "cbam", "quarterly", "--actor", ENT, "--request", str(request), "--year", "2026", "--quarter",
        "4", "--handle", shared.plant.h["A3"], "--xml", str(xml_out), "--json", str(json_out))
    xml = xml_out.read_text()
    assert_valid_qreport(xml)
    answer = json.loads(json_out.read_text())
    assert answer["xml"] == xml and answer["exporter"] == ENT
    assert answer["report"]["imported_goods"][0]["see_direct"] == "2.4180000"
    printed = run(shared, "cbam", "quarterly", "--actor", ENT, "--request", str(request), "--year", "2026",
                  "--quarter", "4", "--to-party", "EU-IMP-1").output
    assert printed.startswith("<?xml") and "<NetMass>0.000416</NetMass>" in printed
    refused = run(shared, "cbam", "quarterly", "--actor", OTHER, "--request", str(request), "--year", "2026",
                  "--quarter", "4", "--handle", shared.plant.h["A3"], code=1).output
    assert "[handles[0]]" in refused and "not shipped by 88.118.9" in refused
    assert "[declarant]" in run(shared, "cbam", "quarterly", "--actor", ENT, "--year", "2026", "--quarter", "4",
                                "--to-party", "EU-IMP-1", code=1).output


def test_annual_as_csv_and_json(shared, tmp_path):
    out = run(shared, "cbam", "annual", "--actor", OTHER, "--importer", HEAVY_IMPORTER, "--year", "2026",
              "--price", "country:IN=10", "--certificate-price", "80", "--csv").output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["cn_code"], r["certificates"], r["certificates_to_surrender"]) for r in rows] == [
        ("72139110", "173.2500000", ""), ("TOTAL", "173.2500000", "174")]
    target = tmp_path / "annual.json"
    run(shared, "cbam", "annual", "--actor", OTHER, "--importer", HEAVY_IMPORTER, "--year", "2026",
        "--price", "IN-MILL-B=20", "--certificate-price", "80", "-o", str(target))
    assert json.loads(target.read_text())["totals"]["certificates_to_surrender"] == 149
    assert "[importer]" in run(shared, "cbam", "annual", "--actor", ENT, "--importer", HEAVY_IMPORTER,
                               "--year", "2026", code=1).output  # ENT shipped nothing there
    assert "--price" in run(shared, "cbam", "annual", "--actor", OTHER, "--importer", HEAVY_IMPORTER,
                            "--year", "2026", "--price", "IN-MILL-B", code=2).output
