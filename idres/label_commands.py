"""Placeholder for CLI commands (being built for issue 4)."""
from __future__ import annotations
