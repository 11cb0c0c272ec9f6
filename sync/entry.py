"""The `regsync` entry point: light, so that Ctrl-C or SIGTERM while the libraries load
(a second or so) is the stop's one line (and JSON object) and exit code, not a
traceback or a silent end."""

from __future__ import annotations

import json
import os
import signal
import sys


class _TerminatedLoading(KeyboardInterrupt):
    """SIGTERM while the command line loads."""


def _terminated(signum: int, frame: object) -> None:
    raise _TerminatedLoading


def _closed_streams_to_devnull() -> None:
    """Started with stdout or stderr closed (`2>&-`), Python sets it to None, and every
    write to it went to stdout instead (print's default) or failed: such a stream is
    os.devnull here, so that its lines are dropped and the other stream stays clean."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def main() -> None:
    """Load the command line and run it. Stopped while loading (Ctrl-C: exit 130,
    SIGTERM: 143), it says so in one line, and with `--json` in one JSON object too."""
    _closed_streams_to_devnull()
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        from sync import signals
        from sync.cli import main as cli_main
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, _TerminatedLoading)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the line below is the last word
        message = ("terminated (SIGTERM)" if terminated else "interrupted") + \
            "; nothing was written"
        code = 143 if terminated else 130
        sys.stderr.write(f"regsync: error: {message}\n")
        if "--json" in sys.argv[1:]:
            sys.stdout.write(json.dumps({"error": message, "exit_code": code}) + "\n")
        sys.exit(code)
    # The commands catch SIGTERM themselves (sync.signals), from their start.
    signal.signal(signal.SIGTERM, previous)
    signals.ignore_when_done = True  # this process ends with the command
    cli_main()
