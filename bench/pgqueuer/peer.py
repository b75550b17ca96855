#!/usr/bin/env python3
"""Peer benchmark: pgqueuer 1.6.0 (asyncpg driver) on a given PostgreSQL database.

Usage:
    python3 peer.py --dsn postgres://postgres@127.0.0.1:PORT/DBNAME \
        --jobs 100000 --consumers N --batch B [--enqueue-only]

Steps (every run is independent of the previous one):
  1. drop pgqueuer's schema objects (Queries.uninstall, all DROP ... IF EXISTS)
     and install them again (Queries.install, default durability "durable"),
  2. enqueue --jobs no-op jobs with ONE batched Queries.enqueue call (timed),
  3. ANALYZE pgqueuer's tables,
  4. burn-down (skipped with --enqueue-only): start --consumers processes
     (spawn; each with its own event loop -- uvloop, as `pgq run` uses -- and
     its own asyncpg connection) running QueueManager.run(batch_size=B,
     mode=drain) with a no-op entrypoint. Each process connects and builds its
     QueueManager, reports ready, and blocks on a start event. When all are
     ready the parent reads the server clock (clock_timestamp()) and releases
     them. The burn-down ends at the commit of the last completion: pgqueuer
     moves finished jobs from `pgqueuer` to `pgqueuer_log` (created =
     now() of that statement), so burn_down_s = max(pgqueuer_log.created)
     - start, both taken from the server clock. Process start-up, imports and
     connecting are not counted; pgqueuer's own per-run start (schema check,
     LISTEN) and its 0.1 s log-buffer flush at the tail are. The parent then
     checks that every job was logged 'successful' and that the queue is empty.

Prints exactly one JSON line on stdout and exits 0; on error prints one line
on stderr and exits 1. Gives up after --timeout seconds (default 300).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import queue as queue_mod
import sys
import time
from datetime import timedelta

PEER = "pgqueuer"
ENTRYPOINT = "noop"


class PeerError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line on stderr, exit 1
        print(f"pgqueuer peer: usage error: {message}", file=sys.stderr, flush=True)
        sys.exit(1)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = _Parser(description="pgqueuer peer benchmark")
    p.add_argument("--dsn", required=True, help="postgres://user@127.0.0.1:PORT/DB")
    p.add_argument("--jobs", type=int, default=100_000)
    p.add_argument("--consumers", type=int, default=1)
    p.add_argument("--batch", type=int, default=10, help="QueueManager.run(batch_size=...)")
    p.add_argument("--enqueue-only", action="store_true")
    p.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    p.add_argument("--verbose", action="store_true", help="extra timing details on stderr")
    a = p.parse_args(argv)
    if a.jobs < 1 or a.consumers < 1 or a.batch < 1 or a.timeout <= 0:
        p.error("--jobs, --consumers, --batch and --timeout must be positive")
    return a


def run_loop(coro):
    """Run *coro* the way pgqueuer's own CLI does (uvloop when installed)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


# --------------------------------------------------------------------------- consumer


async def _consume(dsn: str, batch: int, ready, start, deadline: float) -> None:
    import asyncpg
    from pgqueuer import QueueManager
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job
    from pgqueuer.queries import Queries
    from pgqueuer.types import QueueExecutionMode

    conn = await asyncpg.connect(dsn)
    try:
        qm = QueueManager(Queries(AsyncpgDriver(conn)))

        @qm.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            return None

        ready.put(os.getpid())
        # Nothing else runs on this loop yet, so a blocking wait is fine.
        if not start.wait(timeout=max(1.0, deadline - time.time())):
            raise PeerError("consumer was never released")
        await asyncio.wait_for(
            qm.run(
                batch_size=batch,
                mode=QueueExecutionMode.drain,
                # Only bounds how long an idle worker waits at the very end
                # before re-checking for drain; never hit while jobs remain.
                dequeue_timeout=timedelta(seconds=1),
            ),
            timeout=max(1.0, deadline - time.time()),
        )
    finally:
        await conn.close()


def consumer_main(dsn: str, batch: int, ready, start, deadline: float) -> None:
    logging.getLogger("pgqueuer").setLevel(logging.WARNING)
    try:
        run_loop(_consume(dsn, batch, ready, start, deadline))
    except BaseException as e:  # noqa: BLE001 - report anything, one line
        msg = f"{type(e).__name__}: {e}".replace("\n", " ")
        print(f"pgqueuer peer consumer {os.getpid()}: {msg}", file=sys.stderr, flush=True)
        os._exit(1)


# --------------------------------------------------------------------------- parent


async def _wait_ready(ready, procs, n: int, deadline: float) -> None:
    got = 0
    while got < n:
        if time.time() > deadline:
            raise PeerError(f"timed out: only {got}/{n} consumers ready")
        for p in procs:
            if p.exitcode not in (None, 0):
                raise PeerError(f"consumer exited with code {p.exitcode} before start")
        try:
            ready.get(timeout=0.1)
            got += 1
        except queue_mod.Empty:
            pass


