"""A reproducible synthetic automotive supply-chain cluster (``scripts/gen_cluster``).

Eight enterprise prefixes under the node prefix, ``<node>.<base+0..7>``
(base 20 by default): a steel mill, an aluminium foundry, a fastener maker,
a bracket maker, a casting / cylinder-block maker, an engine maker, a
gearbox maker and a vehicle maker (OEM) whose vehicles have VIN-like handles.

Production runs in waves (one 8-hour shift each, up to 20 vehicles).  Per
vehicle: 8 M10 bolts go into a cylinder block, the block and 2 brackets into
an engine, a gearbox housing and 4 M8 bolts into a gearbox, and the engine
and the gearbox into the vehicle: 19 part handles.  Around them:

- raw-material lots (wire rod and sheet from the steel mill, aluminium ingots
  from the foundry) are part handles, commissioned with a heat / cast
  number as batch and their mass, each with a ``carbon.recorded`` event
  (actual or default data, evidence = SHA-256 of a deterministic string),
  shipped to the firm that uses them and received there;
- components are made by ``transformed`` events from those lots (batch to
  serial, consumed mass including scrap; a lot running out mid-wave gives a
  transformation with two lot inputs; castings also consume an in-house
  ``REMELT-YYYY-MM`` batch of foundry returns); components carry production
  batch names, and each bolt and bracket batch gets a batch-level
  ``carbon.recorded`` event when it closes;
- shipments between the firms (shipped by the sender, received by the
  receiver), and from the OEM to dealers (``DLR-...``, off the node);
- inspections: sampled bolts (some ``non_conformant`` with a defect code),
  every block, gearbox, engine and vehicle;
- rework: about 5 % of the blocks fail inspection; the block maker takes
  one bolt out (``disassembled``) and puts a spare in (``assembled``), so the
  genealogy has closed edges.

Every count is fixed by the size: exactly ``parts`` part handles (the
remainder after the last whole vehicle becomes a service lot with spare
bolts).  Everything random derives from the seed, event ids are UUIDv5 and
times are computed, so the same seed and size give the same events.

Use :class:`ClusterPlan` to get the data (handles, mint calls, events,
reworks) without a database, and :func:`load_cluster` to write it to a node.
"""
from idres.cluster.layout import ClusterSpec, Layout, Wave
from idres.cluster.loader import (ClusterLoadError, LoadReport, create_prefixes, load_cluster, mint_plan,
                                  record_plan)
from idres.cluster.plan import ClusterPlan, MintChunk, Rework


def plan_cluster(parts: int, seed: int = 1, **options: object) -> ClusterPlan:
    """The plan of a cluster of ``parts`` handles (options: see :class:`ClusterSpec`)."""
    return ClusterPlan(ClusterSpec(parts=parts, seed=seed, **options))  # type: ignore[arg-type]


__all__ = ["ClusterSpec", "ClusterPlan", "ClusterLoadError", "Layout", "LoadReport", "MintChunk",
           "Rework", "Wave", "create_prefixes", "load_cluster", "mint_plan", "plan_cluster", "record_plan"]
