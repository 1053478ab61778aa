"""The application factory."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from idres.api import carbon, handles, labels, ledger, openapi, pact, prefixes, reports, scan, stats, trace
from idres.api.context import Node
from idres.api.errors import register_error_handlers
from idres.config import Config, load_config
from idres.storage import open_database


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app.

    Called once per gunicorn worker (no ``--preload``), so the PostgreSQL
    pool opens after the fork.  ``config`` may be a :class:`Config` or a
    mapping of overrides on top of the environment.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    app = Flask("idres")
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_body_bytes
    app.json.sort_keys = False
    app.extensions["idres"] = Node(cfg, open_database(cfg.database, cfg.pool_size))
    # scan.bp last: its /<path:handle> page must not shadow the API.
    for bp in (ledger.bp, handles.bp, prefixes.bp, openapi.bp, trace.bp, labels.bp, carbon.bp,
               pact.bp, stats.bp, reports.bp, scan.bp):
        app.register_blueprint(bp)
    register_error_handlers(app)
    return app
