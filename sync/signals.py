"""SIGTERM as an exception: `systemctl stop`, a systemd timeout or `kill` stops a
command the way Ctrl-C does (a commit under way rolls back, one line says why), with
its own exit code."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process it ended
EXIT_INTERRUPTED = 130  # 128 + SIGINT


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, as Ctrl-C raises KeyboardInterrupt."""


# Set by the command's entry point, whose process ends right after the command: once a
# command has done its work and said so, a SIGTERM while Python shuts down would end
# it with 143 and no line, or after a last line that says "exit 0" (QA). Ignored then,
# the process ends with the code its last line gave. Commands run in-process (tests)
# leave the handler as they found it.
ignore_when_done = False


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """For the block, SIGTERM raises Terminated instead of ending the process at once.

    Only the main thread can set a handler; elsewhere SIGTERM keeps its own. Blocks may
    nest: each puts back the handler it found.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    global _depth
    previous = signal.signal(signal.SIGTERM, _terminate)
    _depth += 1
    done = False
    try:
        yield
        done = True
    finally:
        _depth -= 1
        restored = signal.SIG_DFL if previous is None else previous
        last = done and ignore_when_done and _depth == 0  # the command's own block
        signal.signal(signal.SIGTERM, signal.SIG_IGN if last else restored)
        if last:  # Ctrl-C too (QA: a SIGINT after "...; exit 1" ended the run with 130)
            signal.signal(signal.SIGINT, signal.SIG_IGN)


_depth = 0  # sigterm_interrupts blocks open


def last_word() -> None:
    """The command's last line (an error's) comes next: from here, in a process that
    ends with the command, SIGTERM and Ctrl-C are ignored, so that the exit code is the
    one the line gives (mutation QA: a stop while an error line's command exited ended
    it with 143, or 130 and a traceback). Main thread only, as every handler."""
    if ignore_when_done and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


_held = False  # inside sigterm_held: a SIGTERM is noted, not raised
_pending = False  # a SIGTERM came while held


def _terminate(signum: int, frame: object) -> None:
    # A second SIGTERM while the stop is recorded would cut that record short; the
    # handler is put back when the block ends (and SIGKILL still works).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _held:
        global _pending
        _pending = True
        return
    raise Terminated


@contextlib.contextmanager
def sigterm_held() -> Iterator[None]:
    """For the block, a SIGTERM that a `sigterm_interrupts` handler catches is noted and
    raised only by `release_sigterm` (or at the block's end): where the caller can
    record it, not a few bytecodes earlier. Main thread only; elsewhere a no-op.

    A flag, not a blocked signal mask: the mask is per thread, and the kernel hands a
    process's SIGTERM to any thread that does not block it (polars' pool, say).
    """
    global _held
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _held = True
    try:
        yield
    finally:
        release_sigterm()


def release_sigterm() -> None:
    """End the hold; raise Terminated here if a SIGTERM came during it."""
    global _held, _pending
    if threading.current_thread() is not threading.main_thread():
        return
    _held = False
    if _pending:
        _pending = False
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as _terminate does
        raise Terminated


class StoppedAfterCommit(KeyboardInterrupt):
    """Ctrl-C or SIGTERM that landed as a commit went through (during COMMIT itself,
    or just after): the batch stands, and the line must say so, not "nothing was
    written"."""

    def __init__(self, stop: KeyboardInterrupt, batch_id: int) -> None:
        super().__init__()
        terminated = isinstance(stop, Terminated)
        self.exit_code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        self.message = (f"{what} just as the commit went through: batch {batch_id} stands "
                        f"(regsync batch show {batch_id})")
