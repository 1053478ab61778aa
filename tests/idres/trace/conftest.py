"""One hand-built plant per module and backend, for the tests that only read it.

Building the plant (prefix keys, signed appends, scrypt checks on every
authenticated request) costs about a second; the read-only tests share it.
Tests that append build their own through the function-scoped fixtures.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from idres.app import create_app
from idres.config import Config
from idres.node import create_prefix, init_node
from idres.storage import Database, open_database
from tests.conftest import (ADMIN_SECRET, ENT, ENT_SECRET, NODE, OTHER, OTHER_SECRET, _drop_schema,
                            _fresh_schema)
from tests.idres.trace import Plant, build


@dataclass
class Shared:
    client: Any
    db: Database
    config: Config
    plant: Plant


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """A node on each backend with the plant of :func:`tests.idres.trace.build`."""
    tmp: Path = tmp_path_factory.mktemp("plant")
    schema = base = None
    if request.param == "sqlite":
        url = str(tmp / "idres.db")
    else:
        base = request.getfixturevalue("postgres_url")
        schema, url = _fresh_schema(base)
    config = Config(database=url, node_prefix=NODE, base_url="http://node.test",
                    ledger_key_file=str(tmp / "ledger.key"))
    database = open_database(url)
    init_node(database, config, ADMIN_SECRET)
    create_prefix(database, config, ENT, ENT_SECRET)
    create_prefix(database, config, OTHER, OTHER_SECRET)
    app = create_app(config)
    client = app.test_client()
    yield Shared(client, database, config, build(client, database, config))
    app.extensions["idres"].db.close()
    database.close()
    if schema:
        _drop_schema(base, schema)
