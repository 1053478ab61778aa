"""The ``idres`` command line on each backend.

Most cases run in-process with click's test runner; the error paths are also
run through the installed console script, as an operator would.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import idres.commands  # noqa: F401  (registers the subcommands)
from idres.auth import authenticate
from idres.cli import cli
from idres.errors import InvalidCredentials
from idres.storage import open_database
from tests.idres.live_node import run_idres, stored_text

ADMIN_SECRET = "cli-admin-secret-4b1d"
ENT_SECRET = "cli-engine-maker-secret-0e9a"
OTHER_SECRET = "cli-admin-secret-replacement"
BASE_URL = "http://node.test:8000"
NO_ENV = {"IDRES_DATABASE": None, "IDRES_NODE_PREFIX": None, "IDRES_BASE_URL": None,
          "IDRES_NODE_ROLE": None}


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where files a command writes beside itself cannot reach the repository."""
    monkeypatch.chdir(tmp_path)


def idres(database: str, *args: str, stdin: str | None = None) -> Result:
    runner = CliRunner(env=NO_ENV)
    return runner.invoke(cli, ["--database", database, "--base-url", BASE_URL, *args], input=stdin)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def failed(result: Result, code: int, message: str) -> Result:
    """A clean failure: the exit status, the message on stderr, no traceback."""
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert message in result.stderr
    assert "Traceback" not in result.output
    return result


def logs_in(database: str, user: str, secret: str) -> bool:
    """Does ``secret`` authenticate as ``user`` (``index:handle``)?"""
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    db = open_database(database, 1)
    try:
        with db.read() as s:
            authenticate(s, f"Basic {token}")
        return True
    except InvalidCredentials:
        return False
    finally:
        db.close()


def prefixes(database: str) -> dict[str, int]:
    rows = json.loads(ok(idres(database, "prefix", "list", "--json")).stdout)
    return {row["prefix"]: row["handles"] for row in rows}


def test_init_and_prefix_create(database_url: str) -> None:
    failed(idres(database_url, "prefix", "list"), 1, "(has 'idres init' been run?)")
    r = ok(idres(database_url, "init"))
    assert "database ready" in r.stdout and "node admin" not in r.stdout
    assert prefixes(database_url) == {}

    r = ok(idres(database_url, "init", "--admin-secret-stdin", stdin=ADMIN_SECRET + "\n"))
    assert "node admin: 300:0.NA/88.118" in r.stdout
    assert logs_in(database_url, "300:0.NA/88.118", ADMIN_SECRET)

    # a second admin secret is refused and the first one stays
    failed(idres(database_url, "init", "--admin-secret-stdin", stdin=OTHER_SECRET + "\n"), 1,
           "0.NA/88.118 already exists; the admin secret was not changed")
    assert logs_in(database_url, "300:0.NA/88.118", ADMIN_SECRET)
    assert not logs_in(database_url, "300:0.NA/88.118", OTHER_SECRET)
    ok(idres(database_url, "init"))  # upgrading an initialized database is fine
    failed(idres(database_url, "init", "--admin-secret-stdin", stdin=""), 2,
           "standard input was empty")

    r = ok(idres(database_url, "prefix", "create", "88.118.8", "--secret-stdin", stdin=ENT_SECRET + "\n"))
    assert "created 0.NA/88.118.8; log in as 300:0.NA/88.118.8" in r.stdout
    assert logs_in(database_url, "300:0.NA/88.118.8", ENT_SECRET)
    assert ENT_SECRET not in r.output

    failed(idres(database_url, "prefix", "create", "88.118.7", "--secret-stdin", stdin="short\n"), 1,
           "at least 8 characters")
    failed(idres(database_url, "prefix", "create", "88.118.7", "--secret-stdin", stdin=""), 2,
           "standard input was empty")
    failed(idres(database_url, "prefix", "create", "88.118.7"), 2, "--secret-stdin")
    failed(idres(database_url, "prefix", "create", "99.1", "--secret-stdin", stdin=ENT_SECRET), 1,
           "error (rc 301): That prefix doesn't live here")
    failed(idres(database_url, "prefix", "create", "88.118.8", "--secret-stdin", stdin=OTHER_SECRET), 1,
           "error (rc 101)")
    assert logs_in(database_url, "300:0.NA/88.118.8", ENT_SECRET)
    failed(idres(database_url, "prefix", "create", "bad prefix", "--secret-stdin", stdin=ENT_SECRET), 1,
           "error (rc 102)")

    assert prefixes(database_url) == {"88.118": 0, "88.118.8": 0}
    r = ok(idres(database_url, "prefix", "list"))
    assert [line.split()[:2] for line in r.stdout.splitlines()] == [["88.118", "0"], ["88.118.8", "0"]]

    stored = stored_text(database_url)
    assert b"HS_SECKEY" in stored and b"scrypt$" in stored
    for secret in (ADMIN_SECRET, ENT_SECRET, OTHER_SECRET):
        assert secret.encode() not in stored


