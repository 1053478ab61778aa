"""The cluster's part types as carbon reference data (CN code and net mass per type).

The CBAM roll-up and reports read a part's CN code from its registered part
type; without them no cluster part is a CBAM good.  Raw-material lots have
no fixed mass (each lot is commissioned with its own), so their type is
registered with one tonne, which the roll-up never uses for them.
"""
from __future__ import annotations

from idres.auth import OPERATOR
from idres.carbon.reference import put_part_type
from idres.cluster.catalogue import KINDS
from idres.cluster.plan import ClusterPlan
from idres.handles import fold
from idres.storage import Database, carbon as carbon_store

NOMINAL_LOT_MASS_G = 1_000_000


def register_part_types(db: Database, plan: ClusterPlan) -> int:
    """Register each kind's part type under its maker's prefix unless present; returns how many."""
    added = 0
    for kind in KINDS:
        owner = plan.prefixes[kind.firm]
        with db.read() as s:
            if carbon_store.part_type(s, fold(owner), fold(kind.part_type)) is not None:
                continue
        put_part_type(db, OPERATOR, kind.part_type,
                      {"cn_code": kind.cn_code, "net_mass_g": kind.net_mass_g or NOMINAL_LOT_MASS_G,
                       "description": kind.description}, owner)
        added += 1
    return added
