"""``scripts/gen_cluster``: generate a synthetic cluster and load it into a node."""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from typing import Callable, TextIO

from idres.cluster.catalogue import EU_IMPORTER
from idres.cluster.layout import MAX_VEHICLES_PER_WAVE, MIN_PARTS, ClusterSpec
from idres.cluster.loader import DEFAULT_BATCH, ClusterLoadError, load_cluster
from idres.cluster.plan import ClusterPlan
from idres.config import Config, load_config
from idres.errors import HandleError
from idres.handles import prefix_record
from idres.node import init_node
from idres.storage import open_database, records

USAGE_EXAMPLE = """examples:
  gen_cluster --database ./cluster.db --parts 100000 --seed 7
  gen_cluster --database 'postgresql://127.0.0.1:5432/idres' --parts 1000000 \\
              --ledger-key-file ./idres-ledger.key
  gen_cluster --parts 1000 --dry-run        # print the plan's numbers only
  gen_cluster --parts 1000 --dump - | head  # the plan's events as JSON lines, no database
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gen_cluster", description="Generate a reproducible synthetic automotive cluster "
        "(steel and aluminium lots, bolts, brackets, castings, engines, gearboxes, vehicles) "
        "and record it in an idres node.", epilog=USAGE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database",
                   help="SQLite path or postgresql:// URL (default: $IDRES_DATABASE or ./idres.db)")
    p.add_argument("--parts", type=int, default=1000,
                   help=f"part handles to create (>= {MIN_PARTS}; default 1000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--ledger-key-file", help="ledger signing key (default: $IDRES_LEDGER_KEY_FILE, or "
                   "beside the SQLite file / ./idres-ledger.key); created when missing")
    p.add_argument("--node-prefix", help="the node's prefix (default: $IDRES_NODE_PREFIX or 88.118)")
    p.add_argument("--base-url", help="the node's public URL (default: $IDRES_BASE_URL)")
    p.add_argument("--prefix-base", type=int, default=20,
                   help="the firms get prefixes <node>.<base> .. <node>.<base+7> (default 20)")
    p.add_argument("--vehicles-per-wave", type=int, default=20,
                   help=f"vehicles per production shift (1..{MAX_VEHICLES_PER_WAVE}; default 20)")
    p.add_argument("--exports-per-vehicle", type=int, default=0,
                   help="per vehicle, also make this many M10 bolts and brackets and ship them to an "
                   f"EU importer (EORI {EU_IMPORTER}); CBAM goods for the reports (default 0: none)")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                   help=f"events per record_events call (default {DEFAULT_BATCH})")
    p.add_argument("--dry-run", action="store_true", help="print the plan's numbers; touch no database")
    p.add_argument("--dump", metavar="FILE", help="write the plan's events as JSON lines (- for stdout); "
                   "touch no database")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _dump(plan: ClusterPlan, out: TextIO) -> int:
    n = 0
    for event in plan.events():
        out.write(json.dumps(event, separators=(",", ":")) + "\n")
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    say = (lambda _: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    try:
        config = load_config({"database": args.database, "node_prefix": args.node_prefix,
                              "base_url": args.base_url, "ledger_key_file": args.ledger_key_file})
        started = time.monotonic()
        plan = ClusterPlan(ClusterSpec(parts=args.parts, seed=args.seed, node_prefix=config.node_prefix,
                                       prefix_base=args.prefix_base,
                                       vehicles_per_wave=args.vehicles_per_wave,
                                       exports_per_vehicle=args.exports_per_vehicle))
    except ValueError as err:
        print(f"gen_cluster: {err}", file=sys.stderr)
        return 2
    summary = plan.summary()
    say(f"plan: {summary['parts']:,} parts, {summary['vehicles']:,} vehicles in "
        f"{summary['waves']:,} wave(s), "
        f"{summary['reworks']:,} reworks, seed {args.seed} ({time.monotonic() - started:.2f} s)")
    for firm, prefix in plan.firms:
        say(f"  {prefix:<14} {firm.name} ({firm.role})")
    if args.dry_run:
        print(json.dumps(summary, indent=2))
        return 0
    if args.dump:
        if args.dump == "-":
            n = _dump(plan, sys.stdout)
        else:
            with open(args.dump, "w", encoding="utf-8") as out:
                n = _dump(plan, out)
        say(f"wrote {n:,} events")
        return 0
    return _load(config, plan, args.batch, say)


def _load(config: Config, plan: ClusterPlan, batch: int, say: Callable[[str], None]) -> int:
    """Initialize the node if needed, load the plan, print secrets, counts and timings."""
    db = open_database(config.database, 2)
    try:
        init_node(db, config, None)      # migrations and the ledger key
        with db.read() as s:
            has_admin = records.handle_exists(s, prefix_record(config.node_prefix).key)
        if not has_admin:
            admin = secrets.token_urlsafe(12)
            init_node(db, config, admin)
            print(f"node admin 300:0.NA/{config.node_prefix} secret (shown once): {admin}")
        report = load_cluster(db, config, plan, batch, say)
    except (ClusterLoadError, ValueError) as err:
        print(f"gen_cluster: {err}", file=sys.stderr)
        return 1
    except HandleError as err:
        where = f" [{err.field}]" if err.field else ""
        print(f"gen_cluster: error (rc {err.rc}): {err.message}{where}", file=sys.stderr)
        return 1
    finally:
        db.close()
    for prefix, secret in report.secrets.items():
        print(f"log in as 300:0.NA/{prefix} with secret (shown once): {secret}")
    print(f"loaded {report.parts:,} parts and {report.events:,} events ({report.duplicates:,} already "
          f"present) into {config.database}: ledger size {report.checkpoint.get('size', 0):,}, "
          f"root {report.checkpoint.get('root', '')}")
    print(f"time: {report.seconds:.1f} s (prefixes {report.prefix_seconds:.1f} s, mint "
          f"{report.mint_seconds:.1f} s, events {report.event_seconds:.1f} s, "
          f"{report.events / max(report.event_seconds, 1e-9):,.0f} events/s)")
    return 0