def test_mint_and_resolve(database_url: str) -> None:
    ok(idres(database_url, "init", "--admin-secret-stdin", stdin=ADMIN_SECRET))
    ok(idres(database_url, "prefix", "create", "88.118.8", "--secret-stdin", stdin=ENT_SECRET))

    r = ok(idres(database_url, "mint", "88.118.8", "--pattern", "ENG-2026-{seq:06}", "--count", "25",
                 "--value", "URL=https://parts.example/eng?lot=11", "--value", "PART.TYPE=ENGINE-1.5T"))
    assert r.stdout.strip() == "minted 25: 88.118.8/ENG-2026-000001 .. 88.118.8/ENG-2026-000025"
    assert "minting" in r.stderr and "minting" not in r.stdout
    assert prefixes(database_url)["88.118.8"] == 25

    record = json.loads(ok(idres(database_url, "resolve", "88.118.8/ENG-2026-000025")).stdout)
    assert record["responseCode"] == 1 and record["handle"] == "88.118.8/ENG-2026-000025"
    assert [(v["index"], v["type"], v["data"]["value"]) for v in record["values"]] == [
        (1, "URL", "https://parts.example/eng?lot=11"), (2, "PART.TYPE", "ENGINE-1.5T")]
    typed = json.loads(ok(idres(database_url, "resolve", "88.118.8/eng-2026-000001",
                                "--type", "PART.")).stdout)
    assert typed["handle"] == "88.118.8/eng-2026-000001"
    assert [v["type"] for v in typed["values"]] == ["PART.TYPE"]

    bad = [
        (["--pattern", "ENG-{seq:06", "--count", "5"], 1, "error (rc 4): pattern"),
        (["--pattern", "ENG-NO-SEQ", "--count", "5"], 1, "error (rc 4): pattern"),
        (["--pattern", "ENG-{seq}-{seq}", "--count", "5"], 1, "error (rc 4): pattern"),
        (["--pattern", "ENG-{seq}", "--count", "0"], 1, "error (rc 4): count"),
        (["--pattern", "ENG-{seq}", "--count", "-3"], 1, "error (rc 4): count"),
        (["--pattern", "ENG-{seq}", "--count", "100001"], 1, "error (rc 4): count"),
        (["--pattern", "ENG-{seq}", "--count", "many"], 2, "Invalid value for '--count'"),
        (["--pattern", "ENG-{seq}", "--count", "5", "--value", "NO-EQUALS"], 2, "not TYPE=TEXT"),
        # another pattern rendering names that exist: all or none
        (["--pattern", "ENG-2026-00{seq:04}", "--count", "30"], 1, "error (rc 101)"),
    ]
    for args, code, message in bad:
        r = failed(idres(database_url, "mint", "88.118.8", *args), code, message)
        assert "minting" not in r.output, args
    for prefix, message in (("99.1", "error (rc 301)"), ("88.118.5", "error (rc 301)"),
                            ("88.118..8", "error (rc 102)")):
        failed(idres(database_url, "mint", prefix, "--pattern", "X-{seq}", "--count", "2"), 1, message)
    assert prefixes(database_url) == {"88.118": 0, "88.118.8": 25}
    r = ok(idres(database_url, "mint", "88.118.8", "--pattern", "ENG-2026-{seq:06}", "--count", "2"))
    assert r.stdout.strip() == "minted 2: 88.118.8/ENG-2026-000026 .. 88.118.8/ENG-2026-000027"
    assert prefixes(database_url) == {"88.118": 0, "88.118.8": 27}

    r = failed(idres(database_url, "resolve", "88.118.8/ENG-2026-999999"), 1,
               "error (rc 100): Handle not found")
    assert r.stdout == ""
    failed(idres(database_url, "resolve", "99.1/X"), 1, "error (rc 301)")
    failed(idres(database_url, "resolve", "no-slash"), 1, "error (rc 102)")

    # secrets never shown back: resolve hides HS_SECKEY
    prefix_record = json.loads(ok(idres(database_url, "resolve", "0.NA/88.118.8")).stdout)
    assert "HS_SECKEY" not in {v["type"] for v in prefix_record["values"]}
    assert {"HS_ADMIN", "HS_SITE"} <= {v["type"] for v in prefix_record["values"]}


