"""The ``idres`` command line: set up, serve and operate a node.

The CLI talks to the database directly and acts as the local operator
(audited as ``local-operator``); remote clients use the REST API.
"""
from __future__ import annotations

import json
import os
import sqlite3
import sys
from typing import Any

import click
import psycopg
from psycopg_pool import PoolTimeout

from idres.config import Config, load_config
from idres.errors import HandleError
from idres.storage import Database, open_database

# Failures of the database itself (unreachable, not initialized, locked).
DATABASE_ERRORS = (sqlite3.Error, psycopg.Error, PoolTimeout)


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

    def close(self) -> None:
        """Close the database (and its PostgreSQL pool) if a command opened it."""
        if self._db is not None:
            self._db.close()
            self._db = None


class HandleErrorExit(click.ClickException):
    """A Handle error shown as ``error (rc N): message [field]``, exit status 1."""

    def __init__(self, err: HandleError) -> None:
        super().__init__(f"error (rc {err.rc}): {err.message}" + (f" [{err.field}]" if err.field else ""))

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


class IdresGroup(click.Group):
    """Turns the errors a command can meet into messages instead of tracebacks.

    Done here rather than around ``cli()`` so every way of invoking the group
    (console script, ``python -m``, click's test runner) behaves the same.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HandleError as err:
            raise HandleErrorExit(err) from None
        except DATABASE_ERRORS as err:
            hint = " (has 'idres init' been run?)" if _missing_table(err) else ""
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise click.ClickException(f"database: {first_line}{hint}") from None


def _missing_table(err: Exception) -> bool:
    return isinstance(err, psycopg.errors.UndefinedTable) or "no such table" in str(err)


def read_secret(flag_given: bool, what: str) -> str | None:
    """Read a secret from standard input (one line); never from argv or env."""
    if not flag_given:
        return None
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.UsageError(f"--{what}-stdin given but standard input was empty")
    return secret


@click.group(cls=IdresGroup)
@click.option("--database", help="SQLite file or postgresql:// URL [IDRES_DATABASE]")
@click.option("--node-prefix", help="this node's prefix [IDRES_NODE_PREFIX]")
@click.option("--base-url", help="public URL of this node [IDRES_BASE_URL]")
@click.option("--role", "node_role", help="top-level, secondary or enterprise [IDRES_NODE_ROLE]")
@click.option("--ledger-key-file", help="ledger signing key file [IDRES_LEDGER_KEY_FILE]")
@click.pass_context
def cli(ctx: click.Context, **overrides: Any) -> None:
    """idres: identifier resolution and traceability node."""
    try:
        ctx.obj = Context(load_config(overrides))
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Console entry point (Handle errors become a message and exit status 1)."""
    from idres import commands  # noqa: F401  (registers the commands)

    cli(standalone_mode=True)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


SERVE_THREADS = 8  # per gunicorn worker; IDRES_POOL_SIZE (default 8) PostgreSQL connections serve them


def gunicorn_argv(config: Config, bind: str, workers: int) -> tuple[list[str], dict[str, str]]:
    """The gunicorn command line and environment that serve this config."""
    env = dict(os.environ, IDRES_DATABASE=config.database, IDRES_NODE_PREFIX=config.node_prefix,
               IDRES_BASE_URL=config.base_url, IDRES_NODE_ROLE=config.node_role,
               IDRES_LEDGER_KEY_FILE=config.key_file)
    # Threaded workers: concurrent POST /api/events requests of a worker then share one
    # append transaction (idres.events.group).
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", bind,
            "--worker-class", "gthread", "--threads", str(SERVE_THREADS),
            "--access-logfile", "-"]
    if _gunicorn_version() >= (25, 1):
        # Otherwise every node on the host shares $HOME/.gunicorn/gunicorn.ctl:
        # a second node takes the first one's control socket over and removes it on exit.
        argv.append("--no-control-socket")
    argv.append("idres:create_app()")
    return argv, env


def _gunicorn_version() -> tuple[int, ...]:
    import gunicorn

    return tuple(gunicorn.version_info)

