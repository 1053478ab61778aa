"""``idres label`` on each backend: files written, standard output, errors."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner, Result

import idres.commands  # noqa: F401  (registers the subcommands)
from idres.cli import cli
from tests.conftest import ENT
from tests.idres.labels.conftest import PATTERN, decode_one, sheet_urls

BASE_URL = "https://labels.example.org"
NO_ENV = {"IDRES_DATABASE": None, "IDRES_NODE_PREFIX": None, "IDRES_BASE_URL": None,
          "IDRES_NODE_ROLE": None}


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def idres(config, *args: str) -> Result:
    return CliRunner(env=NO_ENV).invoke(
        cli, ["--database", config.database, "--base-url", BASE_URL, *args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def failed(result: Result, message: str, code: int = 1) -> None:
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert message in result.stderr and "Traceback" not in result.output


def test_label_files_and_sheets(config, minted, tmp_path: Path) -> None:
    url = f"{BASE_URL}/{minted[0]}"
    out = ok(idres(config, "label", minted[0].lower(), "-o", "a.png"))
    assert f"written to a.png" in out.stderr and out.stdout == ""
    assert decode_one((tmp_path / "a.png").read_bytes()).text == url
    ok(idres(config, "label", minted[0], "-o", "a.svg"))  # format from the extension
    root = ET.fromstring((tmp_path / "a.svg").read_bytes())
    assert root.find("{http://www.w3.org/2000/svg}desc").text == url
    ok(idres(config, "label", minted[0], "--format", "svg", "-o", "b.img"))
    assert (tmp_path / "b.img").read_bytes().startswith(b"<?xml")
    piped = ok(idres(config, "label", minted[0]))  # standard output (not a terminal here)
    assert decode_one(piped.stdout_bytes).text == url

    out = ok(idres(config, "label", "--sheet", *minted[:3], "-o", "s.pdf"))
    assert "3 labels (1 page) written to s.pdf" in out.stderr
    assert sheet_urls((tmp_path / "s.pdf").read_bytes(), tmp_path) == [
        f"{BASE_URL}/{h}" for h in minted[:3]]
    out = ok(idres(config, "label", "--sheet", "--range", ENT, PATTERN, "25", "30", "-o", "r.pdf"))
    assert "6 labels (1 page)" in out.stderr
    pages = tmp_path / "pages"
    pages.mkdir()
    assert sheet_urls((tmp_path / "r.pdf").read_bytes(), pages) == [
        f"{BASE_URL}/{h}" for h in minted[24:]]


def test_label_errors(config, minted, tmp_path: Path) -> None:
    failed(idres(config, "label", f"{ENT}/NOPE", "-o", "x.png"), "error (rc 100)")
    failed(idres(config, "label", "99.1/X", "-o", "x.png"), "error (rc 301)")
    failed(idres(config, "label", "bad", "-o", "x.png"), "error (rc 102)")
    failed(idres(config, "label", "--sheet", minted[0], f"{ENT}/NOPE", "-o", "x.pdf"),
           "[handles[1]]")
    failed(idres(config, "label", "--sheet", "--range", ENT, PATTERN, "1", "2001", "-o", "x.pdf"),
           "[to]")
    assert not list(tmp_path.glob("x.*"))  # nothing written on failure
    failed(idres(config, "label", minted[0], minted[1]), "give one HANDLE", 2)
    failed(idres(config, "label"), "give one HANDLE", 2)
    failed(idres(config, "label", "--sheet", "-o", "x.pdf"), "--sheet needs", 2)
    failed(idres(config, "label", "--sheet", "--format", "svg", minted[0]), "--format", 2)
    failed(idres(config, "label", "--range", ENT, PATTERN, "1", "2", minted[0]), "--range needs", 2)