def test_demo_loads_once(database_url: str) -> None:
    r = ok(idres(database_url, "demo", "--parts", "7"))
    lines = r.stdout.splitlines()
    assert any("88.118.8 (Wuxi Engine Works): 4 parts 88.118.8/ENG-2026-000001 .. "
               "88.118.8/ENG-2026-000004" in line for line in lines)
    assert any("88.118.9 (Changzhou Fastener Co.): 3 parts 88.118.9/BOLT-2026-000001 .. "
               "88.118.9/BOLT-2026-000003" in line for line in lines)
    shown = dict(re.findall(r"(300:0\.NA/[0-9.]+)(?: with)? secret \(shown once\): (\S+)", r.stdout))
    assert set(shown) == {"300:0.NA/88.118", "300:0.NA/88.118.8", "300:0.NA/88.118.9"}
    for user, secret in shown.items():
        assert logs_in(database_url, user, secret)
    assert prefixes(database_url) == {"88.118": 0, "88.118.8": 4, "88.118.9": 3 + 12}  # 12 exports

    part = json.loads(ok(idres(database_url, "resolve", "88.118.9/BOLT-2026-000003")).stdout)
    data = {v["type"]: v["data"]["value"] for v in part["values"]}
    assert data["PART.MANUFACTURER"] == "Changzhou Fastener Co."
    assert data["PART.CN_CODE"] == "73181568"

    again = ok(idres(database_url, "demo", "--parts", "50"))
    assert again.stdout.splitlines() == ["88.118.8 already loaded", "88.118.9 already loaded"]
    assert "secret" not in again.stdout
    assert prefixes(database_url) == {"88.118": 0, "88.118.8": 4, "88.118.9": 3 + 12}
    stored = stored_text(database_url)
    for secret in shown.values():
        assert secret.encode() not in stored
    failed(idres(database_url, "demo", "--parts", "1"), 2, "--parts")


def test_the_demo_carries_the_worked_cbam_example(database_url: str, tmp_path: Path) -> None:
    """A newcomer can run a CBAM report on the demo at once: the exported bolts' SEE is
    REFERENCE section 7's (150 + 1,080 x 2.10) / 1,000 = 2.418 direct, (30 + 1,080 x 0.42) / 1,000
    = 0.4836 indirect, and the QReport validates."""
    from tests.idres.reports import DECLARANT, SIGNATURE, assert_valid_qreport

    ok(idres(database_url, "demo", "--parts", "4"))
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"declarant": DECLARANT, "signature": SIGNATURE}))
    xml, answer = tmp_path / "q.xml", tmp_path / "q.json"
    ok(idres(database_url, "cbam", "quarterly", "--actor", "88.118.9", "--request", str(request),
             "--year", "2026", "--quarter", "4", "--to-party", "DE0123456789012",
             "--xml", str(xml), "--json", str(answer)))
    assert_valid_qreport(xml.read_text())
    (good,) = json.loads(answer.read_text())["report"]["imported_goods"]
    assert (good["cn_code"], good["installation_id"], good["see_direct"], good["see_indirect"]) == (
        "73181568", "CN-CZ-FAST", "2.4180000", "0.4836000")
    assert good["net_mass_t"] == "0.000624"  # 12 bolts of 52 g


def test_console_script_errors(tmp_path: Path) -> None:
    """The installed ``idres`` script: messages and exit status 1, never a traceback.

    The entry point does not depend on the backend: SQLite only, to save time.
    """
    home, database_url = tmp_path / "home", str(tmp_path / "script.db")

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        p = run_idres(database_url, BASE_URL, *args, stdin=stdin, home=home, timeout=60)
        assert "Traceback" not in p.stderr + p.stdout, p.stderr
        return p.returncode, p.stdout, p.stderr

    code, out, err = run("resolve", "88.118.8/X")  # nothing initialized yet
    assert code == 1 and out == ""
    assert "database:" in err and "idres init" in err
    assert run("init", "--admin-secret-stdin", stdin=ADMIN_SECRET + "\n")[0] == 0
    assert run("prefix", "create", "88.118.8", "--secret-stdin", stdin=ENT_SECRET + "\n")[0] == 0

    assert run("resolve", "88.118.8/NOPE") == (1, "", "error (rc 100): Handle not found\n")
    code, _, err = run("init", "--admin-secret-stdin", stdin=OTHER_SECRET + "\n")
    assert code == 1 and "already exists" in err
    code, _, err = run("prefix", "create", "77.1", "--secret-stdin", stdin=ENT_SECRET + "\n")
    assert code == 1 and err.strip() == "error (rc 301): That prefix doesn't live here"
    code, _, err = run("mint", "88.118.8", "--pattern", "BAD-{seq", "--count", "3")
    assert code == 1 and err.startswith("error (rc 4): pattern") and "minting" not in err
    code, out, err = run("mint", "88.118.8", "--pattern", "OK-{seq:03}", "--count", "3",
                         "--value", "URL=https://parts.example/ok")
    assert code == 0 and out.strip() == "minted 3: 88.118.8/OK-001 .. 88.118.8/OK-003"
    assert "minting" in err
    code, out, _ = run("resolve", "88.118.8/OK-003")
    assert code == 0 and json.loads(out)["values"][0]["data"]["value"] == "https://parts.example/ok"
    code, _, err = run("--role", "emperor", "prefix", "list")
    assert code == 2 and "IDRES_NODE_ROLE" in err
    for secret in (ADMIN_SECRET, ENT_SECRET, OTHER_SECRET):
        assert secret.encode() not in stored_text(database_url)


@pytest.mark.parametrize("args", [["--help"], ["prefix", "--help"], ["mint", "--help"]])
def test_help(args: list[str], tmp_path: Path) -> None:
    r = ok(idres(str(tmp_path / "unused.db"), *args))
    assert "Usage:" in r.stdout
    assert not (tmp_path / "unused.db").exists()
