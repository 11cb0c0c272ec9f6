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


class LockFileError(RegsyncError):
    """The lock file could not be made, locked or written (a full disk, no permission):
    exit 2, before anything is touched."""

    exit_code = 2


@contextmanager
def job_lock(path: Path, job_name: str) -> Iterator[None]:
    """Hold the job's lock for the block, or raise JobRunningError at once (no waiting);
    LockFileError, naming the file, when the lock file can't be made or written."""
    fd = _open(path)
    try:
        _take(fd, path, job_name)
        yield
    finally:
        # Closing the descriptor releases the flock; the file stays (harmless, reused).
        os.close(fd)


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LockFileError(_cannot(path, "open", exc)) from None


def _take(fd: int, path: Path, job_name: str) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder_pid(fd)
        raise JobRunningError(f"job {job_name} is already running, pid "
                              f"{holder or 'unknown'} (lock {path})") from None
    except OSError as exc:
        raise LockFileError(_cannot(path, "lock", exc)) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        raise LockFileError(_cannot(path, "write", exc)) from None


def _cannot(path: Path, what: str, exc: OSError) -> str:
    return f"{path}: cannot {what} the job's lock file: {exc.strerror or exc}"
