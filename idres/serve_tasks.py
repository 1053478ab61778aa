"""Background coroutines that ``idres serve`` runs beside its servers.

A task is ``async def task(config, db)``; it runs in the supervisor's event
loop for as long as the node serves and is cancelled on shutdown.  Blocking
work (database, HTTP) belongs in ``loop.run_in_executor``.  A task that
raises is logged and not restarted: loop inside the task to keep retrying.

To add one, decorate it with :func:`register` in its module and name the
module in :data:`TASK_MODULES` (imported when ``idres serve`` starts), e.g.
the federation's upstream-registration retry loop.
"""
from __future__ import annotations

import importlib
from typing import Awaitable, Callable

from idres.config import Config
from idres.storage import Database

BackgroundTask = Callable[[Config, Database], Awaitable[None]]

# Modules whose import registers tasks (kept explicit: no import side effects elsewhere).
TASK_MODULES: tuple[str, ...] = ("idres.federation.upstream", "idres.federation.stats")

_registry: dict[str, BackgroundTask] = {}


def register(name: str) -> Callable[[BackgroundTask], BackgroundTask]:
    """Decorator: run ``task`` under ``name`` in every ``idres serve``."""

    def add(task: BackgroundTask) -> BackgroundTask:
        _registry[name] = task
        return task

    return add


def registered() -> dict[str, BackgroundTask]:
    """Every registered task by name (imports :data:`TASK_MODULES` first)."""
    for module in TASK_MODULES:
        importlib.import_module(module)
    return dict(_registry)
