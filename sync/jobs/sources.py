"""What a run takes from its folder, and how files leave it without ever being lost.

A file is ready when its name matches the pattern, is not hidden (a leading dot, unless
the pattern has one) and no temporary name, it is not empty, and its size and
modification time are the same at two looks `settle_seconds` apart. Ready files go in
name order (Python's string order of the file names, i.e. by code point).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO

from sync.jobs.names import free_names, temporary_file_name
from sync.output_paths import remove_abandoned_temporaries

# Temporary names of writers and office programs: a download or copy in progress
# (x.csv.part, x.csv.tmp, x.csv.crdownload, WinSCP's x.csv.filepart, rsync's
# .x.csv.Gx7a2B), an open Excel (~$x.xlsx) or LibreOffice (.~lock.x.csv#) file. The
# name with the marker taken off is matched to the pattern, so x.csv.part is reported
# as x.csv still being written.
_TEMP_NAMES = (
    re.compile(r"^(?P<name>.+)\.(part|tmp|crdownload|partial|download|filepart)$",
               re.IGNORECASE),
    re.compile(r"^~\$(?P<name>.+)$"),
    re.compile(r"^\.~lock\.(?P<name>.+)#?$"),
    re.compile(r"^\.(?P<name>[^.].*)\.[A-Za-z0-9]{6}$"),
)

# A hard link that fails with these: another filesystem, or one without hard links.
_NO_LINKS = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK)


@dataclass(frozen=True)
class Scan:
    """The folder as one run sees it: files to process, and files left for later.

    `looks` holds each ready file's (size, mtime) at the second look, so a change
    after it can still be caught right before the file is read.
    """

    ready: list[Path]
    incomplete: list[tuple[Path, str]]
    looks: dict[Path, tuple[int, int]] = field(default_factory=dict)


def _abandoned(temporary: Path, final: Path) -> bool:
    """Whether a transfer's temporary file (x.csv.part) is older than the file it would
    become: an abandoned transfer, not a newer copy on its way, so it holds nothing
    back (QA: a three-day-old x.csv.part held x.csv back every night, exit 0). An
    office program's lock file (~$x.xlsx) holds its file while it is there."""
    if not _TEMP_NAMES[0].match(temporary.name):
        return False
    try:
        return temporary.stat().st_mtime_ns < final.stat().st_mtime_ns
    except OSError:
        return True  # gone meanwhile: holds nothing


def temporary_name(name: str) -> str | None:
    """The name a file will have once written, if `name` is a temporary name; else None."""
    for pattern in _TEMP_NAMES:
        match = pattern.match(name)
        if match:
            return match.group("name").rstrip("#")
    return None


def name_matches(name: str, pattern: str) -> bool:
    """Whether a file's name matches the job's pattern, ignoring case (`EXPORT.CSV` is a
    `*.csv` drop, as Windows writes it) and how accents are encoded (a Mac writes `ä`
    in a name as `a` and a combining mark): a drop the pattern misses is never synced,
    every night, in silence."""
    def folded(text: str) -> str:
        return unicodedata.normalize("NFC", text).casefold()
    return fnmatch.fnmatchcase(folded(name), folded(pattern))


