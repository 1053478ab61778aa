"""``idres pcf SUBJECT [--pact]``: a product carbon footprint from the command line.

SUBJECT is a part handle, ``batch:<maker prefix>/<batch>`` or, with
``--pact``, also ``part-type:<owner prefix>/<code>``.  Without ``--pact`` the
answer is the footprint as ``GET /api/carbon/footprint/<subject>`` gives it;
with ``--pact`` it is the PACT v2 ProductFootprint ``GET /2/footprints/{id}``
gives for part types and batches (a single handle gets one too, which the
HTTP list does not offer).
"""
from __future__ import annotations

import click

from idres.carbon.pact_service import pact_footprint
from idres.carbon.service import footprint_answer
from idres.cli import Context, cli, echo_json

pass_ctx = click.make_pass_decorator(Context)


@cli.command()
@click.argument("subject")
@click.option("--pact", "as_pact", is_flag=True, help="print a PACT v2 ProductFootprint")
@pass_ctx
def pcf(ctx: Context, subject: str, as_pact: bool) -> None:
    """Cradle-to-gate product carbon footprint of SUBJECT, as JSON (never a CBAM figure)."""
    if as_pact:
        echo_json(pact_footprint(ctx.db, ctx.config, subject))
    else:
        echo_json(footprint_answer(ctx.db, subject))
