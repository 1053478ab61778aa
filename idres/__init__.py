"""idres: identifier resolution and traceability node (Handle protocol)."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def create_app(config: Any = None) -> Any:
    """Build the Flask app (see :func:`idres.app.create_app`)."""
    from idres.app import create_app as factory

    return factory(config)
