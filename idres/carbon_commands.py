"""``idres installation``, ``idres part-type`` and ``idres cbam defaults``: carbon reference data.

The CLI acts as the local operator, so writes name the owning prefix with
``--owner``.  ``idres cbam`` is a group the report commands join later.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from idres.auth import OPERATOR
from idres.carbon import defaults, reference
from idres.cli import Context, cli, echo_json

pass_ctx = click.make_pass_decorator(Context)


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


@cli.group()
def installation() -> None:
    """Production installations (CBAM: where goods are made)."""


@installation.command("add")
@click.argument("installation_id")
@click.option("--owner", required=True, help="the enterprise prefix the installation belongs to")
@click.option("--name", required=True)
@click.option("--country", required=True, help="ISO 3166-1 alpha-2, e.g. CN")
@click.option("--city", required=True)
@click.option("--unlocode", help="UN/LOCODE, e.g. CNNGB")
@click.option("--lat", "latitude", help="decimal degrees, e.g. 29.8683")
@click.option("--lon", "longitude", help="decimal degrees, e.g. 121.544")
@click.option("--operator", help="the operator's name")
@pass_ctx
def installation_add(ctx: Context, installation_id: str, owner: str, **fields: Any) -> None:
    """Register (or replace) an installation."""
    created, row = reference.put_installation(ctx.db, OPERATOR, installation_id, _drop_none(**fields),
                                              owner)
    click.echo(f"{'added' if created else 'replaced'} installation {row['installation_id']} "
               f"({row['country']}, {row['city']})")


@installation.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def installation_list(ctx: Context, as_json: bool) -> None:
    """List the registered installations."""
    rows = reference.list_installations(ctx.db)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['installation_id']:<20} {row['country']}  {row['city']:<20} {row['name']}"
                   f"  [{row['owner']}]")


@cli.group("part-type")
def part_type() -> None:
    """Part types of an enterprise: CN code and net mass."""


@part_type.command("add")
@click.argument("code")
@click.option("--owner", required=True, help="the enterprise prefix whose parts have this type")
@click.option("--cn-code", required=True, help="8-digit CN code, e.g. 73181590")
@click.option("--net-mass-g", required=True, type=int, help="net mass of one part in grams")
@click.option("--description")
@pass_ctx
def part_type_add(ctx: Context, code: str, owner: str, cn_code: str, net_mass_g: int,
                  description: str | None) -> None:
    """Register (or replace) a part type."""
    body = _drop_none(cn_code=cn_code, net_mass_g=net_mass_g, description=description)
    created, row = reference.put_part_type(ctx.db, OPERATOR, code, body, owner)
    scope = "a CBAM good" if row["cbam_good"] else "not a CBAM good"
    click.echo(f"{'added' if created else 'replaced'} part type {row['owner']}/{row['code']} "
               f"(CN {row['cn_code']}, {scope})")


@part_type.command("list")
@click.option("--owner", help="only this prefix's part types")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def part_type_list(ctx: Context, owner: str | None, as_json: bool) -> None:
    """List part types."""
    rows = reference.list_part_types(ctx.db, owner)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['owner']:<12} {row['code']:<20} CN {row['cn_code']}  {row['net_mass_g']:>10} g"
                   f"{'  CBAM' if row['cbam_good'] else ''}")


@cli.group()
def cbam() -> None:
    """EU CBAM: default values, quarterly reports and annual summaries."""


@cbam.group("defaults")
def cbam_defaults() -> None:
    """The CBAM default-value table (tCO2e/t by country and CN code)."""


@cbam_defaults.command("load")
@click.argument("csv_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def defaults_load(ctx: Context, csv_file: Path | None) -> None:
    """Replace the table with CSV_FILE (default: the illustrative file shipped with idres)."""
    path = csv_file or defaults.SHIPPED_CSV
    count = defaults.load_defaults(ctx.db, OPERATOR, path.read_text(encoding="utf-8-sig"), path.name)
    click.echo(f"loaded {count} default values from {path}")
    if csv_file is None:
        click.echo("note: the shipped values are illustrative placeholders, not official EU values",
                   err=True)


@cbam_defaults.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def defaults_list(ctx: Context, as_json: bool) -> None:
    """Show the loaded default values."""
    rows = defaults.list_defaults(ctx.db)
    if as_json:
        echo_json([r.json() for r in rows])
        return
    for r in rows:
        click.echo(f"{r.country:<3} {r.cn_code:<8} direct {r.direct:>8} indirect {r.indirect:>8}  {r.source}")
