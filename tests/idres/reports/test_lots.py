"""CBAM reports roll parts of one batch up once, yet each part keeps its own mass, figure and place.

A small plant of its own (88.118.8 at CN-BOLT-01, bolt type 52 g), shipped in one event to
EU-IMP-LOTS in 2026-Q4, the handles interleaved across batches:

    LOT-M  batch record 2,000 g / 500 g CO2e for 1,000 g (SEE 2.0 / 0.5)
           L1 52 g, L2 52 g, L3 104 g, L5 78 g (commissioned masses),
           L4 52 g with a carbon record of its own: 3,000 g / 0 for 1,000 g (SEE 3.0 / 0)
    LOT-N  batch record 1,000 g / 0 for 1,000 g (SEE 1.0 / 0): N1 52 g

Grams CO2e: LOT-M parts other than L4 weigh 286 g: direct 572, indirect 143; L4 direct 156;
N1 direct 52.  Total 390 g of goods, direct 780 g, indirect 143 g.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from idres.carbon.reports import Period, roll_up, shipments_to
from idres.carbon.rollup import Rollup
from tests.conftest import ENT, ENT_AUTH, SharedNode, shared_node
from tests.idres.carbon import Plant, Q4_2026, carbon, part, reference_data, ship
from tests.idres.events import accepted, mint_parts
from tests.idres.reports import post_report, quarterly_body

IMPORTER = "EU-IMP-LOTS"
# key order of the minted handles P-001..P-006: the shipment's rows come in this order
NAMES = ["L1", "N1", "L3", "L4", "L5", "L2"]


def _build(client, db, config) -> Plant:
    plant = Plant()
    reference_data(client)
    plant.h.update(zip(NAMES, mint_parts(db, config, ENT, len(NAMES), "LOTS-{seq:03}")))
    h = plant.h
    masses = {"L1": 52, "L2": 52, "L3": 104, "L4": 52, "L5": 78}
    events = {f"c-{n}": part(h[n], "BOLT-M10", "CN-BOLT-01", g, lot="LOT-M") for n, g in masses.items()}
    events.update({
        "c-N1": part(h["N1"], "BOLT-M10", "CN-BOLT-01", 52, lot="LOT-N"),
        "co2-LOT-M": carbon("CN-BOLT-01", 2_000, 500, 1_000, batch="LOT-M"),
        "co2-L4": carbon("CN-BOLT-01", 3_000, 0, 1_000, handle=h["L4"]),
        "co2-LOT-N": carbon("CN-BOLT-01", 1_000, 0, 1_000, batch="LOT-N"),
        "s": ship([h[n] for n in NAMES], Q4_2026, IMPORTER)})
    answer = accepted(client, {"events": list(events.values())}, ENT_AUTH)
    plant.seq.update(zip(events, (e["seq"] for e in answer["entries"])))
    return plant


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def lots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedNode]:
    with shared_node(request, tmp_path_factory, "lots", _build) as node:
        yield node


def test_each_part_keeps_its_own_mass_and_figure(lots):
    """One row (same CN code and installation): 390 g; direct 780 g, indirect 143 g."""
    answer = post_report(lots.client, "annual", {"importer": IMPORTER, "year": 2026, "include_proofs": False}).json
    (row,) = answer["rows"]
    assert (row["goods"], row["net_mass_t"], row["direct_emissions_t"], row["indirect_emissions_t"]) == (
        6, "0.000390", "0.0007800", "0.0001430")
    assert (row["see_direct"], row["see_indirect"]) == ("2.0000000", "0.3666667")  # 780/390, 143/390
    seqs = {e["seq"] for e in answer["proof_of_origin"]["entries"]}
    assert seqs == {lots.plant.seq[k] for k in ("co2-LOT-M", "co2-L4", "co2-LOT-N", "s")}


def test_quarterly_lists_handles_in_shipped_and_asked_order(lots):
    h = lots.plant.h
    report = post_report(lots.client, "quarterly", quarterly_body(to_party=IMPORTER, include_proofs=False)).json
    (good,) = report["report"]["imported_goods"]
    assert good["handles"] == [h[n] for n in NAMES]
    assert (good["goods"], good["net_mass_t"], good["see_direct"]) == (6, "0.000390", "2.0000000")
    asked = [h[n] for n in ("L2", "L4", "N1", "L1", "L3")]
    report = post_report(lots.client, "quarterly", quarterly_body(handles=asked, include_proofs=False)).json
    (good,) = report["report"]["imported_goods"]
    # 52 g at 2.0 twice, 52 g at 3.0, 52 g at 1.0, 104 g at 2.0: 624 g CO2e over 312 g (L4 at its
    # batch's 2.0 would give 572 g)
    assert (good["handles"], good["net_mass_t"], good["see_direct"]) == (asked, "0.000312", "2.0000000")


def test_rolls_up_once_per_lot(lots, monkeypatch):
    """Six parts, five lots (L1 and L2 share batch, type and mass): five figures are asked for."""
    asked: list[str] = []
    shared = Rollup.shared

    def counting(self: Rollup, subject: str) -> Any:
        asked.append(subject)
        return shared(self, subject)

    monkeypatch.setattr(Rollup, "shared", counting)
    with lots.db.read() as s:
        goods = roll_up(s, 2026, shipments_to(s, IMPORTER, Period(2026), None, "importer"))
    h = lots.plant.h
    assert sorted(asked) == sorted(h[n] for n in ("L1", "N1", "L3", "L4", "L5"))
    (group,) = goods.groups.values()
    assert (group.count, group.mass_g, group.handles) == (6, 390, [h[n] for n in NAMES])
