"""``idres cbam quarterly`` and ``idres cbam annual``: the CBAM reports from the command line.

The CLI acts as the local operator for the exporter named by ``--actor``:
the same services as ``POST /api/reports/cbam/quarterly|annual``, with the
same request bodies (``--request FILE`` gives one; options fill or override
its period and selection), the same validation and the same errors.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from idres.auth import OPERATOR
from idres.carbon.annual import annual_summary, summary_csv
from idres.carbon.quarterly import quarterly_report
from idres.carbon_commands import cbam
from idres.cli import Context

pass_ctx = click.make_pass_decorator(Context)
Out = click.Path(dir_okay=False, writable=True, path_type=Path)


def _request(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise click.UsageError(f"--request {path}: {err}") from None
    if not isinstance(body, dict):
        raise click.UsageError(f"--request {path}: a JSON object is needed")
    return body


def _set(body: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Options given on the command line replace the request file's values."""
    body.update({k: v for k, v in values.items() if v not in (None, (), [])})
    return body


def _write(path: Path | None, text: str, what: str) -> None:
    if path is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {what} to {path}", err=True)


@cbam.command("quarterly")
@click.option("--actor", required=True, help="the exporter prefix whose shipments are reported")
@click.option("--request", "request_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON body as for POST /api/reports/cbam/quarterly (declarant, signature, ...)")
@click.option("--year", type=int)
@click.option("--quarter", type=int)
@click.option("--to-party", help="report every shipment to this party in the quarter")
@click.option("--handle", "handles", multiple=True, help="report these shipped handles (repeatable)")
@click.option("--xml", "xml_out", type=Out, help="write the QReport XML here")
@click.option("--json", "json_out", type=Out, help="write the JSON (twin, XML, proof of origin) here")
@pass_ctx
def quarterly(ctx: Context, actor: str, request_file: Path | None, xml_out: Path | None,
              json_out: Path | None, **options: Any) -> None:
    """A CBAM quarterly report (QReport v23, validated against the XSD)."""
    body = _set(_request(request_file), exporter=actor, year=options["year"], quarter=options["quarter"],
                to_party=options["to_party"], handles=list(options["handles"]))
    answer = quarterly_report(ctx.db, ctx.config, OPERATOR, body)
    if xml_out is None and json_out is None:
        click.echo(answer["xml"])
        return
    if xml_out is not None:
        _write(xml_out, answer["xml"], "the QReport XML")
    if json_out is not None:
        _write(json_out, json.dumps(answer, indent=2, ensure_ascii=False), "the report JSON")


def _prices(items: tuple[str, ...]) -> list[dict[str, str]]:
    """``INSTALLATION=EUR`` or ``country:CN=EUR`` (EUR per tCO2e paid in the country of origin)."""
    out = []
    for item in items:
        place, sep, price = item.partition("=")
        if not sep:
            raise click.UsageError(f"--price {item!r}: use INSTALLATION=EUR or country:CC=EUR")
        kind, _, code = place.partition(":")
        out.append({"country": code, "eur_per_tco2e": price} if kind == "country" and code
                   else {"installation_id": place, "eur_per_tco2e": price})
    return out


@cbam.command("annual")
@click.option("--actor", required=True, help="the exporter prefix whose shipments count")
@click.option("--importer", required=True, help="the importer (the shipments' to_party)")
@click.option("--year", required=True, type=int)
@click.option("--price", "prices", multiple=True,
              help="carbon price paid, EUR per tCO2e: INSTALLATION=EUR or country:CC=EUR (repeatable)")
@click.option("--certificate-price", help="EUR per CBAM certificate")
@click.option("--cn-code", "cn_codes", multiple=True, help="only these CN codes (repeatable)")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON")
@click.option("-o", "--output", type=Out, help="write here instead of standard output")
@pass_ctx
def annual(ctx: Context, actor: str, importer: str, year: int, prices: tuple[str, ...],
           certificate_price: str | None, cn_codes: tuple[str, ...], as_csv: bool,
           output: Path | None) -> None:
    """The definitive-period annual summary for an importer (certificates, de minimis)."""
    body = _set({"exporter": actor, "importer": importer, "year": year}, carbon_prices_paid=_prices(prices),
                certificate_price=certificate_price, cn_codes=list(cn_codes))
    answer = annual_summary(ctx.db, ctx.config, OPERATOR, body)
    text = summary_csv(answer) if as_csv else json.dumps(answer, indent=2, ensure_ascii=False)
    _write(output, text, "the annual summary")
