"""Shared test helpers: run the CLI in-process, build registers from CSV text."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from sync.cli import cli
from sync.types import FIELDS
from sync.writers.register import open_register
from sync.writers.register.sqlite import sqlite_path
from sync.writers.register.urls import is_postgres_url

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture(autouse=True)
def _in_a_folder_of_its_own(tmp_path_factory: pytest.TempPathFactory,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in an empty folder of its own: what a command writes by default
    into the current folder (SOURCE.plan, register.db) lands there, not in the
    repository, and two tests running at once never share such a file."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    # `regsync --schema X` sets $REGSYNC_SCHEMA for the engines (in this process, when a
    # test runs the CLI in-process): taken back after each test.
    # (set first: monkeypatch records only a variable it changes, and restores that)
    monkeypatch.setenv("REGSYNC_SCHEMA", "")
    monkeypatch.delenv("REGSYNC_SCHEMA")


@pytest.fixture(autouse=True)
def _ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt in every test, as in a terminal: a test
    suite started in the background (`nohup ... &`, some CI runners) inherits SIGINT
    ignored, and the tests that stop a command with it then saw nothing (mutation QA)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def fast_paths_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """The normalisers' vectorised fast paths run on columns of any length (a preview
    runs them from sync.normalise._FAST_PATH_FROM values up): for tests that hold them
    to the per-value normalisers on a few values."""
    monkeypatch.setattr("sync.normalise._FAST_PATH_FROM", 0)


@pytest.fixture
def short_lock_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wait for a lock another session holds gives up after 1 s, not regsync's 5 s,
    on both engines: for tests of what happens when it gives up (only the wait is
    shorter; the outcome is the same)."""
    monkeypatch.setattr("sync.writers.register.postgres._LOCK_TIMEOUT", "1s")
    monkeypatch.setattr("sync.writers.register.sqlite._BUSY_TIMEOUT_MS", 1000)


@dataclass
class Run:
    """The outcome of one regsync command."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def run_cli(*args: str | Path) -> Run:
    """Run `regsync ARGS` in-process, as a user would from a shell."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh Python process from the project root: for what must not
    share pytest's process (a crash that would take it down, the modules a command
    imports)."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def leave_hot_journal(db: Path) -> None:
    """Kill a process in the middle of a commit to the SQLite register `db`, leaving its
    rollback journal beside it (a hot journal, which the next writer rolls back)."""
    killed = run_python(
        "import os, sqlite3\n"
        f"conn = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "conn.execute('PRAGMA cache_size = 1')\n"
        "conn.execute('BEGIN IMMEDIATE')\n"
        "conn.execute(\"UPDATE customers SET name = name || ' X'\")\n"
        "conn.execute(\"UPDATE name_blocks SET name = name || ' X'\")\n"
        "os._exit(0)\n")
    assert killed.returncode == 0, killed.stderr
    assert Path(f"{db}-journal").exists()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Path of a register that does not exist yet."""
    return tmp_path / "register.db"


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write CSV text (first line the header) to `path`."""
    path.write_bytes(text.encode(encoding))
    return path


def load_register(db: Path | str, csv_text: str, tmp_path: Path) -> None:
    """Create a register holding the customers of `csv_text` (all New)."""
    source = write_csv(tmp_path / "register-seed.csv", csv_text)
    result = run_cli("import", source, "--db", db, "--yes", "--actor", "seed")
    assert result.exit_code == 0, result.stderr


# Registers seeded once in this test process, by (source name, its bytes, actor): the
# fixtures that give each test the same register copy one instead of importing again.
_SEEDS: dict[tuple[str, bytes, str | None], Path] = {}
_SEED_FOLDER: list[tempfile.TemporaryDirectory[str]] = []