def scan_folder(folder: Path, pattern: str, settle_seconds: float,
                exclude: frozenset[Path] = frozenset()) -> Scan:
    """Look at `folder` twice, `settle_seconds` apart; split ready from incomplete files.

    Only files directly in `folder` count (not sub-folders, not `exclude`: the job's
    own log and lock). One wait for the whole folder, and none when no file matches.
    """
    ready: list[Path] = []
    incomplete: list[tuple[Path, str]] = []
    busy: dict[str, list[Path]] = {}  # final name -> the temporary names beside it
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        try:
            excluded = path.resolve() in exclude
        except (OSError, RuntimeError):  # a link to itself, or a loop of links
            excluded = False
        if excluded or (path.name.startswith(".") and not pattern.startswith(".")
                        and temporary_name(path.name) is None):
            # A hidden name (.DS_Store, macOS's ._x.csv, an editor's .x.csv.swp or
            # .#x.csv) is no drop, as a shell's * skips it; a writer's hidden temporary
            # name (.~lock.x.csv#, rsync's .x.csv.Gx7a2B) still holds its file back.
            continue
        if not path.is_file():
            # Said, not skipped in silence (QA): a drop the job will never read is one
            # an operator should see in the log.
            if name_matches(path.name, pattern):
                incomplete.append((path, "not a plain file (a folder, a pipe, a device or a "
                                         "link to nothing): never read"))
            continue
        final = temporary_name(path.name)
        if final is not None:
            if name_matches(final, pattern):
                incomplete.append((path, "temporary name: still being written"))
                busy.setdefault(final, []).append(path)
        elif name_matches(path.name, pattern):
            ready.append(path)
    # A file with a temporary name beside it (~$x.xlsx: open in Excel; x.csv.part: a
    # newer copy on its way) may be saved over any moment: it waits too.
    for path in [p for p in ready if p.name in busy]:
        holding = [t for t in busy[path.name] if not _abandoned(t, path)]
        if holding:
            ready.remove(path)
            incomplete.append((path, f"{holding[0].name} beside it: open in a program or "
                                     "being replaced"))
    if not ready:
        return Scan(ready, sorted(incomplete, key=lambda item: item[0].name))
    first = {path: _look(path) for path in ready}
    time.sleep(settle_seconds)
    settled: dict[Path, tuple[int, int]] = {}
    for path in ready:
        second = _look(path)
        if second is None:
            continue  # taken away by someone else meanwhile: not ours to report
        if second != first[path]:
            incomplete.append((path, f"size or time changed within {settle_seconds:g} s: "
                                     f"still being written"))
        elif second[0] == 0:
            # Never a valid drop, and maybe a writer's just-opened file: moved away, the
            # rows it writes next would go to a name no longer in the folder (QA).
            incomplete.append((path, "empty (0 bytes): not yet written, or nothing to "
                                     "import; left in the folder"))
        else:
            settled[path] = second
    return Scan(list(settled), sorted(incomplete, key=lambda item: item[0].name), settled)


