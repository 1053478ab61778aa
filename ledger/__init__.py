"""The ledger: an append-only, hash-chained Merkle log of lifecycle events.

Not built yet (issue 3). It must never import ``idres``.
"""