def copy_of_import(db: Path | str, source: Path, actor: str | None = "seed") -> None:
    """Make `db`, a register that does not exist yet (either engine), hold what
    `regsync import SOURCE --yes [--actor ACTOR]` into an empty register leaves: the
    first time, by that import into an SQLite register kept for this test process; after
    that, by a copy of it (a file copy with a register id of its own, or copy-register
    into PostgreSQL), a fifth of the time or less. For fixtures that give many tests one
    register: an import's own steps are what other tests test."""
    data = source.read_bytes()
    key = (source.name, data, actor)
    if key not in _SEEDS:
        if not _SEED_FOLDER:
            _SEED_FOLDER.append(tempfile.TemporaryDirectory(prefix="regsync-seeds-"))
        folder = Path(_SEED_FOLDER[0].name) / str(len(_SEEDS))
        folder.mkdir()
        (folder / source.name).write_bytes(data)  # the batch records the source's name
        template = folder / "register.db"
        result = run_cli("import", folder / source.name, "--db", template, "--yes",
                         *(("--actor", actor) if actor is not None else ()))
        assert result.exit_code == 0, result.stderr
        _SEEDS[key] = template
    template = _SEEDS[key]
    if is_postgres_url(str(db)):
        result = run_cli("copy-register", "--db", template, "--to", db)
        assert result.exit_code == 0, result.stderr
        return
    path = sqlite_path(str(db))
    assert not path.exists(), f"{path}: a copy goes only where no register is"
    shutil.copyfile(template, path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'register_id'",
                      (str(uuid.uuid4()),))
    conn.close()


def seed_register(db: Path | str, csv_text: str, tmp_path: Path) -> None:
    """As load_register, for a register that does not exist yet, by `copy_of_import`."""
    copy_of_import(db, write_csv(tmp_path / "register-seed.csv", csv_text))


CUSTOMER_COLUMNS = (*FIELDS, "group_id", "name_key", "locked_by", "invalidated",
                    "created_batch", "updated_batch")


def customers(db: Path | str) -> dict[str, dict[str, str | None]]:
    """Every customer in the register (either engine) by number, with its group's name."""
    register = open_register(str(db), create=False)
    try:
        custom = sorted(register._customer_columns() - {*CUSTOMER_COLUMNS, "id"})
        frame = register.export_frame((*CUSTOMER_COLUMNS, *custom))
    finally:
        register.close()
    return {row["customer_number"]: row for row in frame.iter_rows(named=True)}


def set_schema_version(db: Path | str, recorded: str) -> None:
    """Write `recorded` as the register's schema version (an older, newer or damaged
    one), on either engine, leaving everything else as it is."""
    register = open_register(str(db), create=True)
    try:
        with register._transaction():
            register._execute(f"UPDATE {register._t('meta')} SET value = ? "
                              f"WHERE key = 'schema_version'", (recorded,))
    finally:
        register.close()


def register_state(db: Path | str) -> tuple[object, ...]:
    """Everything a commit could change, for 'nothing was written' checks on any engine."""
    register = open_register(str(db), create=False)
    try:
        return (register.register_id(), register.version(),
                register.export_frame(CUSTOMER_COLUMNS).sort("customer_number").rows(),
                sorted(register.group_names().rows()), register.batches().rows(),
                register.history().rows())
    finally:
        register.close()


def execute_sql(db: Path | str, statement: str, params: tuple[object, ...] = ()) -> None:
    """Run one statement on a register (`{customers}` etc. name its tables), committed."""
    register = open_register(str(db), create=True)
    try:
        with register._transaction():
            register._execute(statement.format(
                customers=register._t("customers"), groups=register._t("groups")), params)
    finally:
        register.close()


PG_URL = os.environ.get("REGSYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    """None when the test server answers, else why not."""
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def require_postgres() -> None:
    """Go on only when the test server answers. Without one this skips with the reason,
    except under CI=true, where it fails: CI must run the PostgreSQL cases."""
    problem = _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL at {PG_URL} is not reachable: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _fresh_schema_url():
    """A fresh schema in the test database (dropped afterwards), as a register URL
    (see `require_postgres` for a missing server)."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield f"{PG_URL}?schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def register_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A register that does not exist yet, on each engine: an SQLite file, or a fresh
    PostgreSQL schema in the test database."""
    if request.param == "sqlite":
        yield str(tmp_path / "register.db")
    else:
        yield from _fresh_schema_url()


@pytest.fixture
def pg_url():
    """A PostgreSQL register that does not exist yet (a fresh schema)."""
    yield from _fresh_schema_url()


def report_rows(path: Path) -> list[dict[str, str]]:
    """The CSV report's lines as dicts."""
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
