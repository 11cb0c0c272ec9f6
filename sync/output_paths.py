"""Where a command may write a file: never over its own inputs, never over what is
not a plain file.

Outputs are written beside their target and renamed over it, so a mistyped path
would otherwise replace the customer file being imported, the register itself, or
(as root) a device node such as /dev/null.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from sync.errors import UsageError


def check_output(path: Path, what: str, inputs: Iterable[tuple[Path, str]] = ()) -> None:
    """UsageError (exit 2, before anything is written) when writing `what` to `path`
    would replace one of `inputs` (path, what it is) or something that is not a plain
    file (a folder, a device, a pipe). A path that does not exist yet is fine."""
    for other, name in inputs:  # the same name, whether or not the file exists yet
        if os.path.abspath(path) == os.path.abspath(other):
            raise UsageError(f"{path}: is the {name}; writing the {what} there would "
                             f"replace it. Name another file")
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
    either left as it was or replaced whole; the temporary file never stays."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
