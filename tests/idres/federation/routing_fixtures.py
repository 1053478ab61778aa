"""Fixtures of the routing tests: real nodes on loopback (in-process servers).

Top-level node T (``88``) holds ``0.NA/88.118.8`` naming secondary A
(``88.118``), which holds ``88.118.8/ENG-1``.  Node B (``88.119``, upstream
T, on each backend) is the router under test: it is asked through its REST
API (Flask test client) and talks real HTTP to T and A.  Test modules import
the fixtures they use by name.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from idres.config import Config
from idres.federation.cache import AnswerCache
from idres.federation.routing import Router
from idres.node import create_prefix
from tests.idres.federation.routing_nodes import Node, running_node, site

PART = "88.118.8/ENG-1"
PART_VALUES = [{"index": 1, "type": "URL", "data": "https://a.example/eng-1", "ttl": 300},
               {"index": 2, "type": "PART.TYPE", "data": "ENGINE", "ttl": 60},
               {"index": 3, "type": "PART.DESCRIPTION", "data": "K20 engine", "ttl": 3600}]
TIMEOUT = 0.6  # B's upstream_timeout: the deadline of every routed request


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def top(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(tmp_path_factory.mktemp("top"), "88", "top-level") as node:
        yield node


@contextmanager
def secondary_a(tmp: Path, top: Node) -> Iterator[Node]:
    """Node A holding 88.118.8 and PART, registered (directly) at the top-level node."""
    with running_node(tmp, "88.118") as node:
        create_prefix(node.db, node.config, "88.118.8", "engine-maker-secret")
        node.put(PART, PART_VALUES)
        top.store("0.NA/88.118.8", [site(node.url)])
        yield node


@pytest.fixture(scope="module")
def node_a(tmp_path_factory: pytest.TempPathFactory, top: Node) -> Iterator[Node]:
    with secondary_a(tmp_path_factory.mktemp("a"), top) as node:
        yield node


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def secondary_b(tmp: Path, database: str, top: Node, node_a: Node, clock: Clock) -> Iterator[Node]:
    """A fresh B (and cache); T and A back as the module's fixtures built them."""
    top.store("0.NA/88.118.8", [site(node_a.url)])
    node_a.put(PART, PART_VALUES)
    with running_node(tmp, "88.119", upstream=top.url, timeout=TIMEOUT, database=database) as node:
        node.app.extensions["idres.router"] = Router(node.db, node.config, AnswerCache(clock=clock))
        yield node


@pytest.fixture
def node_b(tmp_path: Path, top: Node, node_a: Node, clock: Clock) -> Iterator[Node]:
    """B on SQLite: routing itself does not touch B's database."""
    with secondary_b(tmp_path / "b", str(tmp_path / "b.db"), top, node_a, clock) as node:
        yield node


@pytest.fixture
def node_b_backends(tmp_path: Path, database_url: str, top: Node, node_a: Node,
                    clock: Clock) -> Iterator[Node]:
    """B on each backend, for the tests where B's own records take part."""
    with secondary_b(tmp_path / "b", database_url, top, node_a, clock) as node:
        yield node


def get(node: Node, handle: str, query: str = "", **headers: str):
    return node.app.test_client().get(f"/api/handles/{handle}{query}", headers=headers)


def error(r, status: int, rc: int) -> dict:
    assert (r.status_code, r.json["responseCode"]) == (status, rc), r.json
    return r.json


def with_config(node: Node, **changes) -> Config:
    """The node's config with ``changes`` (a router built on it sees them)."""
    return replace(node.config, **changes)
