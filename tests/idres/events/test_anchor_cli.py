"""``idres ledger anchor`` and ``idres ledger verify --anchors`` (embedded chain)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import idres.commands  # noqa: F401  (registers the subcommands)
from idres.cli import cli
from tests.conftest import row_count
from tests.idres.events import accepted, event, setup_parts

NO_ENV = {"IDRES_DATABASE": None, "IDRES_LEDGER_KEY_FILE": None, "IDRES_LEDGER_KEY": None,
          "IDRES_ANCHOR_RPC": None, "IDRES_ANCHOR_KEY": None}


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(config, *args: str) -> Result:
    result = CliRunner(env=NO_ENV).invoke(
        cli, ["--database", config.database, "--ledger-key-file", config.ledger_key_file, *args])
    assert "Traceback" not in result.output
    return result


def test_anchor_records_the_latest_checkpoint_once(client, db, config) -> None:
    mine, _ = setup_parts(client, db, config, ent=2, other=1)
    accepted(client, event("assembled", parent=mine[0], children=[mine[1]]))
    first = run(config, "ledger", "anchor", "--verify")
    assert first.exit_code == 0, first.output
    assert "embedded test chain" in first.output and "1 anchors verified" in first.output
    with db.read() as s:
        size = int(s.one("SELECT size FROM ledger_head")["size"])
        anchored = s.one("SELECT size, root FROM ledger_anchors")
        latest = s.one("SELECT root FROM ledger_checkpoints WHERE size = ?", (size,))
    assert int(anchored["size"]) == size and anchored["root"] == latest["root"]
    again = run(config, "ledger", "anchor")
    assert again.exit_code == 0 and "already anchored" in again.output
    assert row_count(db, "ledger_anchors") == 1


def test_verify_anchors_needs_a_real_chain(client, db, config) -> None:
    result = run(config, "ledger", "verify", "--anchors")
    assert result.exit_code == 1
    assert "OK:" in result.output and "IDRES_ANCHOR_RPC" in result.output
