"""The SQLite register engine: the embedded default, one file, zero set-up.

Commits take SQLite's write lock with BEGIN IMMEDIATE and use the rollback journal, so
a killed commit leaves the file as it was (the journal is rolled back on next open).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sync.errors import RegisterBusyError, RegisterError, RegisterSchemaError, first_line
from sync.writers.register.read_pool import READERS, ReadPool
from sync.writers.register.schema import (
    SCHEMA_VERSION,
    missing_tables_problem,
    schema_sql,
    schema_version_problem,
)
from sync.writers.register.sql import SQLRegister
from sync.writers.register.sql_reads import T

_BUSY_TIMEOUT_MS = 5000
# Page cache per connection (negative: KiB). Index updates on a register of millions
# of customers touch pages all over the B-trees; 256 MiB keeps most of them in memory.
_CACHE_KIB = 256 * 1024
# A commit inserting at least this many customers, and at least as many as the register
# holds, builds the key indexes after the inserts (see `_bulk_insert`).
_BULK_MIN_ROWS = 50_000
# The page size of a new register (SQLite's largest). A commit rewrites every page its
# updates and index inserts land on; with fewer, larger pages it writes less often, and
# key reads in key order find more of their keys on a page already read. Measured on
# 100k and 1M customer sources against 1M and 5M registers: previews 4-10% and commits
# 8-16% faster than with SQLite's default of 4 KiB (benchmarks/page_size.py). An
# existing register keeps its page size (docs/register.md: how to change it).
PAGE_SIZE = 65536


def _uri(path: Path, read_only: bool) -> str:
    """The `file:` URI of `path`: quoted, since `?` and `#` in a folder name would
    otherwise end the path there and open another file."""
    return f"file:{quote(str(path.resolve()))}" + ("?mode=ro" if read_only else "")


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to `path` that any thread may use (one at a time)."""
    conn = sqlite3.connect(_uri(path, True), uri=True, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB // READERS}")
    return conn


def sqlite_path(url: str) -> Path:
    """The file path of an SQLite register given as a path or `sqlite:///path` (`~` is
    the user's home folder, as in a job file, also where no shell expanded it)."""
    return Path(url.removeprefix("sqlite:///") if url.startswith("sqlite:///")
                else url).expanduser()


def file_created(path: Path) -> bool:
    """Whether a register file has been created at `path`: a file of 0 bytes has not (a
    creation that failed or is under way), a folder has (for `open` to refuse it).
    RegisterError (exit 2) when a folder on the way may not be entered."""
    _check_reachable(path)
    try:
        return path.is_dir() or path.stat().st_size > 0
    except OSError:
        return False


def _check_reachable(path: Path) -> None:
    """RegisterError naming the folder when this user may not enter a folder on the way
    to `path` (Python 3.11's Path.is_dir and exists raise PermissionError then, QA: an
    internal error on every command); a path that is missing is fine here."""
    try:
        os.stat(path)
    except PermissionError:
        raise RegisterError(f"{path}: cannot be opened (permission denied on its folder "
                            f"{_denied_folder(path)})") from None
    except OSError:
        pass  # missing, or a file where a folder should be: `open` tells


def _denied_folder(path: Path) -> Path:
    """The outermost folder above `path` this user may not enter (its parent if none
    is found: the permissions changed meanwhile)."""
    for folder in reversed(path.parents):
        if folder != Path(".") and not os.access(folder, os.X_OK):
            return folder
    return path.parent


def _access_problem(path: Path, exc: sqlite3.Error) -> str | None:
    """What a permission keeps SQLite from doing with the register at `path`, for an
    error SQLite gave (None when it is not that): the file can't be read or written, its
    folder can't be written (SQLite keeps a commit's rollback journal there), or the
    journal a killed commit left must be rolled back by a user who may write both."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    folder = path.parent
    if code & 0xFF == _CANTOPEN and path.exists() and not os.access(path, os.R_OK):
        return "cannot be opened (permission denied: this user may not read the file)"
    if code == _READONLY_ROLLBACK:
        who = (f"a user who may write to its folder {folder}"
               if not os.access(folder, os.W_OK | os.X_OK) else
               "a user who may write to the file" if not os.access(path, os.W_OK) else
               "a user who may write to the file and its folder")
        return (f"cannot be read: a commit that did not finish left its journal "
                f"({path}-journal), which must be rolled back first; run any regsync "
                f"command on this register (e.g. regsync batches) as {who}")
    if code & 0xFF in (_READONLY, _CANTOPEN) and _read_only_mount(folder):
        return (f"cannot write to the register: its folder {folder} is on a file system "
                f"mounted read-only")
    if code == _READONLY_DIRECTORY or (code & 0xFF == _READONLY and path.exists()
                                       and not os.access(folder, os.W_OK | os.X_OK)):
        return (f"cannot write to the register: this user may not write to its folder "
                f"{folder}, where SQLite keeps a commit's journal")
    if code & 0xFF == _READONLY and path.exists() and not os.access(path, os.W_OK):
        return "cannot write to the register: the file is read-only to this user"
    return None


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`; None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _quoted(name: str) -> str:
    """An SQL identifier, quoted (an index a DBA named may hold any character)."""
    return '"' + name.replace('"', '""') + '"'


def _is_busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _recover(path: Path) -> None:
    """Roll back what a killed commit left in the journal (a read-only connection can't).

    This restores the register as it was before that commit; it adds nothing.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        conn.close()
    except sqlite3.DatabaseError:
        pass  # the read-only open that follows reports what is wrong


# The SQLite register file this process opened last: the one a damage error names (no
# command opens two different SQLite registers).
_last_file: list[str] = []
_CORRUPT, _NOTADB = 11, 26  # SQLite's primary result codes for a damaged file
_READONLY = 8  # e.g. SQLITE_READONLY_ROLLBACK: a hot journal a reader can't roll back
_READONLY_ROLLBACK = _READONLY | 3 << 8  # that hot journal
_READONLY_DIRECTORY = _READONLY | 6 << 8  # a folder SQLite may not create its journal in
_CANTOPEN = 14
_IOERR, _FULL = 10, 13  # a disk error, a full disk: the machine's to fix, not a bug
_NOT_UTF8 = "Could not decode to UTF-8"  # Python's own error: it has no SQLite code


def damaged_register_message(exc: BaseException) -> str | None:
    """The one-line error for an SQLite error that means a register file is damaged (or
    holds text that is not UTF-8, which another tool may have written), naming the file;
    None for any other error."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    text = first_line(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    if not (text.startswith(_NOT_UTF8) or (code is not None and code & 0xFF in
                                           (_CORRUPT, _NOTADB))):
        return None
    where = _last_file[-1] if _last_file else "the register"
    return (f"{where}: the register file is damaged ({text}); nothing was written. "
            "Restore it from a backup, or repair it with the sqlite3 tool")


class SQLiteRegister(SQLRegister):
    """A register in one SQLite file (or an empty in-memory one for previews)."""

    def __init__(self, conn: sqlite3.Connection, label: str, path: Path | None = None,
                 location: str | None = None) -> None:
        self._conn = conn
        self.label = label
        # Where the register is (see Register.location): its file, resolved.
        self.location = location or (str(path) if path is not None else label)
        # The file, for the extra read-only connections of _read_each (None: in memory).
        self._path = path
        # Which file that is (device, inode), to see it is still the one at `path`.
        self._identity = _identity(path) if path is not None else None
        # This object made the file at `path` (it did not exist), and no commit of its
        # has gone through yet: a first commit that fails takes the register away again.
        self._made = False
        self._readers_pool: ReadPool[sqlite3.Connection] | None = None

    @classmethod
    def open(cls, path: Path, *, create: bool, migrating: bool = False) -> SQLiteRegister:
        """Open the register at `path`.

        With create=False nothing is ever written: a missing file reads as an empty
        in-memory register and an existing one is opened read-only. migrating=True opens
        an existing register for writing whatever its schema version (for `migrate`).
        A file of 0 bytes is a register not yet created (a creation that failed, or one
        under way): it reads as empty, and create=True creates the register in it. A
        folder is refused (RegisterError).
        """
        _check_reachable(path)
        if path.is_dir():
            raise RegisterError(f"{path}: the register path is a folder, not a file; "
                                f"name the register's file (e.g. {path / 'register.db'})")
        existed = path.exists()
        made = create and not existed and cls._create_beside(path)
        if path.exists() and Path(f"{path}-journal").exists():
            _recover(path)  # a killed creation's journal may leave 0 bytes: see below
        if not file_created(path):
            if not create:
                return cls.empty(str(path), location=str(path.resolve()))
            return cls._create(path, existed)
        writable = create or migrating
        try:
            conn = sqlite3.connect(_uri(path, not writable), uri=True, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):
                raise RegisterBusyError(f"{path}: register busy (another run holds it)") from None
            problem = _access_problem(path, exc)
            if problem is not None:
                raise RegisterError(f"{path}: {problem}") from None
            raise RegisterError(f"{path}: not a regsync register ({exc})") from None
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        problem = missing_tables_problem(str(path), tables)
        if problem is not None:
            conn.close()
            raise RegisterSchemaError(problem)
        if row is None:
            raise RegisterSchemaError(f"{path}: not a regsync register (no schema version)")
        problem = schema_version_problem(str(path), row[0])
        if problem is not None and not migrating:
            raise RegisterSchemaError(problem)
        _last_file[:] = [str(path)]
        register = cls(conn, str(path), path.resolve())
        register._made = made
        return register

    @classmethod
    def empty(cls, label: str, location: str | None = None) -> SQLiteRegister:
        """An empty register in memory: what a preview sees where none exists yet
        (`location`: where it would be, as Register.location names it)."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        for statement in schema_sql("sqlite"):
            conn.execute(statement)
        return cls(conn, label, location=location)

    @classmethod
    def _create_beside(cls, path: Path) -> bool:
        """Create the register in a file of its own beside `path`, then link it in as
        `path`: a creation that fails midway (a full disk) leaves nothing at `path`.
        True when the register at `path` is the one made here.

        The link never replaces a file: when another run created the register a moment
        ago, that one stays and is used. Where the file system has no hard links (FAT,
        some network shares) nothing is linked, and `open` creates the register in place.
        """
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.new")
        try:
            try:
                conn = sqlite3.connect(temp, isolation_level=None)
            except sqlite3.Error as exc:
                raise RegisterError(f"{path}: cannot create register: "
                                    f"{_why_not_created(path, exc)}") from None
            try:
                cls(conn, str(path))._initialise()
            finally:
                conn.close()
            try:
                os.link(temp, path)
            except FileExistsError:
                return False  # another run created it a moment ago
            except OSError:
                return False  # no hard links here: created in place
            return True
        finally:
            for leftover in (temp, Path(f"{temp}-journal")):
                # The folder is a file, or read-only: the error that brought us here
                # (cannot create register) is the one to tell, not the cleanup's.
                with contextlib.suppress(OSError):
                    leftover.unlink(missing_ok=True)

    @classmethod
    def _create(cls, path: Path, existed: bool) -> SQLiteRegister:
        """Create the register in the file at `path` (of 0 bytes, or missing where the
        file system has no hard links), or open the one another run just created there.
        `existed`: a file was at `path` before the command (of 0 bytes), which a failed
        first commit leaves, then holding the empty register."""
        try:
            conn = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise RegisterError(f"{path}: cannot create register: "
                                f"{_why_not_created(path, exc)}") from None
        register = cls(conn, str(path), path.resolve())
        _last_file[:] = [str(path)]
        try:
            register._made = register._initialise() and not existed
        except BaseException:
            conn.close()
            raise
        return register

    def _initialise(self) -> bool:
        """Write the schema and the meta rows, unless another run already has (False)."""
        conn = self._conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            # Takes effect only while the file is empty: a register another run created
            # a moment ago keeps the page size it was created with.
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            with self._transaction():
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                    return False  # another run created it a moment ago
                for statement in schema_sql("sqlite"):
                    conn.execute(statement)
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 [("schema_version", str(SCHEMA_VERSION)),
                                  ("register_id", str(uuid.uuid4())), ("version", "0")])
            return True
        except sqlite3.Error as exc:
            raise RegisterError(f"{self.label}: cannot create the register "
                                f"({first_line(exc)}); nothing was written") from None

    # -- engine hooks ----------------------------------------------------------------

    def _execute(self, query: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(query, params)

    def _executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(query, rows)

    def _insert_id(self, query: str, params: Sequence[Any]) -> int:
        return int(self._conn.execute(query, params).lastrowid or 0)

    def _customer_columns(self) -> set[str]:
        return {row[1] for row in self._conn.execute("PRAGMA table_info(customers)")}

    def _stream(self, query: str, params: list[object],
                chunk_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        # SQLite steps through the result as it is read: one chunk in memory at a time.
        values = [json.dumps(p, ensure_ascii=False) if isinstance(p, list) else p
                  for p in params]
        cursor = self._conn.execute(query, values)
        try:
            while rows := cursor.fetchmany(chunk_rows):
                yield rows
        finally:
            cursor.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; busy -> exit 3."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise RegisterBusyError(f"{self.label}: register busy (another run is "
                                        f"committing); try again") from None
            problem = self._access_problem(exc)
            raise RegisterError(f"{self.label}: {problem}; nothing was written" if problem
                                else f"{self.label}: cannot write to register: {exc}") from None
        if not self._same_file():
            # Written, the transaction would land in a file no one will read again.
            self._conn.execute("ROLLBACK")
            raise RegisterError(f"{self.label}: the register file was removed or replaced "
                                f"since this command opened it; nothing was written. Run "
                                f"the command again")
        try:
            yield
            self._conn.execute("COMMIT")
            self._made = False
        except BaseException as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if self._made:
                self._remove_unused()
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise RegisterBusyError(f"{self.label}: register busy (another run holds "
                                        f"it); try again") from None
            code = getattr(exc, "sqlite_errorcode", None)
            if isinstance(exc, sqlite3.OperationalError) and code is not None \
                    and code & 0xFF in (_FULL, _READONLY, _IOERR):
                problem = self._access_problem(exc) or \
                    f"cannot write to the register ({first_line(exc)})"
                raise RegisterError(f"{self.label}: {problem}; nothing was written") from None
            raise

    def _access_problem(self, exc: sqlite3.Error) -> str | None:
        return None if self._path is None else _access_problem(Path(self.label), exc)

    def _same_file(self) -> bool:
        """Whether the file at the register's path is still the one this object opened
        (True for a register in memory, or one whose file could not be told)."""
        return self._identity is None or _identity(self._path) == self._identity

    def _remove_unused(self) -> None:
        """Remove the register file this object made when its first commit failed (a
        full disk), as a creation that fails leaves no file: only while the register
        is as created (no batch) and no other run is using it (SQLite's exclusive lock,
        not waited for). A run that opened it meanwhile and commits later finds the
        file gone from its path (`_same_file`) and writes nothing."""
        self._made = False
        conn, path = self._conn, self._path
        assert path is not None
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute("BEGIN EXCLUSIVE")
        except sqlite3.Error:
            return  # another run is reading or writing it: it stays, an empty register
        try:
            unused = (self._same_file() and self.version() == 0
                      and conn.execute("SELECT 1 FROM batches LIMIT 1").fetchone() is None
                      and not Path(f"{path}-journal").exists())
            if unused:
                path.unlink()
        except (sqlite3.Error, OSError):
            pass  # it stays, an empty register
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            with contextlib.suppress(sqlite3.Error):
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")

    @contextmanager
    def _bulk_insert(self, rows: int) -> Iterator[None]:
        """Inserting at least as many customers as the register holds (a first load),
        the key indexes are dropped and built again after the inserts, in the same
        transaction: one sorted build instead of a random insert per customer per
        index (a first load of 1M customers: inserts 7.5 s -> 4.7 s with the builds;
        of 5M: see benchmarks/RESULTS.md). The unique index of customer_number stays:
        it is the constraint that stops a number twice."""
        # The largest id bounds the count from above, and is read from the table's
        # B-tree at once (count(*) reads a whole index: 0.3 s on 5M customers).
        if rows < _BULK_MIN_ROWS or rows < (self._conn.execute(
                "SELECT max(id) FROM customers").fetchone()[0] or 0):
            yield
            return
        indexes = self._conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'customers' AND sql IS NOT NULL").fetchall()
        # DROP INDEX deletes an index's statistics (from ANALYZE, if it was run): they
        # are put back as they were, for the query planner.
        stats = self._conn.execute(
            "SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl = 'customers'").fetchall() \
            if self._conn.execute("SELECT 1 FROM sqlite_master "
                                  "WHERE name = 'sqlite_stat1'").fetchone() else []
        for name, _ in indexes:
            self._conn.execute(f"DROP INDEX {_quoted(name)}")
        yield
        for _, sql in indexes:
            self._conn.execute(sql)
        dropped = [row for row in stats if row[1] in {name for name, _ in indexes}]
        if dropped:
            self._conn.executemany("DELETE FROM sqlite_stat1 WHERE tbl = ? AND idx = ?",
                                   [row[:2] for row in dropped])
            self._conn.executemany(
                "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", dropped)

    def integrity_check(self) -> str:
        """SQLite's own check of the file: 'ok' when sound."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def _readers(self) -> int:
        # Inside a transaction a read must see its own writes: the main connection only.
        if self._path is None or self._conn.in_transaction:
            return 1
        return READERS

    def _read_each(self, query: str, params: list[Sequence[Any]],
                   then: Callable[[list[tuple[Any, ...]]], T]) -> list[T]:
        """As SQLRegister's, but several reads run at once on read-only connections of
        their own: SQLite steps through a query without holding Python's lock, so on a
        machine of two cores two key reads take about 0.6 of the time of one after the
        other. Each read is one statement, as on the main connection: each sees the
        register as committed when it starts."""
        if len(params) < 2 or self._readers() < 2:
            return super()._read_each(query, params, then)
        assert self._path is not None
        if self._readers_pool is None:
            path = self._path
            self._readers_pool = ReadPool(
                lambda: _read_only(path), lambda conn, q, v: conn.execute(q, v).fetchall(),
                lambda conn: conn.close(), self._readers())
        try:
            return self._readers_pool.map(query, params, then)
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if code is None or code & 0xFF != _READONLY:
                raise
            # A commit killed midway left its journal: a read-only connection can't roll
            # it back. The main connection reads as before: a writable one rolls the
            # journal back first, a read-only one says what it always said.
            return super()._read_each(query, params, then)

    def close(self) -> None:
        """Close the connections."""
        if self._readers_pool is not None:
            self._readers_pool.close()
            self._readers_pool = None
        self._conn.close()


def _why_not_created(path: Path, exc: sqlite3.Error) -> str:
    """SQLite's reason for a register it could not create, or the plainer one: its
    "unable to open database file" is what a missing folder gives."""
    folder = path.parent
    if not folder.exists():
        return f"its folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if _read_only_mount(folder):
        return f"its folder {folder} is on a file system mounted read-only"
    return str(exc)


def _read_only_mount(folder: Path) -> bool:
    """Whether `folder` is on a file system mounted read-only (False when unknown)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
