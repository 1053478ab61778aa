"""Placeholder blueprint (being built for issue 5)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("carbon", __name__)
