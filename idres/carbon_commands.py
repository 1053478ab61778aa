"""Placeholder for CLI commands (being built for issue 5)."""
from __future__ import annotations