async def _wait_done(procs, deadline: float) -> None:
    while any(p.is_alive() for p in procs):
        if time.time() > deadline:
            raise PeerError("timed out waiting for the burn-down")
        for p in procs:
            if p.exitcode not in (None, 0):
                raise PeerError(f"consumer exited with code {p.exitcode}")
        await asyncio.sleep(0.05)
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise PeerError(f"consumer exit codes {bad}")


async def bench(a: argparse.Namespace) -> dict:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    deadline = time.time() + a.timeout
    conn = await asyncpg.connect(a.dsn, timeout=30)
    procs: list = []
    try:
        q = Queries(AsyncpgDriver(conn))
        s = q.qbe.settings

        # 1. fresh schema
        await q.uninstall()
        await q.install()

        # 2. one batched enqueue
        entrypoints = [ENTRYPOINT] * a.jobs
        payloads = [None] * a.jobs
        priorities = [0] * a.jobs
        t0 = time.perf_counter()
        ids = await q.enqueue(entrypoints, payloads, priorities)
        enqueue_s = time.perf_counter() - t0
        if len(ids) != a.jobs:
            raise PeerError(f"enqueue returned {len(ids)} ids, expected {a.jobs}")

        # 3. planner statistics
        for table in (s.queue_table, s.queue_table_log, s.statistics_table, s.schedules_table):
            await conn.execute(f"ANALYZE {s.qualify(table)}")

        result = {
            "peer": PEER,
            "version": _version(),
            "jobs": a.jobs,
            "consumers": a.consumers,
            "batch": a.batch,
            "enqueue_s": round(enqueue_s, 6),
            "enqueue_per_s": round(a.jobs / enqueue_s, 1),
            "burn_down_s": None,
            "jobs_per_s": None,
        }
        if a.enqueue_only:
            return result

        # 4. burn-down
        ctx = mp.get_context("spawn")
        ready = ctx.Queue()
        start = ctx.Event()
        for _ in range(a.consumers):
            p = ctx.Process(
                target=consumer_main,
                # Consumers give up a little after the parent, so the parent
                # is the one that reports a timeout (and kills them).
                args=(a.dsn, a.batch, ready, start, deadline + 15),
                daemon=True,
            )
            p.start()
            procs.append(p)
        await _wait_ready(ready, procs, a.consumers, deadline)

        started_at = await conn.fetchval("SELECT clock_timestamp()")
        t_release = time.perf_counter()
        start.set()
        await _wait_done(procs, deadline)
        t_exited = time.perf_counter()

        row = await conn.fetchrow(
            # The log also holds a 'queued' and a 'picked' row per job.
            f"""SELECT count(*) FILTER (WHERE status = 'successful') AS ok,
                       count(*) FILTER (WHERE status NOT IN ('queued', 'picked', 'successful'))
                           AS bad,
                       max(created) FILTER (WHERE status = 'successful') AS last,
                       min(created) FILTER (WHERE status = 'picked') AS first_pick
                FROM {s.qualify(s.queue_table_log)}"""
        )
        left = await conn.fetchval(f"SELECT count(*) FROM {s.qualify(s.queue_table)}")
        if row["ok"] != a.jobs or row["bad"] != 0 or left != 0:
            raise PeerError(
                f"incomplete burn-down: {row['ok']} successful, {row['bad']} failed/other, "
                f"{left} left in queue, expected {a.jobs} successful"
            )
        burn = (row["last"] - started_at).total_seconds()
        if burn <= 0:
            raise PeerError(f"non-positive burn-down time {burn}")
        if a.verbose:
            first = (row["first_pick"] - started_at).total_seconds()
            print(
                f"pgqueuer peer: release->first dequeue {first:.3f} s, "
                f"release->last completion {burn:.3f} s, "
                f"release->all consumers exited {t_exited - t_release:.3f} s",
                file=sys.stderr,
                flush=True,
            )
        result["burn_down_s"] = round(burn, 6)
        result["jobs_per_s"] = round(a.jobs / burn, 1)
        return result
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(timeout=5)
        await conn.close()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("pgqueuer")
    except Exception:  # noqa: BLE001
        import pgqueuer

        return getattr(pgqueuer, "__version__", "unknown")


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    logging.getLogger("pgqueuer").setLevel(logging.WARNING)
    try:
        result = asyncio.run(asyncio.wait_for(bench(a), timeout=a.timeout + 30))
    except BaseException as e:  # noqa: BLE001 - one line, exit 1
        if isinstance(e, asyncio.TimeoutError):
            e = PeerError(f"gave up after {a.timeout:.0f} s")
        msg = f"{type(e).__name__}: {e}".replace("\n", " ")
        print(f"pgqueuer peer: {msg}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps(result, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
