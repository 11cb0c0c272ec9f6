"""Where a command may write a file: never over its own inputs, never over what is
not a plain file.

Outputs are written beside their target and renamed over it, so a mistyped path
would otherwise replace the customer file being imported, the register itself, or
(as root) a device node such as /dev/null.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sync.errors import UsageError

# A temporary file untouched this long belongs to no running command: a command writes
# its output's temporary file at its end, in minutes, and renames or removes it.
ABANDONED_AFTER_S = 24 * 3600


def check_output(path: Path, what: str, inputs: Iterable[tuple[Path, str]] = ()) -> None:
    """UsageError (exit 2, before anything is written) when writing `what` to `path`
    would replace one of `inputs` (path, what it is) or something that is not a plain
    file (a folder, a device, a pipe). A path that does not exist yet is fine."""
    for other, name in inputs:  # the same name, whether or not the file exists yet
        if os.path.abspath(path) == os.path.abspath(other):
            raise UsageError(f"{path}: is the {name}; writing the {what} there would "
                             f"replace it. Name another file")
    if path.is_symlink():
        # The output is renamed over its path, which would replace the link itself, not
        # what it points to (as root, `export /dev/stdout` replaced the system's link).
        raise UsageError(f"{path}: is a symbolic link; name the file it points to "
                         f"({os.path.realpath(path)}) or another file for the {what}")
    try:
        found = path.stat()
    except OSError:
        folder = path.parent
        if not folder.is_dir():
            raise UsageError(f"{path}: its folder {folder} does not exist; name a file "
                             f"for the {what} in an existing folder") from None
        return  # nothing there yet (or unreadable: the write itself reports it)
    if stat.S_ISDIR(found.st_mode):
        raise UsageError(f"{path}: is a folder; name a file for the {what}")
    if not stat.S_ISREG(found.st_mode):
        raise UsageError(f"{path}: is not a plain file (a device or a pipe); name a file "
                         f"for the {what}")
    for other, name in inputs:
        try:
            same = os.path.samefile(path, other)
        except OSError:
            continue
        if same:
            raise UsageError(f"{path}: is the {name}; writing the {what} there would "
                             f"replace it. Name another file")


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Run write(temp) on a file beside `path`, then rename it to `path`: `path` is
    either left as it was or replaced whole; the temporary file never stays. The file
    gets the mode `temp_beside` and `replace_with` promise."""
    temp = temp_beside(path)
    try:
        write(temp)
        replace_with(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def temp_beside(path: Path) -> Path:
    """A new empty file beside `path`, named as no other run's, to be written and then
    renamed over `path`. Its mode is what a plain open() gives a new file (0o666 less
    the umask): mkstemp's 0600 would shut out another user who reads the output.

    Temporary files of `path` that a killed run left (untouched for a day) go first."""
    remove_abandoned_temporaries(path)
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp


def replace_with(temp: Path, path: Path) -> None:
    """Rename `temp` over `path`; a file it replaces keeps its permissions (someone
    may have opened an export to the system that reads it), a new one keeps temp's."""
    try:
        os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode) & 0o777)
    except FileNotFoundError:
        pass  # nothing there yet
    os.replace(temp, path)


def remove_abandoned_temporaries(path: Path, ending: str = r"\.tmp") -> None:
    """Remove the temporary files beside `path` that a run killed outright (SIGKILL,
    a power cut) left while writing `path` (`.NAME.<hex>.tmp`, `NAME.<hex>.tmp` of a
    plan, `.NAME.<pid>.tmp` of a job's file; `ending`, a regular expression, names
    another kind), once untouched for ABANDONED_AFTER_S. Nothing else is touched, and
    a file that can't be removed stays."""
    shape = re.compile(rf"\.?{re.escape(path.name)}\.(?:[0-9a-f]{{12}}|[0-9]+){ending}")
    before = time.time() - ABANDONED_AFTER_S
    try:
        found = list(path.parent.iterdir())
    except OSError:
        return
    for other in found:
        if not shape.fullmatch(other.name):
            continue
        try:
            if other.is_file() and not other.is_symlink() and other.stat().st_mtime < before:
                other.unlink()
        except OSError:
            continue
