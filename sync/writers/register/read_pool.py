"""Reads of one register run side by side, each on a connection of its own.

Both engines use it for the preview's big reads (the customers rows name, key lookups,
name blocks): each read is one statement, and the database runs it without holding
Python's lock (SQLite steps through it in C; PostgreSQL works on the server), so two
cores run two reads at once. Each read sees the register as committed when it starts,
as a read on the main connection would.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

C = TypeVar("C")
T = TypeVar("T")

Rows = list[tuple[Any, ...]]


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# How many reads run side by side: one per core, at most 4.
READERS = max(1, min(4, cores()))


class ReadPool(Generic[C]):
    """Threads that run reads at once, each on a connection `connect` makes when one is
    first needed; `run(conn, query, params)` runs one read and returns its rows.

    `lent` connections (the register's own, idle while the reads run) are used first
    and never closed here. `connect` may return None when no more connections can be
    opened (a server's or a role's connection limit): the reads then take turns on the
    connections open, which must be at least one.
    """

    def __init__(self, connect: Callable[[], C | None],
                 run: Callable[[C, str, Sequence[Any]], Rows],
                 close: Callable[[C], None], count: int = READERS,
                 lent: Sequence[C] = ()) -> None:
        self._connect, self._run, self._close = connect, run, close
        self._free: queue.SimpleQueue[C] = queue.SimpleQueue()
        for conn in lent:
            self._free.put(conn)
        self._lent = len(lent)
        self._all: list[C] = []
        self._full = False  # `connect` said no more: wait for a connection in use
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="regsync-read")

    def _connection(self) -> C:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        conn = None if self._full else self._connect()
        with self._lock:
            if conn is not None:
                self._all.append(conn)
                return conn
            self._full = True
            if not self._lent and not self._all:
                raise RuntimeError("no connection to read on")  # get() would never return
        # Every connection open is in use by another read, which puts it back.
        return self._free.get()

    def map(self, query: str, params: list[Sequence[Any]],
            then: Callable[[Rows], T]) -> list[T]:
        """then(rows) of `query` per parameter tuple, in order; an error of any read is
        raised here, as the main connection would raise it."""
        def one(values: Sequence[Any]) -> T:
            conn = self._connection()
            try:
                return then(self._run(conn, query, values))
            finally:
                self._free.put(conn)
        return list(self._pool.map(one, params))

    def close(self) -> None:
        """Wait for the reads under way, then close every connection."""
        self._pool.shutdown(wait=True)
        for conn in self._all:
            self._close(conn)
        self._all.clear()
