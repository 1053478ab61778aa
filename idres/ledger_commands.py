"""``idres ledger ...``: verify, replay, export (and anchor, when configured)."""
from __future__ import annotations

import json
import sys
from typing import IO

import click

from idres.cli import Context, cli
from idres.events.service import replay
from idres.ledger_key import LedgerKeyError, load_signer
from idres.storage import projections
from ledger import store as ledger_store
from ledger.merkle import VerificationError
from ledger.verify import EXPORT_FORMAT, verify_database

pass_ctx = click.make_pass_decorator(Context)


@cli.group()
def ledger() -> None:
    """The node's event ledger."""


def _verifier(ctx: Context):  # -> ledger.note.Verifier
    try:
        return load_signer(ctx.config).verifier()
    except (LedgerKeyError, ValueError) as err:
        raise click.ClickException(str(err)) from None


def _progress(done: int, total: int) -> None:
    click.echo(f"verified {done}/{total} entries", err=True)


@ledger.command("verify")
@click.option("--anchors", is_flag=True, help="also check every recorded anchor on IDRES_ANCHOR_RPC's chain")
@pass_ctx
def verify_command(ctx: Context, anchors: bool) -> None:
    """Recompute every leaf, chain link, tree node and checkpoint signature."""
    verifier = _verifier(ctx)
    try:
        with ctx.db.read() as s:
            size = verify_database(s, [verifier], progress=_progress)
    except VerificationError as err:
        click.echo(f"FAILED: {err}", err=True)
        sys.exit(1)
    click.echo(f"OK: {size} entries verified")
    if anchors:
        from idres.anchor_commands import verify_anchors  # web3 only when asked for

        click.echo(f"OK: {verify_anchors(ctx)} anchors verified")


@ledger.command("replay")
@click.option("--check", is_flag=True, help="fail if the rebuilt projections differ from the stored ones")
@pass_ctx
def replay_command(ctx: Context, check: bool) -> None:
    """Rebuild every projection from the log alone."""
    before = None
    if check:
        with ctx.db.read() as s:
            before = projections.dump(s)
    size = replay(ctx.db)
    ctx.db.refresh_statistics()  # every projection table was rewritten
    if check:
        with ctx.db.read() as s:
            if projections.dump(s) != before:
                click.echo("FAILED: replayed projections differ from the stored ones", err=True)
                sys.exit(1)
    click.echo(f"replayed {size} entries")


def write_export(ctx: Context, out: IO[str]) -> int:
    """Stream the log as JSON lines: header, then entries with checkpoints in place."""
    verifier = _verifier(ctx)
    with ctx.db.read() as s:
        size, _ = ledger_store.head(s)
        marks = {int(r["size"]): r["note"] for r in ledger_store.checkpoints(s)}
        out.write(json.dumps({"format": EXPORT_FORMAT, "origin": verifier.name, "size": size}) + "\n")
        if 0 in marks:
            out.write(json.dumps({"type": "checkpoint", "size": 0, "note": marks[0]}) + "\n")
        for start in range(0, size, 10_000):
            for row in ledger_store.entries(s, start, min(size, start + 10_000)):
                seq = int(row["seq"])
                out.write(json.dumps({"type": "entry", "seq": seq, "entry": row["entry"],
                                      "chain_hash": row["chain_hash"]}, ensure_ascii=False) + "\n")
                if seq + 1 in marks:
                    out.write(json.dumps({"type": "checkpoint", "size": seq + 1,
                                          "note": marks[seq + 1]}) + "\n")
    return size


@ledger.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@pass_ctx
def export_command(ctx: Context, path: str) -> None:
    """Write the log and its checkpoints for `python -m ledger.verify`."""
    if path == "-":
        size = write_export(ctx, sys.stdout)
    else:
        with open(path, "w", encoding="utf-8") as out:
            size = write_export(ctx, out)
    click.echo(f"exported {size} entries; verify with: python -m ledger.verify {path} "
               f"--key {_verifier(ctx).verifier_key}", err=True)
