"""The ``idres`` command line: set up, serve and operate a node.

The CLI talks to the database directly and acts as the local operator
(audited as ``local-operator``); remote clients use the REST API.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from idres.config import Config, load_config
from idres.errors import HandleError
from idres.storage import Database, open_database


class Context:
    """The config named by the global options, and the database it opens."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = open_database(self.config.database, 2)
        return self._db


def read_secret(flag_given: bool, what: str) -> str | None:
    """Read a secret from standard input (one line); never from argv or env."""
    if not flag_given:
        return None
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.UsageError(f"--{what}-stdin given but standard input was empty")
    return secret


@click.group()
@click.option("--database", help="SQLite file or postgresql:// URL [IDRES_DATABASE]")
@click.option("--node-prefix", help="this node's prefix [IDRES_NODE_PREFIX]")
@click.option("--base-url", help="public URL of this node [IDRES_BASE_URL]")
@click.option("--role", "node_role", help="top-level, secondary or enterprise [IDRES_NODE_ROLE]")
@click.pass_context
def cli(ctx: click.Context, **overrides: Any) -> None:
    """idres: identifier resolution and traceability node."""
    try:
        ctx.obj = Context(load_config(overrides))
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def main() -> None:
    """Console entry point: Handle errors become a message and exit status 1."""
    from idres import commands  # noqa: F401  (registers the commands)

    try:
        cli(standalone_mode=True)
    except HandleError as err:
        click.echo(f"error (rc {err.rc}): {err.message}" + (f" [{err.field}]" if err.field else ""),
                   err=True)
        sys.exit(1)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def gunicorn_argv(config: Config, bind: str, workers: int) -> tuple[list[str], dict[str, str]]:
    """The gunicorn command line and environment that serve this config."""
    env = dict(os.environ, IDRES_DATABASE=config.database, IDRES_NODE_PREFIX=config.node_prefix,
               IDRES_BASE_URL=config.base_url, IDRES_NODE_ROLE=config.node_role)
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", bind,
            "--access-logfile", "-", "idres:create_app()"]
    return argv, env

