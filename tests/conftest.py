"""Shared fixtures: a real database on each backend, a node, HTTP clients.

Every test that takes ``db`` (or anything built on it) runs twice: on a
SQLite file in a temporary directory and on a fresh PostgreSQL schema.
PostgreSQL comes from ``IDRES_TEST_POSTGRES`` (``scripts/test`` sets it);
when the server is unreachable those cases skip, except under ``CI=true``,
where they fail.
"""
from __future__ import annotations

import base64
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import psycopg
import pytest

from idres.app import create_app
from idres.config import Config
from idres.node import create_prefix, init_node
from idres.storage import open_database

PG_URL = os.environ.get("IDRES_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
ADMIN_SECRET = "node-admin-secret"
ENT_SECRET = "engine-maker-secret"
OTHER_SECRET = "bolt-maker-secret"
NODE = "88.118"
ENT = "88.118.8"
OTHER = "88.118.9"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.Error as err:
        return str(err)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unreachable at {PG_URL} under CI: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {problem}")
    return PG_URL


def _fresh_schema(base_url: str) -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base_url else "?"
    return schema, f"{base_url}{sep}options=-csearch_path%3D{schema}"


def _drop_schema(base_url: str, schema: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@dataclass
class SharedNode:
    """A node built once per module (and backend) for tests that only read it."""

    client: Any
    db: Any
    config: Config
    plant: Any


@contextmanager
def shared_node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                name: str, build: Callable[[Any, Any, Config], Any]) -> Iterator[SharedNode]:
    """Node admin and both enterprise prefixes on ``request.param``'s backend, then ``build``."""
    tmp = tmp_path_factory.mktemp(name)
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
    try:
        yield SharedNode(client, database, config, build(client, database, config))
    finally:
        app.extensions["idres"].db.close()
        database.close()
        if schema:
            _drop_schema(base, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database on each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "idres.db")
        return
    base = request.getfixturevalue("postgres_url")
    schema, url = _fresh_schema(base)
    yield url
    _drop_schema(base, schema)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return Config(database=database_url, node_prefix=NODE, base_url="http://node.test",
                  ledger_key_file=str(tmp_path / "ledger.key"))


@pytest.fixture
def db(config: Config) -> Iterator:
    """A migrated database with the node admin and two enterprise prefixes."""
    database = open_database(config.database)
    init_node(database, config, ADMIN_SECRET)
    create_prefix(database, config, ENT, ENT_SECRET)
    create_prefix(database, config, OTHER, OTHER_SECRET)
    yield database
    database.close()


@pytest.fixture
def app(config: Config, db):
    application = create_app(config)
    yield application
    application.extensions["idres"].db.close()


@pytest.fixture
def client(app):
    return app.test_client()


def basic(username: str, password: str) -> dict[str, str]:
    """A Basic Authorization header, username percent-encoded as pyhandle does."""
    user = username.replace(":", "%3A", 1)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ENT_AUTH = basic(f"300:0.NA/{ENT}", ENT_SECRET)
OTHER_AUTH = basic(f"300:0.NA/{OTHER}", OTHER_SECRET)
ADMIN_AUTH = basic(f"300:0.NA/{NODE}", ADMIN_SECRET)


def row_count(database, table: str) -> int:
    """Rows in a table: used to prove a rejected write changed nothing."""
    with database.read() as s:
        return int(s.one(f"SELECT COUNT(*) AS n FROM {table}")["n"])


RESOLVER_TABLES = ("handles", "handle_values", "audit_log", "mint_sequences")


def counts(database) -> dict[str, int]:
    """Rows in every resolver table."""
    return {t: row_count(database, t) for t in RESOLVER_TABLES}


def rejected(database, before: dict, r, status: int, rc: int, field: str | None = None) -> None:
    """Assert the error response and that no resolver table changed."""
    assert r.status_code == status, r.json
    assert r.json["responseCode"] == rc, r.json
    if field is not None:
        assert r.json.get("field") == field, r.json
    assert counts(database) == before
