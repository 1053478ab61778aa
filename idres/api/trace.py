"""Placeholder blueprint (being built for issue 4)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("trace", __name__)
