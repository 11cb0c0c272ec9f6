"""Output and error handling shared by every regsync command.

Every fatal problem becomes one line on stderr (and, with --json, one JSON object on
stdout) and an exit code of spec section 7; a traceback is only for our own bugs.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click

from sync.errors import EXIT_INTERNAL, OUT_OF_MEMORY, RegsyncError, first_line
from sync.signals import (
    EXIT_TERMINATED,
    StoppedAfterCommit,
    Terminated,
    last_word,
    sigterm_interrupts,
)
from sync.wording import actor_problem, shown

EXIT_UNREADABLE = 2


def default_actor() -> str:
    """The OS user's name, recorded on batches when --actor is not given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def emit(as_json: bool, payload: dict[str, Any], lines: list[str]) -> None:
    """Print the human lines (stderr under --json) and the JSON object (stdout).

    A reader that went away (a closed pipe) loses the output but never changes what the
    command did: the exit code still tells (see `say`).
    """
    out = sys.stderr if as_json else sys.stdout
    for line in lines:
        say(line, out)
    if as_json:
        say(json.dumps(payload, ensure_ascii=False))


_SAY_PART = 1 << 20


def say(text: str, stream: TextIO | None = None) -> None:
    """Print one line to `stream` (stdout by default) and flush it.

    When the stream's reader has gone (`regsync import ... --json | head -c 10`), the
    output is dropped with one warning on stderr instead of an error: by the time a
    command prints, its work (a commit, a file) is done, so reporting a failure (or
    "nothing was written") would be false.
    """
    stream = stream or sys.stdout
    # A file name that is not UTF-8 reaches here with its odd bytes as surrogates,
    # which no UTF-8 stream takes: they are shown escaped (caf\udce9.csv).
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        # In parts, then the line's end on its own: a reader that leaves during one large
        # write gets a short count from the kernel, and Python drops the rest without an
        # error (QA: 30 MB of --json into `head -c 10`, no warning); the next write fails.
        for start in range(0, len(text), _SAY_PART):
            click.echo(text[start:start + _SAY_PART], file=stream, nl=False)
        click.echo("", file=stream)
    except BrokenPipeError:
        _reader_gone(stream)


def _reader_gone(stream: TextIO) -> None:
    # Point the closed descriptor at /dev/null so that the flush at exit can't fail too.
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass
    if stream is not sys.stderr:
        try:
            click.echo("regsync: warning: output stream closed by its reader (broken "
                       "pipe); output dropped, the exit code tells what was done",
                       file=sys.stderr)
        except BrokenPipeError:
            pass


class FilePath(click.Path):
    """An output file's path: one ending in / names a folder and is refused (exit 2),
    since pathlib drops the / and a missing folder's name would become the file's; so
    is '-'."""

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.endswith(("/", os.sep)):
            self.fail(f"{value!r} ends with /, so it names a folder; name a file in it",
                      param, ctx)
        if value == "-":
            # Not standard output, as '-' is for many tools: a file is written whole or
            # not at all, which a stream can't be (and a file named '-' surprises).
            self.fail("'-' (standard output) is not written to; name a file", param, ctx)
        return super().convert(value, param, ctx)


