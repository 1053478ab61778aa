"""Carbon accounting on the ledger: reference data, CBAM embedded emissions, footprints.

- :mod:`idres.carbon.scope`: which CN codes CBAM covers, default-value mark-ups.
- :mod:`idres.carbon.reference`: installations and part types (API and CLI).
- :mod:`idres.carbon.defaults`: the replaceable CBAM default-value table.
- :mod:`idres.carbon.rollup`: ``see_of(session, subject, year)`` and :class:`Rollup`,
  specific embedded emissions rolled up through transformations and assemblies.
- :mod:`idres.carbon.footprint`: ``footprint_of(session, subject)``, the
  cradle-to-gate product carbon footprint (labelled, never a CBAM figure).
- :mod:`idres.carbon.service`: both as JSON, with the checkpoint they were read at.
"""
