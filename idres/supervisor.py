"""``idres serve``: gunicorn as a child process, the binary protocol and background tasks here.

The parent runs one asyncio loop: the binary Handle protocol server
(:mod:`idres.hdl.server`, unless its port is 0) and the tasks of
:mod:`idres.serve_tasks`.  gunicorn (the HTTP API) is a child process.
SIGTERM or SIGINT stops everything: gunicorn gets SIGTERM (graceful) and is
reaped, the tasks are cancelled, the listeners closed.  If gunicorn exits on
its own the node is down, so the parent stops too, with gunicorn's status.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Awaitable

from idres.cli import gunicorn_argv
from idres.config import Config
from idres.federation.binary import binary_answer
from idres.hdl.server import HdlServer
from idres.serve_tasks import registered
from idres.storage import Database, open_database

log = logging.getLogger("idres.serve")
GUNICORN_STOP_TIMEOUT = 35.0  # gunicorn's own graceful timeout is 30 s


def serve(config: Config, bind: str, workers: int) -> int:
    """Run the node until a signal; returns the exit status."""
    _log_to_stderr()
    return asyncio.run(_serve(config, bind, workers))


def serve_hdl(config: Config) -> int:
    """Run only the binary protocol server until a signal."""
    _log_to_stderr()
    return asyncio.run(_serve_hdl(config))


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _start_hdl(config: Config, db: Database) -> HdlServer:
    server = HdlServer(binary_answer(db, config), config.hdl_host, config.hdl_port,
                       workers=max(2, config.pool_size))
    await server.start()
    log.info("binary Handle protocol on %s port %d (UDP and TCP)", config.hdl_host, server.port)
    return server


async def _serve_hdl(config: Config) -> int:
    stop = _stop_event()
    db = open_database(config.database, config.pool_size)
    try:
        server = await _start_hdl(config, db)
    except OSError as err:
        log.error("cannot listen on %s port %d: %s", config.hdl_host, config.hdl_port, err)
        db.close()
        return 1
    try:
        await stop.wait()
    finally:
        await server.close()
        db.close()
    return 0


async def _serve(config: Config, bind: str, workers: int) -> int:
    stop = _stop_event()
    db = open_database(config.database, config.pool_size)
    server: HdlServer | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        if config.hdl_port:  # bound first: a taken port fails before gunicorn starts
            server = await _start_hdl(config, db)
        argv, env = gunicorn_argv(config, bind, workers)
        child = await asyncio.create_subprocess_exec(*argv, env=env, stdin=asyncio.subprocess.DEVNULL)
        tasks = [asyncio.create_task(_guarded(name, task(config, db)))
                 for name, task in registered().items()]
        await _first_of(child.wait(), stop.wait())
        status = await _stop_child(child)
        if not stop.is_set():
            log.error("gunicorn exited with status %s: stopping", status)
            return status or 1
        return status
    except OSError as err:
        log.error("cannot start: %s", err)
        return 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.close()
        db.close()


async def _first_of(*waits: Awaitable[object]) -> None:
    pending = {asyncio.ensure_future(w) for w in waits}
    _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    for rest in pending:
        rest.cancel()


async def _stop_child(child: asyncio.subprocess.Process) -> int:
    """SIGTERM gunicorn if it still runs, wait for it (SIGKILL past the timeout), reap it."""
    if child.returncode is None:
        child.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), GUNICORN_STOP_TIMEOUT)
        except asyncio.TimeoutError:
            log.error("gunicorn did not stop in %.0f s: killing it", GUNICORN_STOP_TIMEOUT)
            child.kill()
            await child.wait()
    return child.returncode or 0


async def _guarded(name: str, work: Awaitable[None]) -> None:
    """A background task whose failure is logged, not fatal to the node."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s failed", name)
