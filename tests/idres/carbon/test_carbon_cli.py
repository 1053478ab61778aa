"""``idres installation``, ``idres part-type`` and ``idres cbam defaults`` on each backend."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

import idres.commands  # noqa: F401  (registers the subcommands)
from idres.carbon.defaults import SHIPPED_CSV, parse_csv
from idres.cli import cli
from tests.conftest import ENT, row_count

NO_ENV = {"IDRES_DATABASE": None, "IDRES_NODE_PREFIX": None, "IDRES_BASE_URL": None,
          "IDRES_NODE_ROLE": None, "IDRES_LEDGER_KEY": None, "IDRES_LEDGER_KEY_FILE": None}


@pytest.fixture
def idres_cli(db, config):
    def run(*args: str, code: int = 0) -> Result:
        result = CliRunner(env=NO_ENV).invoke(
            cli, ["--database", config.database, "--ledger-key-file", config.ledger_key_file, *args])
        assert "Traceback" not in result.output
        assert result.exit_code == code, result.output
        return result
    return run


def test_installations_and_part_types(idres_cli, db):
    out = idres_cli("installation", "add", "CN-BOLT-01", "--owner", ENT, "--name", "Ningbo bolt works",
                "--country", "CN", "--city", "Ningbo", "--unlocode", "CNNGB", "--lat", "29.8683",
                "--lon", "121.544").output
    assert "added installation CN-BOLT-01 (CN, Ningbo)" in out
    assert "[country]" in idres_cli("installation", "add", "BAD-1", "--owner", ENT, "--name", "x",
                                "--country", "XX", "--city", "y", code=1).output
    assert "[owner]" in idres_cli("installation", "add", "BAD-2", "--owner", "88.118.77", "--name", "x",
                              "--country", "CN", "--city", "y", code=1).output
    listed = json.loads(idres_cli("installation", "list", "--json").output)
    assert [(i["installation_id"], i["latitude"], i["owner"]) for i in listed] == [
        ("CN-BOLT-01", "29.8683", ENT)]
    out = idres_cli("part-type", "add", "BOLT-M10", "--owner", ENT, "--cn-code", "73181590",
                "--net-mass-g", "52").output
    assert "(CN 73181590, a CBAM good)" in out
    assert "[cn_code]" in idres_cli("part-type", "add", "BOLT-M12", "--owner", ENT, "--cn-code", "7318159",
                                "--net-mass-g", "52", code=1).output
    assert "[net_mass_g]" in idres_cli("part-type", "add", "BOLT-M12", "--owner", ENT, "--cn-code",
                                   "73181590", "--net-mass-g", "0", code=1).output
    assert "BOLT-M10" in idres_cli("part-type", "list", "--owner", ENT).output
    assert (row_count(db, "carbon_installations"), row_count(db, "carbon_part_types")) == (1, 1)


def test_default_values_load_and_replace(idres_cli, db, tmp_path):
    result = idres_cli("cbam", "defaults", "load")
    shipped = len(parse_csv(SHIPPED_CSV.read_text(), "x"))
    assert f"loaded {shipped} default values" in result.output and "illustrative" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("country,cn_code,direct,indirect\nCN,7318,1.0,0.2\nCN,8708,1.0,0.2\n")
    assert "[line 3.cn_code]" in idres_cli("cbam", "defaults", "load", str(bad), code=1).output
    assert row_count(db, "cbam_default_values") == shipped  # the old table stays
    good = tmp_path / "official.csv"
    good.write_text("country,cn_code,direct,indirect\nCN,7318,1.0,0.2\n")
    assert "loaded 1 default values" in idres_cli("cbam", "defaults", "load", str(good)).output
    listed = json.loads(idres_cli("cbam", "defaults", "list", "--json").output)
    assert listed == [{"country": "CN", "cn_code": "7318", "direct": "1.0", "indirect": "0.2",
                       "source": "official.csv"}]
