"""Load a job file (TOML) into a typed Job, refusing anything doubtful before any work.

Relative paths are relative to the job file's folder. Every problem is a UsageError
(exit 2) with one line naming the job file: an unknown table or key, a missing or
mistyped value, a missing drop folder, a rule file that does not load, a register
that can't be reached, an output that can't be written. A register busy with another
run is the exception: RegisterBusyError, exit 3.
"""

from __future__ import annotations

import getpass
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.errors import (
    RegisterBusyError,
    RegisterError,
    RegisterSchemaError,
    RegsyncError,
    UsageError,
)
from sync.jobs.sources import name_matches
from sync.pipeline import ReadOptions
from sync.readers.detect import normalise_delimiter, normalise_encoding
from sync.rules import Rules, load_rules
from sync.wording import actor_problem, shown
from sync.writers.register import open_register, register_exists
from sync.writers.register.sqlite import sqlite_path
from sync.writers.register.urls import check_unambiguous, check_url, redact_url

# How the dropped files are read: the `--encoding`, `--delimiter`, `--sheet` and
# `--header-row` of `regsync preview`.
_READ_KEYS = ("encoding", "delimiter", "sheet", "header_row")
MAX_SETTLE_SECONDS = 3600  # a file still growing after an hour is no drop
DEFAULT_SETTLE_SECONDS = 2.0

_KEYS: dict[str, frozenset[str]] = {
    "job": frozenset({"name", "register", "rules", "actor"}),
    "source": frozenset({"folder", "pattern", "settle_seconds", "table", "query", "db",
                         *_READ_KEYS}),
    "output": frozenset({"log", "reports", "processed", "held", "lock"}),
    "policy": frozenset({"max_rejected", "allow_conflicts"}),
}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class MaxRejected:
    """How many Rejected rows a file may have and still be committed.

    `count` is an absolute number of rows; `percent` a share of the file's data rows.
    A file is held when its Rejected rows are *more* than the limit.
    """

    count: int | None = None
    percent: float | None = None

    def exceeded(self, rejected: int, rows: int) -> bool:
        """Whether `rejected` of `rows` data rows is over this limit."""
        if self.count is not None:
            return rejected > self.count
        if self.percent is not None:
            return rows > 0 and rejected * 100 > self.percent * rows
        return False

    def describe(self) -> str:
        """The limit as the job file spelled it."""
        if self.count is not None:
            return str(self.count)
        return "none" if self.percent is None else f"{self.percent:g}%"


@dataclass(frozen=True)
class FolderSource:
    """Files dropped into `folder` whose names match `pattern` (not recursive), read
    with `read` (each option applied to the files of the formats it concerns)."""

    folder: Path
    pattern: str
    settle_seconds: float
    read: ReadOptions = ReadOptions()


@dataclass(frozen=True)
class TableSource:
    """A database table or query read as text: `db` is sqlite:///path or postgresql://..."""

    db: str
    table: str | None
    query: str | None


@dataclass(frozen=True)
class Job:
    """A checked job file: where drops come from, where they go, and the policies."""

    path: Path
    name: str
    register: str
    rules: Rules
    actor: str
    source: FolderSource | TableSource
    log: Path
    reports: Path
    processed: Path
    held: Path
    lock: Path
    max_rejected: MaxRejected
    allow_conflicts: bool


