"""``idres label``: QR labels from the command line (registered on :data:`idres.cli.cli`).

``idres label HANDLE [--format png|svg] [-o FILE]`` writes one label;
``idres label --sheet HANDLE... -o FILE.pdf`` (or ``--sheet --range PREFIX
PATTERN FROM TO``) an A4 sheet.  Codes encode the configured base URL
(``--base-url`` / ``IDRES_BASE_URL``).  Without ``-o`` the label goes to
standard output, unless that is a terminal.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import click

from idres.cli import Context, cli
from idres.label_sheet import PER_PAGE, sheet_pdf
from idres.labels import find_label, render_png, render_svg

pass_ctx = click.make_pass_decorator(Context)


def _write(data: bytes, output: str | None) -> str:
    """Write to ``output`` (``-`` or none: standard output, never a terminal)."""
    if output in (None, "-"):
        if sys.stdout.isatty():
            raise click.UsageError("not writing an image to a terminal: give -o FILE or redirect")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return "standard output"
    Path(output).write_bytes(data)
    return output


@cli.command("label")
@click.argument("handles", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]),
              help="single label format [default: from -o's extension, else png]")
@click.option("--sheet", is_flag=True, help="an A4 PDF sheet of labels, 24 a page")
@click.option("--range", "seq_range", nargs=4, type=(str, str, int, int), default=None,
              metavar="PREFIX PATTERN FROM TO",
              help="with --sheet: the minted handles PREFIX/PATTERN for {seq} = FROM..TO")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="output file [default: standard output]")
@pass_ctx
def label_command(ctx: Context, handles: tuple[str, ...], fmt: str | None, sheet: bool,
                  seq_range: tuple[str, str, int, int] | None, output: str | None) -> None:
    """Write the QR label of HANDLE, or with --sheet a PDF sheet of labels."""
    if sheet:
        if fmt:
            raise click.UsageError("--format is for single labels; a sheet is a PDF")
        if bool(handles) == bool(seq_range):
            raise click.UsageError("--sheet needs HANDLE... or --range PREFIX PATTERN FROM TO")
        body: dict[str, Any] = {"handles": list(handles)}
        if seq_range:
            prefix, pattern, first, last = seq_range
            body = {"prefix": prefix, "pattern": pattern, "from": first, "to": last}
        pdf, count = sheet_pdf(ctx.db, ctx.config, body)
        where = _write(pdf, output)
        pages = math.ceil(count / PER_PAGE)
        click.echo(f"{count} label{'s' * (count != 1)} ({pages} page{'s' * (pages != 1)}) "
                   f"written to {where}", err=True)
        return
    if seq_range:
        raise click.UsageError("--range needs --sheet")
    if len(handles) != 1:
        raise click.UsageError("give one HANDLE (or --sheet HANDLE... for a PDF sheet)")
    label = find_label(ctx.db, ctx.config, handles[0])
    if fmt is None:
        fmt = "svg" if output and output.lower().endswith(".svg") else "png"
    data = render_svg(label).encode("utf-8") if fmt == "svg" else render_png(label)
    where = _write(data, output)
    click.echo(f"label of {label.handle} ({label.url}) written to {where}", err=True)
