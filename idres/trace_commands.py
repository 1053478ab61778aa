"""``idres trace up|down`` and ``idres recall scope|create``.

The commands call the same services as the API, on the database directly;
a campaign is recorded as the local operator acting for ``--actor``.
"""
from __future__ import annotations

import json
from typing import Any

import click

from idres.auth import OPERATOR
from idres.cli import Context, cli, echo_json
from idres.genealogy import parse_time, sync, trace
from idres.ledger_key import LedgerKeyError, load_signer
from idres.recall import create, load_request, scope, scope_csv
from ledger.log import Log

pass_ctx = click.make_pass_decorator(Context)


@cli.group("trace")
def trace_group() -> None:
    """Genealogy: what a part contains (down) and where it is used (up)."""


def _print_tree(result: dict[str, Any]) -> None:
    click.echo(f"{result['root']['handle']}  (as of {result['asOf']})")
    for n in result["nodes"]:
        link = f"{n['kind']}, seq {n['seq']}" if n["seq"] is not None else n["kind"]
        click.echo(f"{'  ' * n['depth']}{n['handle']}  [{link}]")
    if result["truncated"]:
        click.echo(f"(truncated at depth {result['depth']})")


def _trace(ctx: Context, direction: str, handle: str, as_of: str | None, depth: int | None,
           as_json: bool) -> None:
    when = parse_time(as_of, "--as-of") if as_of else None
    result = trace(ctx.db, handle, direction, when, depth)
    if as_json:
        echo_json(result)
    else:
        _print_tree(result)


def _trace_command(direction: str, help_text: str) -> None:
    @trace_group.command(direction, help=help_text)
    @click.argument("handle")
    @click.option("--as-of", help="ISO 8601 time (default: now)")
    @click.option("--depth", type=int, help="levels to follow (1-1000, default 50)")
    @click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
    @pass_ctx
    def command(ctx: Context, handle: str, as_of: str | None, depth: int | None, as_json: bool) -> None:
        _trace(ctx, direction, handle, as_of, depth, as_json)


_trace_command("down", "Bill of materials: everything HANDLE contains, down to raw-material lots.")
_trace_command("up", "Where-used: every assembly and product containing HANDLE (or batch:ACTOR/NAME).")


@trace_group.command("sync")
@pass_ctx
def trace_sync(ctx: Context) -> None:
    """Catch the part-dates table up with the log (queries do it too; run after bulk loads)."""
    click.echo(f"part dates cover {sync(ctx.db)} ledger entries")


@cli.group()
def recall() -> None:
    """Recall scopes and campaigns."""


def _scope_options(command: Any) -> Any:
    options = [
        click.option("--handle", "handles", multiple=True, help="suspect handle (repeatable)"),
        click.option("--batch", "batches", multiple=True, help="suspect batch ACTOR/NAME (repeatable)"),
        click.option("--part-type", help="suspect part type (with --from and --to)"),
        click.option("--from", "produced_from", help="commissioned at or after"),
        click.option("--to", "produced_to", help="commissioned before"),
        click.option("--only-non-conformant", is_flag=True, help="only suspects inspected non_conformant"),
        click.option("--as-of", help="genealogy as of this time (default: now)"),
        click.option("--depth", type=int, help="levels to follow (default 1000)"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _body(opts: dict[str, Any]) -> dict[str, Any]:
    """The API request body the options stand for (validated by the same schema)."""
    pairs = (("handles", list(opts["handles"])), ("batches", list(opts["batches"])),
             ("partType", opts["part_type"]), ("producedFrom", opts["produced_from"]),
             ("producedTo", opts["produced_to"]), ("asOf", opts["as_of"]), ("depth", opts["depth"]))
    body = {name: value for name, value in pairs if value not in (None, [])}
    if opts["only_non_conformant"]:
        body["onlyNonConformant"] = True
    return body


def _print_scope(result: dict[str, Any]) -> None:
    for p in result["products"]:
        click.echo(f"{p['handle']}  holder={p['holder']}  status={p['status']}  via {' > '.join(p['path'])}")
    click.echo(f"{result['count']} product(s); by holder: "
               + ", ".join(f"{h['holder']}={h['count']}" for h in result["holders"]))


@recall.command("scope")
@_scope_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@pass_ctx
def recall_scope(ctx: Context, fmt: str, **opts: Any) -> None:
    """The top-level products the suspects reach, with holders and dates."""
    suspects, _ = load_request(_body(opts))
    result = scope(ctx.db, suspects)
    if fmt == "json":
        echo_json(result)
    elif fmt == "csv":
        click.echo(scope_csv(result), nl=False)
    else:
        _print_scope(result)


@recall.command("create")
@_scope_options
@click.option("--actor", required=True, help="the acting enterprise prefix, e.g. 88.118.8")
@click.option("--campaign", required=True, help="campaign id recorded in each recalled event")
@click.option("--event-time", help="time of the recalled events (default: now)")
@pass_ctx
def recall_create(ctx: Context, actor: str, campaign: str, event_time: str | None, **opts: Any) -> None:
    """Append recalled events for the scope's handles under --actor (one batch)."""
    body = {**_body(opts), "campaignId": campaign, **({"eventTime": event_time} if event_time else {})}
    try:
        signer = load_signer(ctx.config)
    except (LedgerKeyError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    _, answer = create(ctx.db, ctx.config, Log(signer, signer.name), OPERATOR, body, actor=actor)
    click.echo(json.dumps({k: answer[k] for k in ("campaignId", "actor", "recorded", "alreadyRecalled",
                                                   "notRecorded", "entries")}, indent=2, ensure_ascii=False))
