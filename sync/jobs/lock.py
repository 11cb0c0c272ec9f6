"""One runner per job: an OS file lock (flock) that the kernel drops when the process ends.

The pid written into the lock file is only for the message of the run that is refused;
the lock itself is the flock, so a crashed or killed run leaves nothing stale.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sync.errors import RegsyncError


class JobRunningError(RegsyncError):
    """Another run of the same job holds its lock (exit 3)."""

    exit_code = 3


def _holder_pid(fd: int) -> str:
    """The pid the lock's holder wrote, waiting briefly: the holder takes the flock
    before it writes its pid, so a run refused in between would read nothing."""
    for _ in range(20):
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if holder:
            return holder
        time.sleep(0.025)
    return ""


@contextmanager
def job_lock(path: Path, job_name: str) -> Iterator[None]:
    """Hold the job's lock for the block, or raise JobRunningError at once (no waiting)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_pid(fd)
            raise JobRunningError(f"job {job_name} is already running, pid "
                                  f"{holder or 'unknown'} (lock {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        # Closing the descriptor releases the flock; the file stays (harmless, reused).
        os.close(fd)
