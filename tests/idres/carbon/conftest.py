"""One carbon plant per module and backend (building it costs about a second).
"""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.conftest import SharedNode, shared_node
from tests.idres.carbon import build

Shared = SharedNode


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedNode]:
    """A node on each backend with the plant of :func:`tests.idres.carbon.build`."""
    with shared_node(request, tmp_path_factory, "carbon", build) as node:
        yield node
