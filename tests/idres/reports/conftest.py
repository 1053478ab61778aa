"""The carbon plant with its shipments, once per module and backend (read-only tests)."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.conftest import SharedNode, shared_node
from tests.idres.carbon import build_with_shipments


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedNode]:
    """A node on each backend with the plant of :mod:`tests.idres.carbon` and its shipments."""
    with shared_node(request, tmp_path_factory, "reports", build_with_shipments) as node:
        yield node
