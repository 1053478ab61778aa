"""``idres ledger anchor``: put the latest checkpoint's root on an EVM chain.

web3 is imported only here, when anchoring is asked for: importing it costs
seconds, which the server and the other commands should not pay.
"""
from __future__ import annotations

import click

from idres.cli import Context
from idres.ledger_commands import ledger

pass_ctx = click.make_pass_decorator(Context)

EMBEDDED_NOTE = ("embedded test chain (no IDRES_ANCHOR_RPC): the anchor lives only as long as "
                 "this process; set IDRES_ANCHOR_RPC for a real chain")


def anchor_latest_checkpoint(ctx: Context, verify: bool = False) -> str:
    """Anchor (and optionally re-verify in the same process); returns a summary line."""
    from ledger.anchor import Anchorer, AnchorError, anchor_latest, checkpoint_roots, connect, \
        verify_recorded_anchors

    try:
        w3 = connect(ctx.config.anchor_rpc or None)
        anchorer = Anchorer(w3, ctx.config.anchor_key or None)
        with ctx.db.write() as s:
            anchor = anchor_latest(s, anchorer)
        if verify:
            with ctx.db.read() as s:
                checked = verify_recorded_anchors(s, w3, checkpoint_roots(s))
    except AnchorError as err:
        raise click.ClickException(f"anchoring failed: {err}") from None
    if anchor is None:
        return "the latest checkpoint is already anchored"
    line = (f"anchored checkpoint {anchor.size} (root {anchor.root}) in tx {anchor.tx_hash}, "
            f"block {anchor.block_number}, chain {anchor.chain_id}")
    return line + (f"; {checked} anchors verified" if verify else "")


def verify_anchors(ctx: Context) -> int:
    """Check every recorded anchor against the configured chain."""
    from ledger.anchor import AnchorError, checkpoint_roots, connect, verify_recorded_anchors

    if not ctx.config.anchor_rpc:
        raise click.ClickException("verifying anchors needs IDRES_ANCHOR_RPC (the embedded test "
                                   "chain does not outlive the process that anchored)")
    try:
        w3 = connect(ctx.config.anchor_rpc)
        with ctx.db.read() as s:
            return verify_recorded_anchors(s, w3, checkpoint_roots(s))
    except AnchorError as err:
        click.echo(f"FAILED: {err}", err=True)
        raise SystemExit(1) from None


@ledger.command("anchor")
@click.option("--verify", is_flag=True, help="re-read the recorded anchors from the chain afterwards")
@pass_ctx
def anchor_command(ctx: Context, verify: bool) -> None:
    """Write the latest checkpoint's root into a transaction (IDRES_ANCHOR_RPC, IDRES_ANCHOR_KEY)."""
    if not ctx.config.anchor_rpc:
        click.echo(EMBEDDED_NOTE, err=True)
    click.echo(anchor_latest_checkpoint(ctx, verify))