class StepLine:
    """A one-line progress counter on a terminal: `[2/5] normalising...`, then erased.

    Shows nothing under --json or when the stream is not a terminal.
    """

    def __init__(self, as_json: bool, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self.enabled = not as_json and self._stream.isatty()
        self._shown = False

    def __call__(self, step: str, number: int, total: int) -> None:
        """Show that step `number` of `total` has begun."""
        if self.enabled:
            self._stream.write(f"\r\x1b[2K[{number}/{total}] {step}...")
            self._stream.flush()
            self._shown = True

    def done(self) -> None:
        """Erase the line, so that what follows starts on a clean one."""
        if self._shown:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._shown = False


# What the running command has written that stands whatever comes next (a committed
# batch, a run's files): a stop or an error after it says so, not "nothing was written".
_standing: list[str] = []


def work_stands(what: str) -> None:
    """Record that the command's writing is done and stays: from here until the command
    ends, a Ctrl-C, SIGTERM or internal error says "after `what`" (a phrase such as
    "batch 4 was committed: it stands (...)") instead of "nothing was written"."""
    _standing.append(what)


def work_has_stood() -> bool:
    """Whether the running command has recorded writing that stands (`work_stands`)."""
    return bool(_standing)


def _after(what: str) -> str:
    """`what` (a stop or an error), then what was written before it, or that nothing was."""
    return f"{what} after {_standing[-1]}" if _standing else f"{what}; nothing was written"


# Set in click's context meta when --schema was given on the command line (not by
# $REGSYNC_SCHEMA): a command that names its register elsewhere refuses it.
SCHEMA_GIVEN = "regsync.schema_given"


def run(as_json: bool, action: Callable[[], int]) -> None:
    """Run a command body; map errors to one line, a JSON object and an exit code."""
    _standing.clear()
    try:
        with sigterm_interrupts():
            code = action()
    except RegsyncError as exc:
        # After writing that stands (a report that can't be put in place once the
        # commit landed), the line says so: its exit code alone would read "nothing
        # was written".
        fail(as_json, f"{exc.message} after {_standing[-1]}" if _standing else exc.message,
             exc.exit_code)
    except StoppedAfterCommit as stop:
        fail(as_json, stop.message, stop.exit_code)
    except Terminated:
        fail(as_json, _after("terminated (SIGTERM)"), EXIT_TERMINATED)
    except KeyboardInterrupt:
        fail(as_json, _after("interrupted"), 130)
    except BrokenPipeError:
        # A stream closed under a write that did not go through `say` (a library's own
        # output): the work may be done, so it is not an internal error either.
        _reader_gone(sys.stdout)
        _reader_gone(sys.stderr)
        fail(as_json, "output stream closed by its reader (broken pipe); the command "
                      "may not have finished: check the register before running it again",
             EXIT_INTERNAL)
    except MemoryError:
        # Not a bug: the machine (or a ulimit) had no more memory to give. A frame of
        # polars' that can't be allocated aborts the process instead, which no handler
        # sees; Python's own allocations end here.
        _debug_traceback()
        fail(as_json, _after(OUT_OF_MEMORY), EXIT_INTERNAL)
    except Exception as exc:  # noqa: BLE001 - the edge: our own bug, never the user's
        damaged = _damaged_register(exc)
        if damaged is not None:
            fail(as_json, damaged, EXIT_UNREADABLE)
        _debug_traceback()
        fail(as_json, f"{_after(f'internal error ({type(exc).__name__}: {exc})')}. "
                      "Set REGSYNC_DEBUG=1 for details", EXIT_INTERNAL)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - polars' PanicException is no Exception
        _debug_traceback()
        fail(as_json, f"{_after(f'internal error ({type(exc).__name__}: {first_line(exc)})')}"
                      ". Set REGSYNC_DEBUG=1 for details", EXIT_INTERNAL)
    sys.exit(code)


def _debug_traceback() -> None:
    """With REGSYNC_DEBUG set, the traceback of the exception being handled on stderr.
    The exit code stays the internal error's: a job reading 1 ("rows not applied")
    would be misled."""
    if os.environ.get("REGSYNC_DEBUG"):
        traceback.print_exc(file=sys.stderr)


def _damaged_register(exc: Exception) -> str | None:
    """The error line when `exc` says an SQLite register file is damaged: unreadable
    input (exit 2), not our bug. Such errors surface wherever a query reads the page."""
    from sync.writers.register.sqlite import damaged_register_message

    return damaged_register_message(exc)


def fail(as_json: bool, message: str, code: int) -> None:
    """Print one error line (and the JSON error object under --json), then exit. The
    line shows the characters that don't show escaped (`\\r`, `\\x1b`): a value it
    quotes (a customer number with a CR, QA) can't overwrite or colour the terminal."""
    last_word()
    say(f"regsync: error: {shown(message)}", sys.stderr)
    if as_json:
        say(json.dumps({"error": message, "exit_code": code}, ensure_ascii=False))
    sys.exit(code)


db_option = click.option(
    "--db", envvar="REGSYNC_DB", default="register.db", show_default=True,
    help="Register: an SQLite file, sqlite:///path or postgresql://... (or $REGSYNC_DB).")
json_option = click.option("--json", "as_json", is_flag=True,
                            help="Print one JSON object on stdout; human output on stderr.")
def _checked_actor(_context: click.Context, _param: click.Parameter, value: str) -> str:
    """The actor as given, trimmed; refused when blank or holding a control or format
    character: it is the audit trail's who, printed on every history line (QA: a blank
    one recorded no one, and one with a line break forged a line of `regsync batches`)."""
    actor = value.strip()
    problem = actor_problem(actor)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="--actor")
    return actor


actor_option = click.option("--actor", default=default_actor, callback=_checked_actor,
                             help="Who commits (default: the OS user).")
