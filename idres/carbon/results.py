"""What a roll-up returns, and how it is shown.

Values are kept exact (``decimal.Decimal``, 50 significant digits) and
rounded only when shown: specific embedded emissions to 7 decimal places,
the ``dec16-7`` type of the QReport v23 XSD (``ROUND_HALF_UP``).  Shown
per-installation contributions are rounded one by one, so their sum may
differ from the shown total in the last place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from idres.errors import HandleError

SEE_PLACES = Decimal("0.0000001")  # dec16-7
MASS_PLACES = Decimal("0.001")
ZERO = Decimal(0)


class CarbonDataError(HandleError):
    """The ledger's carbon data cannot give a figure (unknown installation, mixed sources)."""

    rc, status, default_message = 4, 422, "Carbon data cannot be rolled up"


class CarbonDataMissing(CarbonDataError):
    """Neither actual data, nor a default value, nor inputs to build a figure from."""


def see_text(value: Decimal) -> str:
    """A specific-embedded-emissions figure as the XSD's dec16-7 allows."""
    return format(value.quantize(SEE_PLACES, rounding=ROUND_HALF_UP), "f")


def mass_text(value: Decimal) -> str:
    """Grams to the milligram, without trailing zeros or exponent (``1080000000``, ``17.333``)."""
    return format(value.quantize(MASS_PLACES, rounding=ROUND_HALF_UP).normalize(), "f")


@dataclass(frozen=True)
class Contribution:
    """What one installation adds to a good's SEE (tCO2e per tonne of *that* good)."""

    installation_id: str | None
    country: str | None
    default: bool
    direct: Decimal
    indirect: Decimal

    def key(self) -> tuple:
        return (self.installation_id or "", self.country or "", self.default)

    def scaled(self, factor: Decimal) -> "Contribution":
        return Contribution(self.installation_id, self.country, self.default,
                            self.direct * factor, self.indirect * factor)

    def json(self) -> dict[str, Any]:
        return {"installation_id": self.installation_id, "country": self.country,
                "default": self.default, "direct": see_text(self.direct),
                "indirect": see_text(self.indirect)}


def merge(parts: Iterable[Contribution]) -> tuple[Contribution, ...]:
    """Sum contributions of the same installation (actual and default kept apart), sorted."""
    sums: dict[tuple, Contribution] = {}
    for c in parts:
        old = sums.get(c.key())
        sums[c.key()] = c if old is None else Contribution(
            c.installation_id, c.country, c.default, old.direct + c.direct, old.indirect + c.indirect)
    return tuple(sums[k] for k in sorted(sums))


@dataclass(frozen=True)
class Input:
    """A precursor consumed (transformation) or a component built in (assembly)."""

    subject: str
    kind: str              # "transformation" | "assembly"
    seq: int               # the ledger entry of the event that made the link
    mass_g: Decimal        # precursor mass incl. scrap (allocated), or the component's net mass
    included: bool         # False: not a CBAM good, left out of the CBAM figure
    result: "SeeResult | None" = None
    gap: bool = False      # counted as zero: no data at all (footprints only)

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"subject": self.subject, "kind": self.kind, "seq": self.seq,
                               "mass_g": mass_text(self.mass_g), "included": self.included}
        if self.result is not None:
            out.update(direct=see_text(self.result.direct), indirect=see_text(self.result.indirect),
                       basis=self.result.basis, installation_id=self.result.installation_id)
        if self.gap:
            out["gap"] = True
        return out


@dataclass(frozen=True)
class SeeResult:
    """Specific embedded emissions of a handle or batch, tCO2e per tonne, exact.

    ``basis``: ``actual`` (carbon records of the subject, or of the batch
    named by ``unit``), ``default`` (a default value with the year's
    mark-up), or ``inputs`` (no emissions of its own recorded: only its
    inputs, per tonne of its net mass).
    """

    subject: str
    unit: str                      # whose carbon records were used (the subject or its batch)
    basis: str
    policy: str                    # "cbam" | "pcf"
    year: int | None
    cn_code: str | None
    cbam_good: bool
    installation_id: str | None
    country: str | None
    net_mass_g: int | None
    direct: Decimal
    indirect: Decimal
    markup: Decimal
    default_used: bool
    attributed_direct_g: int
    attributed_indirect_g: int
    activity_level_g: Decimal
    inputs: tuple[Input, ...] = ()
    installations: tuple[Contribution, ...] = ()
    contributing_seqs: tuple[int, ...] = ()
    gaps: tuple[str, ...] = field(default=())

    def default_share(self) -> Decimal:
        """The share (0..1) of direct plus indirect emissions that rests on default values."""
        total = self.direct + self.indirect
        if total == 0:
            return ZERO
        return sum((c.direct + c.indirect for c in self.installations if c.default), ZERO) / total

    def json(self) -> dict[str, Any]:
        """The figure as JSON: decimals as strings, SEE rounded to 7 places."""
        return {
            "subject": self.subject, "unit": self.unit, "figure": FIGURE_LABELS[self.policy],
            "units": "tCO2e/t", "year": self.year, "basis": self.basis, "cn_code": self.cn_code,
            "cbam_good": self.cbam_good, "installation_id": self.installation_id,
            "country": self.country, "net_mass_g": self.net_mass_g,
            "direct": see_text(self.direct), "indirect": see_text(self.indirect),
            "default_used": self.default_used, "default_share": see_text(self.default_share()),
            "markup": str(self.markup), "attributed_direct_g": self.attributed_direct_g,
            "attributed_indirect_g": self.attributed_indirect_g,
            "activity_level_g": mass_text(self.activity_level_g),
            "installations": [c.json() for c in self.installations],
            "inputs": [i.json() for i in self.inputs],
            "contributing_seqs": list(self.contributing_seqs), "gaps": list(self.gaps)}


FIGURE_LABELS = {
    "cbam": "CBAM specific embedded emissions (direct and indirect, installation and CBAM precursors)",
    "pcf": "product carbon footprint roll-up (cradle-to-gate, mass allocation); not a CBAM figure",
}
