"""Product carbon footprints: cradle-to-gate, mass-allocated, never a CBAM figure.

A footprint uses the same ledger data as the CBAM roll-up but a different
policy (REFERENCE section 8: a CBAM SEE covers the installation and CBAM
precursors only, a PCF is cradle-to-gate):

- every input is followed, CBAM good or not (springs, seals, vehicle parts);
- direct and indirect emissions are added up into one figure per kilogram
  of product (kgCO2e/kg, numerically tCO2e/t), and per piece for a part;
- where a transformation made several outputs, its inputs are allocated to
  them by net mass (scrap leaving the process carries no burden);
- default values count without the CBAM mark-up (the mark-up is a
  regulatory surcharge, not an emission), and lower the primary-data share;
- an input without any data counts as zero and is listed in ``gaps`` instead
  of failing the footprint;
- the ledger says nothing about biogenic carbon, so all of it is reported as
  fossil (``pCfExcludingBiogenic`` = ``fossilGhgEmissions``).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from idres.carbon.results import ZERO, SeeResult, see_text
from idres.carbon.rollup import PRECISION, Policy, Rollup
from idres.storage.engine import Session

PCF_POLICY = Policy("pcf", every_input=True, markup=ZERO, gaps_allowed=True)
LABEL = ("product carbon footprint, cradle-to-gate, mass allocation, kgCO2e per declared unit; "
         "not a CBAM specific-embedded-emissions figure")
BOUNDARY = ("Cradle-to-gate: the emissions recorded on the ledger (carbon.recorded) for the product's "
            "own production and, recursively, for every precursor consumed (scrap included) and "
            "component assembled; CBAM default values without mark-up where actual data is missing.")
STANDARDS = ("ISO 14067", "GHG Protocol Product Standard")
SHARE_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Footprint:
    """A product's footprint, exact; ``rollup`` is the run it was read from."""

    subject: str
    per_kg: Decimal                  # kgCO2e per kg of product
    net_mass_g: int | None
    per_unit: Decimal | None         # kgCO2e per piece (a handle) or for the whole batch
    primary_data_share: Decimal      # percent of the footprint from actual (non-default) data
    rollup: SeeResult

    def json(self) -> dict[str, Any]:
        r = self.rollup
        return {
            "subject": self.subject, "figure": LABEL, "declared_unit": "kilogram",
            "pcf_excluding_biogenic": see_text(self.per_kg), "pcf_including_biogenic": see_text(self.per_kg),
            "fossil_ghg_emissions": see_text(self.per_kg), "net_mass_g": self.net_mass_g,
            "per_unit": None if self.per_unit is None else see_text(self.per_unit),
            "per_unit_description": ("kgCO2e for the whole batch" if self.subject.startswith("batch:")
                                     else "kgCO2e per piece"),
            "primary_data_share": str(self.primary_data_share.quantize(SHARE_PLACES, ROUND_HALF_UP)),
            "default_used": r.default_used, "data_gaps": list(r.gaps),
            "boundary_processes_description": BOUNDARY,
            "cross_sectoral_standards_used": list(STANDARDS),
            "contributing_seqs": list(r.contributing_seqs),
            "installations": [c.json() for c in r.installations],
        }


def footprint(result: SeeResult) -> Footprint:
    """Read a footprint off a roll-up made with :data:`PCF_POLICY`."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        per_kg = result.direct + result.indirect
        actual = sum((c.direct + c.indirect for c in result.installations if not c.default), ZERO)
        share = Decimal(100) * actual / per_kg if per_kg else Decimal(100)
        per_unit = per_kg * result.net_mass_g / 1000 if result.net_mass_g is not None else None
        return Footprint(result.subject, per_kg, result.net_mass_g, per_unit, share, result)


def footprint_of(s: Session, subject: str) -> Footprint:
    """The cradle-to-gate footprint of one handle or batch."""
    return footprint(Rollup(s, PCF_POLICY).see(subject))
