"""Placeholder blueprint (being built for issue 4)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("scan", __name__)
