"""The storage layer: one small engine shim over SQLite and PostgreSQL.

SQL lives in the modules of this package; everything above it calls their
functions with a :class:`~idres.storage.engine.Session`.
"""
from idres.storage.engine import Database, Session, open_database, INTEGRITY_ERRORS

__all__ = ["Database", "Session", "open_database", "INTEGRITY_ERRORS"]