def load_job(path: Path, *, dry_run: bool = False) -> Job:
    """Read and check the job file at `path`; UsageError (exit 2) on any problem.

    Nothing is created or moved: the folders of the output are made when first needed.
    For a `dry_run`, which writes only reports and log lines, the folders files are
    moved into and out of need not be writable.
    """
    try:
        # A BOM, as some Windows editors write, is no TOML but means UTF-8 all the same.
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise UsageError(f"{path}: job file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the job file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    return _Checker(path, data, dry_run).job()


class _Checker:
    """Turns the parsed TOML into a Job; each method checks one part."""

    def __init__(self, path: Path, data: dict[str, Any], dry_run: bool = False) -> None:
        self.path = path
        self.dry_run = dry_run
        self.base = path.resolve().parent
        self.data = data
        self.rules_file: Path | None = None

    def fail(self, message: str) -> UsageError:
        return UsageError(f"{self.path}: {message}")

    def table(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(f"[{name}] must be a table")
        return value

    def text(self, section: str, key: str, default: str | None = None) -> str | None:
        value = self.table(section).get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(f"[{section}] {key} must be a non-empty string")
        return value

    def actor(self) -> str:
        """[job] actor, trimmed (default: the OS user); refused as `--actor` is."""
        actor = (self.text("job", "actor") or _os_user()).strip()
        problem = actor_problem(actor)
        if problem is not None:
            raise self.fail(f"[job] actor {problem}")
        return actor

    def name(self) -> str:
        """[job] name (default: the job file's name): one line, and no path, since it
        names the log and the reports' files and starts the summary line monitors read."""
        name = self.text("job", "name") or self.path.stem
        if any(c in name for c in "/\\") or name in (".", "..") or \
                any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
            raise self.fail(f"[job] name '{shown(name)}' must be one line of text without / "
                            "or \\ (it names the job's log and reports)")
        return name

    def resolve(self, value: str) -> Path:
        return (self.base / Path(value).expanduser()).resolve()

    def job(self) -> Job:
        self.check_keys()
        name = self.name()
        register = self.text("job", "register")
        if register is None:
            raise self.fail("[job] register is missing (an SQLite path, sqlite:///path "
                            "or postgresql://...)")
        register = self.register_url(register)
        rules_path = self.text("job", "rules")
        self.rules_file = self.resolve(rules_path) if rules_path else None
        try:
            rules = load_rules(self.rules_file)
        except RegsyncError as exc:
            raise self.fail(f"[job] rules: {exc.message}") from None
        source = self.source()
        output = self.table("output")
        log = self.resolve(self.text("output", "log") or f"{name}.jsonl")
        self.check_register(register)
        job = Job(
            path=self.path, name=name, register=register, rules=rules,
            actor=self.actor(), source=source, log=log,
            reports=self.resolve(output.get("reports") or "reports"),
            processed=self.resolve(output.get("processed") or "processed"),
            held=self.resolve(output.get("held") or "held"),
            lock=self.resolve(self.text("output", "lock") or f"{log}.lock"),
            max_rejected=self.max_rejected(), allow_conflicts=self.allow_conflicts())
        self.check_outputs(job)
        self.check_overlaps(job)
        return job

    def check_overlaps(self, job: Job) -> None:
        """No file the job keeps (the register, the job and rules files, its log and lock)
        is taken for a drop or written over by another of its outputs, and no output
        folder is the drop folder (what is put there would be read again)."""
        register = None if job.register.startswith(("postgresql://", "postgres://")) \
            else Path(job.register)
        kept = [("[job] register", register), ("the job file", self.path.resolve()),
                ("[job] rules", self.rules_file)]
        source = job.source
        if isinstance(source, FolderSource):
            for key in ("reports", "processed", "held"):
                if getattr(job, key) == source.folder:
                    raise self.fail(f"[output] {key} is the source folder {source.folder}: "
                                    "files put there would be read again as drops; name "
                                    "another folder")
            for what, file in kept:
                if file is not None and file.parent == source.folder and (
                        file == register or name_matches(file.name, source.pattern)):
                    raise self.fail(f"{what} {file} lies in the source folder "
                                    f"{source.folder}: a run would take it for a drop and "
                                    "move it away; keep it in another folder")
        register_files = [] if register is None else [
            register, *(register.with_name(register.name + end)
                        for end in ("-journal", "-wal", "-shm"))]
        for key, file in (("log", job.log), ("lock", job.lock)):
            if file in register_files:
                raise self.fail(f"[output] {key} {file} is the register's own file; "
                                "name another file")
            for what, other in kept[1:]:
                if file == other:
                    raise self.fail(f"[output] {key} {file} is {what}; name another file")
        if job.log == job.lock:
            raise self.fail(f"[output] log and lock are the same file {job.log}; name two")

    def check_outputs(self, job: Job) -> None:
        """Outputs that can't be written are found before any file is committed: a
        commit whose file then can't be moved or logged would look unapplied (and be
        found, and copied to processed/, again every night). So is a drop folder whose
        files can't be moved out of it."""
        folders = [("reports", job.reports), ("held", job.held)]
        if isinstance(job.source, FolderSource):
            folders.append(("processed", job.processed))
        for key, folder in folders:
            if folder.exists() and not folder.is_dir():
                raise self.fail(f"[output] {key} {folder} is a file; name a folder")
        for key, file in (("log", job.log), ("lock", job.lock)):
            if file.is_dir():
                raise self.fail(f"[output] {key} {file} is a folder; name a file")
        # A dry run moves nothing: only its reports and log lines are written.
        written = [("log", job.log), *(folders[:1] if self.dry_run else folders)]
        for key, path in written:
            why = _unwritable(path)
            if why:
                raise self.fail(f"[output] {key} {path}: {why}")
        if not self.dry_run and isinstance(job.source, FolderSource) and not os.access(
                job.source.folder, os.R_OK | os.W_OK | os.X_OK):
            raise self.fail(f"[source] folder {job.source.folder}: no permission to move "
                            "files out of it (it needs write permission for this user)")

    def check_keys(self) -> None:
        for section, value in self.data.items():
            if section not in _KEYS:
                raise self.fail(f"unknown table [{section}] (known: "
                                f"{', '.join(f'[{s}]' for s in _KEYS)})")
            if not isinstance(value, dict):
                raise self.fail(f"[{section}] must be a table")
            unknown = sorted(set(value) - _KEYS[section])
            if unknown:
                raise self.fail(f"unknown key {unknown[0]!r} in [{section}] (known: "
                                f"{', '.join(sorted(_KEYS[section]))})")
        for key in ("reports", "processed", "held"):
            self.text("output", key)

    def register_url(self, url: str) -> str:
        """Relative SQLite paths made absolute against the job file's folder."""
        if url.startswith(("postgresql://", "postgres://")):
            self.unambiguous("[job] register", url)
            return url
        if ("://" in url and not url.startswith("sqlite:///")) or url.startswith("file:"):
            raise self.fail(f"[job] register {redact_url(url)!r}: expected an SQLite path, "
                            f"sqlite:///path or postgresql://...")
        try:
            check_url(url)  # a path ending in / names a folder
        except RegisterError as exc:
            raise self.fail(f"[job] register: {exc.message}") from None
        return str(self.resolve(str(sqlite_path(url))))

    def unambiguous(self, key: str, url: str) -> None:
        """The job is refused for a PostgreSQL URL whose password can't be told apart
        (it would be shown in the job's log and messages)."""
        try:
            check_unambiguous(url)
        except RegisterError as exc:
            raise self.fail(f"{key}: {exc.message}") from None

    def check_register(self, url: str) -> None:
        """The register opens (read-only), or its folder exists for a new SQLite one.

        A register busy with another run keeps its exit code 3 (spec section 7): it is
        reachable, and the next run will likely find it free."""
        try:  # a folder on the way this user may not enter: RegisterError
            missing = not url.startswith(("postgresql://", "postgres://")) \
                and not register_exists(url)
        except RegsyncError as exc:
            raise self.fail(f"[job] register unreachable: {exc.message}") from None
        if missing:
            if not Path(url).parent.is_dir():
                raise self.fail(f"[job] register {url}: its folder does not exist")
            return
        try:
            open_register(url, create=False).close()
        except RegisterSchemaError as exc:  # reached: old, newer, or not a register
            raise self.fail(f"[job] register: {exc.message}") from None
        except RegisterBusyError as exc:
            raise RegisterBusyError(f"{self.path}: [job] register: {exc.message}") from None
        except RegsyncError as exc:
            raise self.fail(f"[job] register unreachable: {exc.message}") from None

    def source(self) -> FolderSource | TableSource:
        src = self.table("source")
        folder = self.text("source", "folder")
        is_table = any(k in src for k in ("table", "query", "db"))
        if (folder is None) == (not is_table):
            raise self.fail("[source] needs either folder (and pattern) or db with "
                            "table or query, not both")
        if folder is not None:
            resolved = self.resolve(folder)
            if resolved.exists() and not resolved.is_dir():
                raise self.fail(f"[source] folder {resolved} is a file, not a folder; name "
                                "the folder the files are dropped into")
            if not resolved.is_dir():
                raise self.fail(f"[source] folder {resolved} does not exist")
            settle = src.get("settle_seconds", DEFAULT_SETTLE_SECONDS)
            if (isinstance(settle, bool) or not isinstance(settle, int | float)
                    or not 0 <= settle <= MAX_SETTLE_SECONDS):  # NaN fails this too
                raise self.fail(f"[source] settle_seconds must be a number of seconds from "
                                f"0 to {MAX_SETTLE_SECONDS}")
            return FolderSource(folder=resolved, pattern=self.pattern(),
                                settle_seconds=float(settle), read=self.read_options())
        given = [k for k in ("pattern", "settle_seconds", *_READ_KEYS) if k in src]
        if given:
            raise self.fail(f"[source] {given[0]} applies to folder sources only (a table "
                            "is read as text, column by column)")
        db, table, query = (self.text("source", k) for k in ("db", "table", "query"))
        if db is None or (table is None) == (query is None):
            raise self.fail("[source] a table source needs db and exactly one of table "
                            "or query")
        if db.startswith("sqlite:///") or "://" not in db:
            db = "sqlite:///" + str(self.resolve(str(sqlite_path(db))))
        elif not db.startswith(("postgresql://", "postgres://")):
            raise self.fail(f"[source] db {redact_url(db)!r}: expected sqlite:///path or "
                            "postgresql://...")
        else:
            self.unambiguous("[source] db", db)
        return TableSource(db=db, table=table, query=query)

    def pattern(self) -> str:
        """[source] pattern, a name pattern: only names directly in the folder are
        compared, so one with a path in it would never match (and say so every night
        as 'nothing to do')."""
        pattern = self.text("source", "pattern") or "*"
        if "/" in pattern or os.sep in pattern:
            raise self.fail(f"[source] pattern {pattern!r} holds a path, but only the names "
                            "of the files directly in the folder are matched (no "
                            "sub-folders); set folder to the sub-folder and pattern to "
                            "the name part, such as '*.csv'")
        return pattern

    def read_options(self) -> ReadOptions:
        """[source] encoding, delimiter, sheet and header_row, checked as the options of
        `regsync preview` are."""
        encoding, delimiter, sheet = (self.text("source", k)
                                      for k in ("encoding", "delimiter", "sheet"))
        try:
            if encoding is not None:
                encoding = normalise_encoding(encoding)
            if delimiter is not None:
                normalise_delimiter(delimiter)
        except ValueError as exc:
            raise self.fail(f"[source] {str(exc).removeprefix('--')}") from None
        header_row = self.table("source").get("header_row", 1)
        if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
            raise self.fail("[source] header_row must be a whole number, 1 or more (the "
                            "sheet's row number of the header)")
        return ReadOptions(encoding=encoding, delimiter=delimiter, sheet=sheet,
                           header_row=header_row)

    def max_rejected(self) -> MaxRejected:
        value = self.table("policy").get("max_rejected")
        if value is None:
            return MaxRejected()
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return MaxRejected(count=value)
        if isinstance(value, str):
            if value.strip().isdigit():
                return MaxRejected(count=int(value))
            match = _PERCENT.match(value)
            if match and float(match.group(1)) <= 100:
                return MaxRejected(percent=float(match.group(1)))
        raise self.fail(f"[policy] max_rejected {value!r}: expected a count (5) or a "
                        f"percent of the data rows (\"5%\")")

    def allow_conflicts(self) -> bool:
        value = self.table("policy").get("allow_conflicts", True)
        if not isinstance(value, bool):
            raise self.fail("[policy] allow_conflicts must be true or false")
        return value


def _unwritable(path: Path) -> str | None:
    """Why this process could not write `path` (a file or a folder), or None.

    An existing file must be writable, an existing folder writable and searchable; a
    missing one is made when first needed, so its nearest existing folder must be.
    """
    if path.exists():
        if os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
            return None
        return "no permission to write it (for this user)"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"can't be made: {parent} is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"can't be made: no permission to write {parent} (for this user)"
    return None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
