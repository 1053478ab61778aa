"""``idres ledger verify | replay --check | export`` and the offline verifier, on each backend."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import idres.commands  # noqa: F401  (registers the subcommands)
from idres.cli import cli
from ledger.note import Signer, Verifier
from tests.conftest import ENT, OTHER, row_count
from tests.idres.events import accepted, carbon, event, setup_parts

NO_ENV = {"IDRES_DATABASE": None, "IDRES_NODE_PREFIX": None, "IDRES_BASE_URL": None,
          "IDRES_NODE_ROLE": None, "IDRES_LEDGER_KEY": None, "IDRES_LEDGER_KEY_FILE": None}
# Runs ledger.verify with every idres module made unimportable: a third party's tool.
OFFLINE = ("import runpy, sys; sys.modules['idres'] = None; sys.argv = ['ledger.verify'] + sys.argv[1:]; "
           "runpy.run_module('ledger.verify', run_name='__main__')")


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def outputs() -> list[str]:
    """Everything the commands printed, to check that no secret was among it."""
    return []


@pytest.fixture
def idres(config, outputs):
    def run(*args: str) -> Result:
        result = CliRunner(env=NO_ENV).invoke(
            cli, ["--database", config.database, "--ledger-key-file", config.ledger_key_file, *args])
        outputs.append(result.output)
        assert "Traceback" not in result.output
        return result
    return run


@pytest.fixture
def history(client, db, config) -> int:
    """A few batches of events of several types; returns the log size."""
    mine, theirs = setup_parts(client, db, config, ent=4, other=1)
    accepted(client, event("assembled", parent=mine[0], children=[mine[1], theirs[0]]))
    accepted(client, {"events": [event("disassembled", "2026-11-03T00:00:00Z", parent=mine[0], children=[mine[1]]),
                                 event("shipped", handles=[mine[0]], from_party=ENT, to_party=OTHER),
                                 carbon(handle=mine[2])]})
    return row_count(db, "ledger_entries")


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def failed(result: Result, words: str) -> Result:
    assert result.exit_code == 1, (result.output, result.exception)
    assert words in result.stderr, result.stderr
    assert "OK" not in result.stdout
    return result


def entry_text(db, seq: int) -> str:
    with db.read() as s:
        return s.one("SELECT entry FROM ledger_entries WHERE seq = ?", (seq,))["entry"]


def set_entry(db, seq: int, text: str) -> None:
    with db.write() as s:
        s.run("UPDATE ledger_entries SET entry = ? WHERE seq = ?", (text, seq))


def one_byte_changed(text: str) -> str:
    i = text.index('"actor":"') + len('"actor":"')  # 88.118.8 -> 98.118.8
    assert text[i] == "8"
    return text[:i] + "9" + text[i + 1:]


def test_verify_passes_then_names_the_tampered_entry(idres, db, history):
    r = ok(idres("ledger", "verify"))
    assert r.stdout.strip() == f"OK: {history} entries verified"
    assert f"verified {history}/{history} entries" in r.stderr  # progress
    for seq in (0, history // 2, history - 1):
        original = entry_text(db, seq)
        set_entry(db, seq, one_byte_changed(original))
        r = failed(idres("ledger", "verify"), f"FAILED: entry {seq}: leaf hash does not match")
        set_entry(db, seq, original)
        ok(idres("ledger", "verify"))


def test_replay_check(idres, db, history):
    r = ok(idres("ledger", "replay", "--check"))
    assert r.stdout.strip() == f"replayed {history} entries"
    with db.write() as s:
        s.run("UPDATE part_state SET holder = 'someone-else'")
    failed(idres("ledger", "replay", "--check"), "FAILED: replayed projections differ")
    ok(idres("ledger", "replay", "--check"))  # the failed check's replay rebuilt them
    with db.read() as s:
        assert not s.all("SELECT handle FROM part_state WHERE holder = 'someone-else'")


def offline_verify(path: Path, key: str) -> subprocess.CompletedProcess:
    repo = Path(__file__).resolve().parents[3]
    return subprocess.run([sys.executable, "-c", OFFLINE, str(path), "--key", key], capture_output=True,
                          text=True, timeout=60, cwd=path.parent,
                          env={**os.environ, "PYTHONPATH": str(repo)})


def test_export_verifies_offline_and_detects_an_edit(client, idres, history, tmp_path):
    key = client.get("/api/ledger/key").json["verifierKey"]
    path = tmp_path / "ledger.jsonl"
    r = ok(idres("ledger", "export", str(path)))
    assert f"exported {history} entries" in r.stderr and f"--key {key}" in r.stderr
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert records[0]["size"] == history
    assert [rec["seq"] for rec in records if rec.get("type") == "entry"] == list(range(history))
    assert sum(rec.get("type") == "checkpoint" for rec in records) >= 4

    done = offline_verify(path, key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"OK: {history} entries")

    impostor = Signer.generate(Verifier(key).name).verifier_key  # same name, another key
    wrong = offline_verify(path, impostor)
    assert wrong.returncode == 1 and "no signature by a known key" in wrong.stderr, wrong.stderr

    target = next(i for i, rec in enumerate(records) if rec.get("seq") == 3)
    records[target]["entry"] = one_byte_changed(records[target]["entry"])
    lines[target] = json.dumps(records[target], ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = offline_verify(path, key)
    assert done.returncode == 1 and "FAILED: entry 3" in done.stderr, done.stderr


def all_rows_text(db) -> str:
    """Every value of every table, as text."""
    with db.read() as s:
        if db.dialect == "sqlite":
            tables = [r["name"] for r in s.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            tables = [r["table_name"] for r in s.all(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]
        assert "ledger_entries" in tables and "handle_values" in tables
        return "\n".join(str(list(dict(r).values())) for t in tables for r in s.all(f"SELECT * FROM {t}"))


def test_private_key_stays_in_its_0600_file(client, idres, outputs, db, config, history, tmp_path):
    key_file = Path(config.ledger_key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = key_file.read_text().strip()
    assert private.startswith("PRIVATE+KEY+")
    seed = private.split("+", 4)[4]  # PRIVATE+KEY+name+keyid+base64; base64 may contain "+"
    assert len(seed) >= 40
    ok(idres("ledger", "verify"))
    ok(idres("ledger", "replay", "--check"))
    ok(idres("ledger", "export", str(tmp_path / "export.jsonl")))
    ok(idres("ledger", "export", "-"))
    failed(idres("--ledger-key-file", str(tmp_path / "none.key"), "ledger", "verify"), "No ledger key")
    outputs.append((tmp_path / "export.jsonl").read_text(encoding="utf-8"))
    outputs.append(client.get("/api/handles/0.NA/88.118").get_data(as_text=True))
    outputs.append(all_rows_text(db))
    if db.dialect == "sqlite":
        for name in (config.database, config.database + "-wal"):
            if os.path.exists(name):
                outputs.append(Path(name).read_bytes().decode("latin-1"))
    everything = "\n".join(outputs)
    assert client.get("/api/ledger/key").json["verifierKey"] in everything  # the search does find keys
    assert private not in everything and seed not in everything

    # `idres init` creates a new node's key the same way
    fresh = tmp_path / "fresh.key"
    r = CliRunner(env=NO_ENV).invoke(cli, ["--database", str(tmp_path / "fresh.db"), "--ledger-key-file",
                                           str(fresh), "init"])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert fresh.read_text().strip() not in r.output
    os.chmod(fresh, 0o644)  # a key others can read is refused
    r = CliRunner(env=NO_ENV).invoke(cli, ["--database", str(tmp_path / "fresh.db"), "--ledger-key-file",
                                           str(fresh), "ledger", "verify"])
    assert r.exit_code == 1 and "readable by others" in r.output