def _look(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def look(path: Path) -> tuple[int, int] | None:
    """A file's (size, mtime in ns), None when it is gone."""
    return _look(path)


def unremovable(path: Path) -> str | None:
    """Why this process can't move `path` out of its folder though it may write to the
    folder, or None: in a folder with the sticky bit (a shared one, as /tmp) only the
    file's owner, the folder's owner and root may remove a file."""
    try:
        folder, file = path.parent.stat(), path.lstat()
    except OSError:
        return None  # gone, or unreadable: said when it is read
    if not folder.st_mode & stat.S_ISVTX or os.geteuid() in (0, folder.st_uid, file.st_uid):
        return None
    return ("another user's file in a folder with the sticky bit: this user can't move it "
            "out; left in the folder")


def move_into(path: Path, folder: Path, name: str | None = None,
              checksum: str | None = None) -> Path | None:
    """Move `path` into `folder` (as `name`, default its own); return where it went.

    Never overwrites: an existing name gets a suffix (x-1.csv, x-2.csv, ...). Within one
    filesystem the file is hard-linked to its new name (which fails rather than replace
    anything) and then unlinked; across filesystems it is copied to a temporary file,
    fsynced, given its new name (whole, see `write_new`) and only then removed. Either
    way the file exists under at least one name at every moment.

    CannotMove when this user may neither link nor read the file: it stays, and nothing
    is left in `folder`.

    With `checksum` (the SHA-256 of the content the run read), the file is moved only
    if its new name holds that content and its old name is still that same file: a drop
    replaced or appended to since it was read is left where it is, for the next run,
    and None is returned. None too when the file is gone before its new name is made;
    gone after, it is moved: the new name holds what was read.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for target in _names(folder, name or path.name):
        try:
            before = path.stat()
            os.link(path, target)
        except FileExistsError:
            if _same_file(path, target):
                # A run stopped between the link and the unlink (SIGKILL, or SIGTERM
                # then): the file is there already. Finishing that move leaves no second
                # copy (QA: x.csv and x-1.csv, one more per stopped run).
                if checksum is not None and not _still_the_same(path, target, before,
                                                                checksum):
                    return None
                _unlink_moved(path, target)
                _fsync_dir(path.parent)
                return target
            continue
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            copied = _copy_into(path, folder, name or path.name, refused=exc)
            if copied is None:
                return None
            target = copied
        if checksum is not None and not _still_the_same(path, target, before, checksum):
            target.unlink()
            return None
        # A drop renamed over `path` between the look above and this unlink would go
        # with it: a window of microseconds, where it was a whole commit before.
        _unlink_moved(path, target)
        _fsync_dir(folder)
        _fsync_dir(path.parent)
        return target
    raise AssertionError("unreachable: _names is endless")


def _same_file(path: Path, other: Path) -> bool:
    """Whether the two names are one file (hard links), as far as can be told."""
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


def _unlink_moved(path: Path, target: Path) -> None:
    """Remove `path`, whose content `target` now holds. One gone meanwhile (another
    process took it away) is fine: `target` keeps it, perhaps as its only copy (QA: the
    error stopped the run)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        # Not moved after all (no permission in the folder): the new name goes, or
        # every later run would leave one more copy (x-1.csv, x-2.csv, ...).
        target.unlink(missing_ok=True)
        raise


def _still_the_same(path: Path, target: Path, before: os.stat_result,
                    checksum: str) -> bool:
    """Whether `target` (the new name) holds the content read, and `path` is still the
    file it was made from (not replaced by a newer drop under the same name) or gone:
    taken away since the new name was made, which then holds what was read, perhaps as
    its only copy, and must not be removed."""
    from sync.pipeline import file_checksum  # the checksum the run compared

    if file_checksum(target) != checksum:
        return False
    try:
        now = path.stat()
    except FileNotFoundError:
        return True
    same = (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns)
    return same == (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)


def write_new(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to a new file in `folder` named `name` (suffixed if taken); its path.

    The file appears whole or not at all: `data` goes to a temporary file in `folder`
    first, fsynced, and only then gets its name. An error (a full disk) leaves nothing
    and names the file it was for.
    """
    return _place_new(folder, name, lambda out: out.write(data))


def _place_new(folder: Path, name: str, fill: Callable[[BinaryIO], object]) -> Path:
    """fill() a temporary file in `folder`, fsync it, give it the first free name of
    `name` (x.csv, x-1.csv, ...) and return that; the temporary file never stays."""
    return claim_staged(folder, name, _stage(folder, name, fill))


def stage_new(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to a temporary file in `folder`, fsynced, for `claim_staged` to name
    later: what can fail for want of space fails here, before the work it reports on.
    An error (a full disk) leaves nothing and names the file it was for."""
    return _stage(folder, name, lambda out: out.write(data))


def claim_staged(folder: Path, name: str, temp: Path) -> Path:
    """Give the staged file `temp` the first free name of `name` in `folder` (never
    replacing a file) and return that; the temporary name never stays."""
    try:
        target = _claim(folder, name, temp)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(folder)
    return target


def _stage(folder: Path, name: str, fill: Callable[[BinaryIO], object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    remove_abandoned_temporaries(folder / name)
    temp = folder / temporary_file_name(name)
    try:
        with open(temp, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        temp.unlink(missing_ok=True)
        # A write's error (a full disk) names no file, or the temporary one: the file
        # it was for is named instead.
        if exc.filename in (None, str(temp)):
            raise OSError(exc.errno, exc.strerror, str(folder / next(free_names(name)))) \
                from exc
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _claim(folder: Path, name: str, temp: Path) -> Path:
    """Give the whole file `temp` the first free name of `name` in `folder`, never
    replacing a file: a hard link, which fails when the name is taken."""
    for target in _names(folder, name):
        try:
            os.link(temp, target)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            # No hard links here (a FAT or some network share): the name is taken with
            # an empty file, then the whole file is renamed over it.
            try:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                continue
            try:
                os.replace(temp, target)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        return target
    raise AssertionError("unreachable: _names is endless")


def _names(folder: Path, name: str) -> Iterator[Path]:
    return (folder / free for free in free_names(name))


class CannotMove(Exception):
    """A file this user can't move out of its folder at all: no hard link may be made to
    it and it may not be read for a copy (another user's file that only its owner may
    read: the kernel's protected_hardlinks refuses a link to a file one can't read and
    write). Nothing was made anywhere; the file stays where it was."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path, self.why = path, why


class _ReadRefused(PermissionError):
    """The file to copy may not be read (told apart from the copy's own errors)."""


def _copy_into(path: Path, folder: Path, name: str, refused: OSError) -> Path | None:
    """A whole copy of `path` in `folder` under the first free name of `name`, for a file
    that could not be hard-linked there (`refused`: another filesystem, no links, or
    not permitted); None if the file is gone. CannotMove if it may not be read either."""
    try:
        return _place_new(folder, name, partial(_copy, path))
    except FileNotFoundError:
        if path.exists():
            raise
        return None
    except _ReadRefused as exc:
        raise CannotMove(path, f"no hard link to it may be made ({refused.strerror}) and "
                               f"this user may not read it to copy it ({exc.strerror})") \
            from exc


def _copy(path: Path, out: BinaryIO) -> None:
    """Copy `path`'s bytes to `out`; _ReadRefused if this user may not open it."""
    try:
        src = open(path, "rb")  # noqa: SIM115 - closed below; its refusal is told apart
    except PermissionError as exc:
        raise _ReadRefused(exc.errno, exc.strerror, str(path)) from exc
    with src:
        while chunk := src.read(1 << 20):
            out.write(chunk)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems can't fsync a directory; the rename is done anyway
    finally:
        os.close(fd)
