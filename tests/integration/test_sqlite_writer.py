"""SQLite's writer lock queues writers across processes: a second process waits for the first to
let go, a forked child does not share its parent's lock, and concurrent writers lose nothing."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from bot.adapters.sql_store import SqlStore
from bot.adapters.sqlite_writer import SqliteWriterLock

HOLD_S = 0.6
HOLDER = """
import sys, time
from pathlib import Path
from bot.adapters.sqlite_writer import SqliteWriterLock
with SqliteWriterLock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_process_waits_for_the_writer(tmp_path: Path) -> None:
    """While another process holds the writer lock, taking it waits until that process lets go."""
    database = tmp_path / "firebreak.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database), str(HOLD_S)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with SqliteWriterLock(database):
        waited_s = time.monotonic() - started
    holder.wait(timeout=10)
    assert waited_s > HOLD_S / 2


def test_a_forked_child_does_not_share_its_parents_lock(tmp_path: Path) -> None:
    """A lock held across fork is the parent's alone: the child takes it once the parent lets
    go, not before, and not never."""
    lock = SqliteWriterLock(tmp_path / "firebreak.db")
    with lock:
        pass  # the parent has opened its lock file
    read_end, write_end = os.pipe()
    with lock:
        pid = os.fork()
        if pid == 0:  # the child: it may take the lock only after the parent lets go
            os.close(read_end)
            with lock:
                os.write(write_end, str(time.monotonic()).encode())
            os._exit(0)
        os.close(write_end)
        time.sleep(HOLD_S)
        released_at = time.monotonic()
    taken_at = float(os.read(read_end, 64).decode())
    os.waitpid(pid, 0)
    assert taken_at >= released_at


def _add_rows(url: str, worker: int, count: int) -> None:
    store = SqlStore.from_url(url)
    for index in range(count):
        with store.transaction() as tx:
            current = tx._conn.execute(text("SELECT COALESCE(MAX(n), 0) FROM counter")).scalar()  # type: ignore[attr-defined]
            tx._conn.execute(  # type: ignore[attr-defined]
                text("INSERT INTO counter (n, worker) VALUES (:n, :w)"),
                {"n": current + 1, "w": f"{worker}-{index}"},
            )
    store.dispose()


def test_concurrent_writers_in_separate_processes_lose_nothing(tmp_path: Path) -> None:
    """Read-then-write transactions from three processes never interleave: every row gets the
    next number, none is lost or repeated."""
    url = f"sqlite:///{tmp_path / 'firebreak.db'}"
    store = SqlStore.from_url(url)
    with store.transaction() as tx:
        tx._conn.execute(text("CREATE TABLE counter (n INTEGER UNIQUE, worker TEXT)"))  # type: ignore[attr-defined]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_rows, args=(url, w, 40)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    with store.engine.connect() as conn:
        numbers = [row[0] for row in conn.execute(text("SELECT n FROM counter ORDER BY n"))]
    assert numbers == list(range(1, 121))
