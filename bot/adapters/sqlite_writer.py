"""SQLite's one writer, queued for across processes.

SQLite lets one connection write at a time; a writer that finds the database locked sleeps in
its busy handler (1, 2, 5 ... 100 ms) and tries again, so two processes writing side by side
(the API storing deliveries, a worker normalising them) turn each other's commits into tail
latency. `SqliteWriterLock` makes writers queue instead: a thread lock inside the process, then
an exclusive `flock` on a file beside the database, which the kernel hands to the next waiter
the moment it is released. A forked child starts afresh: its own file (a lock inherited across
fork would be shared with the parent, not exclusive) and its own thread lock (the parent's
may have been held by a thread the child does not have).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


class SqliteWriterLock:
    """A context manager: held by one thread of one process at a time."""

    def __init__(self, database: Path) -> None:
        self._path = database.with_name(database.name + "-writer.lock")
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()

    def __enter__(self) -> SqliteWriterLock:
        if self._pid != os.getpid():
            self._thread_lock, self._fd, self._pid = threading.Lock(), None, os.getpid()
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd
