"""The `regsync` entry point: light, so that Ctrl-C while the libraries load (a second
or so) is the interrupt's one line and exit code, not a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    """Load the command line and run it; Ctrl-C while loading exits 130 with one line."""
    try:
        from sync import signals
        from sync.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("regsync: error: interrupted; nothing was written\n")
        sys.exit(130)
    signals.ignore_when_done = True  # this process ends with the command
    cli_main()
