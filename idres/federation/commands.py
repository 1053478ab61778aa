"""``idres upstream`` (registration at the node above) and ``idres stats`` (what it is told)."""
from __future__ import annotations

import signal
import threading

import click

from idres.auth import OPERATOR
from idres.cli import Context, cli, echo_json, read_secret
from idres.federation import upstream
from idres.federation.stats import READER_INDEX, prefix_report, reader_values
from idres.handles import prefix_record
from idres.node import check_secret, list_prefixes
from idres.registrar import PutRequest, put_handle
from idres.storage.migrations import migrate

pass_ctx = click.make_pass_decorator(Context)


def _needs_upstream(ctx: Context) -> None:
    if not ctx.config.registers_upward:
        raise click.ClickException("no upstream configured (IDRES_UPSTREAM_URL, IDRES_UPSTREAM_HANDLE, "
                                   "IDRES_UPSTREAM_SECRET)")


@cli.group("upstream")
def upstream_group() -> None:
    """Registration of this node's prefixes at the node above."""


@upstream_group.command("sync")
@click.option("--loop", is_flag=True, help="keep retrying until interrupted (SIGINT/SIGTERM)")
@pass_ctx
def upstream_sync(ctx: Context, loop: bool) -> None:
    """Try every pending registration now; with --loop, keep retrying with backoff."""
    _needs_upstream(ctx)
    migrate(ctx.db)
    upstream.queue_node_prefix(ctx.db, ctx.config)
    if not loop:
        outcomes = upstream.sync_due(ctx.db, ctx.config, ignore_backoff=True)
        for prefix, outcome in outcomes.items():
            click.echo(f"0.NA/{prefix}: {outcome.state}" + (f": {outcome.error}" if outcome.error else ""))
        click.echo(f"{len(outcomes)} tried, "
                   f"{sum(o.state == 'registered' for o in outcomes.values())} registered")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"retrying registrations at {ctx.config.upstream_url} until stopped")
    upstream.sync_forever(ctx.db, ctx.config, stop)


@upstream_group.command("requeue")
@click.argument("prefixes", nargs=-1)
@click.option("--all", "every", is_flag=True, help="every prefix record, the node's own included")
@pass_ctx
def upstream_requeue(ctx: Context, prefixes: tuple[str, ...], every: bool) -> None:
    """Queue registrations again: after a conflict is settled, when this node's address
    changed, or for prefixes created before an upstream was configured."""
    _needs_upstream(ctx)
    held = {r["prefix"].lower(): r["prefix"] for r in list_prefixes(ctx.db)}
    if every == bool(prefixes):
        raise click.UsageError("name prefixes or give --all")
    unknown = [p for p in prefixes if p.lower() not in held]
    if unknown:
        raise click.ClickException(f"not a prefix record this node holds: {', '.join(unknown)}")
    chosen = list(held.values()) if every else [held[p.lower()] for p in prefixes]
    upstream.requeue(ctx.db, ctx.config, chosen)
    click.echo(f"{len(chosen)} queued; 'idres upstream sync' or the serving node registers them")


@cli.group("stats", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def stats_group(click_ctx: click.Context, as_json: bool) -> None:
    """Identifiers and resolutions per prefix (what GET /api/stats/prefixes reports)."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    report = prefix_report(ctx.db, ctx.config)
    if as_json:
        echo_json(report)
        return
    click.echo(f"{'prefix':<20} {'identifiers':>12} {'resolutions':>12}")
    for row in report["prefixes"]:
        click.echo(f"{row['prefix']:<20} {row['identifiers']:>12} {row['resolutions']:>12}")
    click.echo(f"resolutions of prefix records: {report['prefixRecordResolutions']}; "
               f"counts lag by at most {report['flushSeconds']:g}s per serving process")


@stats_group.command("reader")
@click.option("--secret-stdin", is_flag=True, required=True, help="read the reader's secret from stdin")
@pass_ctx
def stats_reader(ctx: Context, secret_stdin: bool) -> None:
    """Create or replace the read-only statistics key for the upstream operator."""
    try:
        secret = check_secret(read_secret(secret_stdin, "secret") or "")
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    record = prefix_record(ctx.config.node_prefix).text
    values = reader_values(ctx.config, secret)
    put_handle(ctx.db, ctx.config, OPERATOR, PutRequest(record, values, indexes=tuple(v["index"] for v in values)))
    click.echo(f"statistics reader: {READER_INDEX}:{record} (LIST_HANDLES only); "
               "give its secret to the upstream operator")
