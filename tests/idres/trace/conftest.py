"""One hand-built plant per module and backend, for the tests that only read it.

Building the plant (prefix keys, signed appends, scrypt checks on every
authenticated request) costs about a second; the read-only tests share it.
Tests that append build their own through the function-scoped fixtures.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.conftest import SharedNode, shared_node
from tests.idres.trace import build

Shared = SharedNode


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedNode]:
    """A node on each backend with the plant of :func:`tests.idres.trace.build`."""
    with shared_node(request, tmp_path_factory, "plant", build) as node:
        yield node
