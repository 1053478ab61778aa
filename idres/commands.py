"""The ``idres`` subcommands (registered on :data:`idres.cli.cli`)."""
from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from idres import demo as demo_data
from idres import supervisor
from idres.cli import Context, cli, echo_json, read_secret
from idres.config import Config
from idres.auth import OPERATOR
from idres.minting import MintRequest, mint
from idres.node import create_prefix, init_node, list_prefixes
from idres.resolver import ResolveQuery, resolve
from idres.storage.migrations import migrate

pass_ctx = click.make_pass_decorator(Context)


@cli.command()
@click.option("--admin-secret-stdin", is_flag=True, help="read the node admin's secret from stdin")
@pass_ctx
def init(ctx: Context, admin_secret_stdin: bool) -> None:
    """Create or upgrade the database; with a secret, create the node admin."""
    secret = read_secret(admin_secret_stdin, "admin-secret")
    try:
        created = init_node(ctx.db, ctx.config, secret)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"database ready: {ctx.config.database if not ctx.config.is_postgres else 'postgresql'}")
    if created:
        click.echo(f"node admin: 300:0.NA/{ctx.config.node_prefix}")


@cli.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--hdl-host", help="binary Handle protocol address [IDRES_HDL_HOST, 127.0.0.1]")
@click.option("--hdl-port", type=click.IntRange(0, 65535),
              help="binary Handle protocol port, UDP and TCP; 0: off [IDRES_HDL_PORT, 2641]")
@pass_ctx
def serve(ctx: Context, bind: str, workers: int, hdl_host: str | None, hdl_port: int | None) -> None:
    """Serve the HTTP API (gunicorn) and the binary Handle protocol until SIGTERM/SIGINT.

    Migrations are applied first.  Background tasks registered in
    idres.serve_tasks run beside the servers.
    """
    migrate(ctx.db)
    ctx.db.close()
    config = _hdl_config(ctx.config, hdl_host, hdl_port)
    sys.exit(supervisor.serve(config, bind, workers))


@cli.command("serve-hdl")
@click.option("--host", help="address to listen on [IDRES_HDL_HOST, 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), help="UDP and TCP port [IDRES_HDL_PORT, 2641]")
@pass_ctx
def serve_hdl(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve only the binary Handle protocol (RFC 3652) until SIGTERM/SIGINT."""
    config = _hdl_config(ctx.config, host, port)
    if not config.hdl_port:
        raise click.UsageError("the binary protocol is off (IDRES_HDL_PORT=0): give --port")
    migrate(ctx.db)
    ctx.db.close()
    sys.exit(supervisor.serve_hdl(config))


def _hdl_config(config: Config, host: str | None, port: int | None) -> Config:
    return replace(config, hdl_host=host or config.hdl_host,
                   hdl_port=config.hdl_port if port is None else port)


@cli.group()
def prefix() -> None:
    """Enterprise prefixes held by this node."""


@prefix.command("create")
@click.argument("name")
@click.option("--secret-stdin", is_flag=True, required=True, help="read the prefix key from stdin")
@pass_ctx
def prefix_create(ctx: Context, name: str, secret_stdin: bool) -> None:
    """Create 0.NA/NAME with an HS_SECKEY at index 300."""
    secret = read_secret(secret_stdin, "secret")
    try:
        record = create_prefix(ctx.db, ctx.config, name, secret or "")
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"created {record}; log in as 300:{record}")
    state = next((r["upstream"] for r in list_prefixes(ctx.db) if r["record"] == record), None)
    if state is not None:
        click.echo(f"upstream {state['upstream']}: {upstream_text(state)}")


@prefix.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def prefix_list(ctx: Context, as_json: bool) -> None:
    """List prefix records, their handle counts and their registration upward."""
    rows = list_prefixes(ctx.db)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "" if row["upstream"] is None else "  " + upstream_text(row["upstream"])
        click.echo(f"{row['prefix']:<20} {row['handles']:>10} handles{state}")


def upstream_text(state: dict[str, Any]) -> str:
    """One line for a registration upward: registered, pending (with why) or conflict."""
    if state["state"] == "registered":
        return f"registered {state['registeredAt']}"
    if state["state"] == "pending" and not state["attempts"]:
        return f"pending (not tried yet, next try {state['nextTry']})"
    text = f"{state['state']} ({state['attempts']} attempt{'s' if state['attempts'] != 1 else ''}"
    if state["nextTry"]:
        text += f", next try {state['nextTry']}"
    return text + f"): {state['lastError']}"


def _parse_values(pairs: tuple[str, ...]) -> list[dict[str, Any]]:
    values = []
    for i, pair in enumerate(pairs, start=1):
        vtype, sep, text = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not TYPE=TEXT", param_hint="--value")
        values.append({"index": i, "type": vtype, "data": text})
    return values


@cli.command("mint")
@click.argument("prefix_name")
@click.option("--pattern", required=True, help="e.g. ENG-2026-{seq:06}")
@click.option("--count", required=True, type=int)
@click.option("--value", "pairs", multiple=True, help="TYPE=TEXT, repeatable (indexes 1, 2, ...)")
@pass_ctx
def mint_command(ctx: Context, prefix_name: str, pattern: str, count: int, pairs: tuple[str, ...]) -> None:
    """Mint COUNT identifiers under PREFIX_NAME, all or none."""
    values = _parse_values(pairs)
    bars: list[Any] = []

    def progress(done: int) -> None:
        # Shown from the first inserted chunk on: a request rejected up front
        # prints only its error, not a bar that never moves.
        if not bars:
            bars.append(click.progressbar(length=count, label="minting",
                                          file=sys.stderr).__enter__())
        bars[0].update(done)

    try:
        result = mint(ctx.db, ctx.config, OPERATOR, MintRequest(prefix_name, pattern, count, values),
                      progress=progress)
    finally:
        if bars:
            bars[0].__exit__(None, None, None)
    click.echo(f"minted {result['count']}: {result['first']} .. {result['last']}")


@cli.command("resolve")
@click.argument("handle")
@click.option("--type", "types", multiple=True)
@click.option("--index", "indexes", multiple=True, type=int)
@pass_ctx
def resolve_command(ctx: Context, handle: str, types: tuple[str, ...], indexes: tuple[int, ...]) -> None:
    """Print a handle's public values as JSON."""
    echo_json(resolve(ctx.db, ctx.config, None, ResolveQuery(handle, types, indexes)))


@cli.command("demo")
@click.option("--parts", default=300, show_default=True, type=click.IntRange(2, 100_000))
@pass_ctx
def demo(ctx: Context, parts: int) -> None:
    """Load a small demo cluster: two enterprise prefixes and PARTS parts."""
    for line in demo_data.load(ctx.db, ctx.config, parts):
        click.echo(line)
from idres import ledger_commands  # noqa: E402,F401  (registers `idres ledger`)
from idres import anchor_commands  # noqa: E402,F401  (registers `idres ledger anchor`)
from idres import label_commands, trace_commands  # noqa: E402,F401  (issue 4 commands)
from idres import carbon_commands  # noqa: E402,F401  (issue 5 commands)
from idres.federation import commands as federation_commands  # noqa: E402,F401  (issue 6)
from idres import pcf_commands  # noqa: E402,F401  (issue 5: idres pcf)
from idres import cbam_commands  # noqa: E402,F401  (issue 5: idres cbam quarterly|annual)
