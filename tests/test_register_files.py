"""The SQLite register's file: a creation that fails leaves none, a file of 0 bytes is a
register not yet created, a folder is refused in one line."""

from __future__ import annotations

import json
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, ROOT, customers, leave_hot_journal, run_cli, write_csv

REGISTER = FIXTURES / "demo" / "register.csv"
SOURCE = FIXTURES / "demo" / "asiakkaat.csv"


def _has_register(db: Path) -> bool:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() \
            is not None


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def unborn(tmp_path: Path) -> Path:
    """A register path holding a file of 0 bytes (a creation that failed before)."""
    db = tmp_path / "u0.db"
    db.touch()
    return db


def test_init_creates_the_register_in_a_file_of_0_bytes(unborn: Path) -> None:
    result = run_cli("init", "--db", unborn, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["register_id"]
    assert _has_register(unborn)


def test_import_and_commit_create_the_register_in_a_file_of_0_bytes(unborn: Path,
                                                                    tmp_path: Path) -> None:
    assert run_cli("import", REGISTER, "--db", unborn, "--yes").exit_code == 0
    assert len(customers(unborn)) == 6
    other = tmp_path / "other.db"
    other.touch()
    plan = tmp_path / "r.plan"
    assert run_cli("preview", REGISTER, "--db", other, "--plan", plan).exit_code == 0
    result = run_cli("commit", plan, "--db", other)
    assert result.exit_code == 0, result.stderr
    assert len(customers(other)) == 6


def test_preview_reads_a_file_of_0_bytes_as_an_empty_register_and_writes_nothing(
        unborn: Path, tmp_path: Path) -> None:
    result = run_cli("preview", SOURCE, "--db", unborn, "--plan", tmp_path / "p.plan",
                     "--json")
    assert result.exit_code == 1, result.stderr  # its Conflict and Rejected rows
    assert result.json()["new"] == 4
    assert unborn.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.plan", "u0.db"]


def test_export_and_batches_see_no_register_in_a_file_of_0_bytes(unborn: Path,
                                                                  tmp_path: Path) -> None:
    result = run_cli("export", tmp_path / "out.csv", "--db", unborn)
    assert result.exit_code == 2
    assert "no register there" in _one_line(result.stderr)  # as for a missing file
    result = run_cli("batches", "--db", unborn)
    assert result.exit_code == 2
    assert "there is no register here yet" in _one_line(result.stderr)  # as for export
    assert unborn.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u0.db"]


def test_a_file_that_is_not_a_register_is_still_refused(tmp_path: Path) -> None:
    db = write_csv(tmp_path / "notes.db", "not a register\n")
    result = run_cli("init", "--db", db)
    assert result.exit_code == 2
    assert "not a regsync register" in _one_line(result.stderr)
    assert db.read_text() == "not a register\n"


@pytest.mark.parametrize("version", ["4", "1"])
def test_another_programs_meta_table_is_not_taken_for_a_register(register_url: str,
                                                                 version: str) -> None:
    # QA: a file (or schema) whose only table is a `meta` of key and value, with a
    # schema_version row, was "register ready" for init and exit 70 for import (v4), or
    # sent the user between "run migrate" and "run init" (v1).
    if register_url.startswith("postgresql"):
        import psycopg

        base, _, schema = register_url.partition("?schema=")
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
            conn.execute(f'CREATE TABLE "{schema}".meta (key TEXT PRIMARY KEY, value TEXT)')
            conn.execute(f"INSERT INTO \"{schema}\".meta VALUES ('schema_version', %s)",
                         (version,))
    else:
        with sqlite3.connect(register_url) as conn:
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
        conn.close()
    for command in (["init"], ["import", REGISTER, "--yes"], ["migrate"], ["batches"],
                    ["export", "out.csv"]):
        result = run_cli(*command, "--db", register_url, "--json")
        assert result.exit_code == 2, (command, result.stdout)
        assert "not a regsync register (it has a meta table, but no groups, customers, " \
            "batches, history tables)" in result.json()["error"], result.stdout
        assert len(result.stderr.splitlines()) == 1
    assert not Path("out.csv").exists()


@pytest.fixture
def read_only_folder(tmp_path: Path):
    """A folder on a file system mounted read-only (a tmpfs): needs the right to mount,
    which root has here; skipped, saying so, where it is missing."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_register_on_a_read_only_file_system_is_one_line_exit_2(
        read_only_folder: Path, tmp_path: Path) -> None:
    # QA: creating a register there was exit 70 (removing the temporary file failed
    # with EROFS and hid the real error); writing one blamed this user's rights.
    existing = read_only_folder / "r.db"
    assert run_cli("import", REGISTER, "--db", existing, "--yes").exit_code == 0
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_folder)], check=True)
    before = existing.read_bytes()
    for command in (["init", "--db", read_only_folder / "new.db"],
                    ["import", REGISTER, "--yes", "--db", read_only_folder / "new.db"],
                    ["copy-register", "--db", existing, "--to", read_only_folder / "c.db"],
                    ["import", SOURCE, "--yes", "--db", existing]):
        result = run_cli(*command, "--json")
        assert result.exit_code == 2, (command, result.stdout)
        assert f"{read_only_folder} is on a file system mounted read-only" in \
            result.json()["error"], result.stdout
    assert sorted(p.name for p in read_only_folder.iterdir()) == ["r.db"]
    assert existing.read_bytes() == before


class _FullAtMeta:
    """A connection whose insert of the meta rows, the last step of a register's
    creation, finds the disk full."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def executemany(self, query: str, rows: Any) -> sqlite3.Cursor:
        if query.startswith("INSERT INTO meta"):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.executemany(query, rows)


@pytest.mark.parametrize("command", ["init", "import"])
def test_a_creation_failing_midway_leaves_no_file(command: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _FullAtMeta(connect(*a, **k)))
    folder = tmp_path / "registers"
    folder.mkdir()
    db = folder / "u0.db"
    args = ("init",) if command == "init" else ("import", REGISTER, "--yes")
    result = run_cli(*args, "--db", db)
    assert result.exit_code == 2, result.stderr
    line = _one_line(result.stderr)
    assert str(db) in line and "database or disk is full" in line
    assert list(folder.iterdir()) == []
    monkeypatch.undo()
    assert run_cli("init", "--db", db).exit_code == 0


def _no_file_space() -> None:
    """In the child: every write past 0 bytes fails (EFBIG) as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE behaves so on Linux")
def test_init_on_a_full_disk_leaves_no_file_and_the_next_init_works(tmp_path: Path) -> None:
    db = tmp_path / "u0.db"
    run = subprocess.run([sys.executable, "-m", "sync", "init", "--db", str(db), "--json"],
                         cwd=ROOT, capture_output=True, text=True, check=False,
                         preexec_fn=_no_file_space)  # noqa: PLW1509 - only a limit and a signal
    assert run.returncode == 2, run.stderr
    assert json.loads(run.stdout)["exit_code"] == 2
    assert str(db) in _one_line(run.stderr)
    assert list(tmp_path.iterdir()) == []
    assert run_cli("init", "--db", db).exit_code == 0


def test_inits_at_once_create_one_register(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    runs = [subprocess.Popen([sys.executable, "-m", "sync", "init", "--db", str(db), "--json"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)]
    outs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outs
    assert len({json.loads(out)["register_id"] for out, _ in outs}) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["r.db"]


@pytest.mark.parametrize("args", [("init",), ("preview", SOURCE), ("import", SOURCE, "--yes"),
                                  ("batches",)])
def test_a_register_path_that_is_a_folder_is_one_line(args: tuple[str | Path, ...],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "registers"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)  # the preview's default plan lands here
    result = run_cli(*args, "--db", folder)
    assert result.exit_code == 2
    line = _one_line(result.stderr)
    assert line.startswith(f"regsync: error: {folder}: the register path is a folder"), line
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("command", [("init",), ("import", SOURCE, "--yes")])
@pytest.mark.parametrize("folder", ["missing", "a-file"])
def test_a_register_whose_folder_is_missing_or_a_file_is_one_line_naming_it(
        command: tuple[str | Path, ...], folder: str, tmp_path: Path) -> None:
    # QA: a missing folder said only SQLite's "unable to open database file"; a file in
    # the folder's place was an internal error (exit 70).
    (tmp_path / "a-file").write_text("")
    result = run_cli(*command, "--db", tmp_path / folder / "r.db")
    assert result.exit_code == 2
    why = (f"its folder {tmp_path / folder} does not exist" if folder == "missing"
           else f"{tmp_path / folder} is not a folder")
    assert _one_line(result.stderr) == (
        f"regsync: error: {tmp_path / folder / 'r.db'}: cannot create register: {why}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# -- permissions: what a user who is not the register's owner meets --------------------

_AS_A_USER = """
import json, sys
from click.testing import CliRunner
from sync.cli import cli
results = []
for args in json.loads(sys.argv[1]):
    run = CliRunner().invoke(cli, args, catch_exceptions=False)
    results.append([run.exit_code, run.stderr])
print(json.dumps(results))
"""


def as_a_user(cwd: Path, *commands: tuple[str | Path, ...]) -> list[tuple[int, str]]:
    """(exit code, stderr) of each regsync command, run in one child process in `cwd`
    whom file permissions stop: this user, or, as root, root without the capabilities
    that override them (its own files' mode bits then apply to it as to their owner).
    SQLite's own refusals (a journal it can't create, a file it can't open) can't be
    made any other way."""
    import os

    prefix = [] if os.geteuid() else [
        "setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--inh-caps=-all"]
    run = subprocess.run(
        [*prefix, sys.executable, "-c", _AS_A_USER,
         json.dumps([[str(a) for a in command] for command in commands])],
        cwd=cwd, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    return [(code, stderr) for code, stderr in json.loads(run.stdout)]


@pytest.fixture
def regdir(tmp_path: Path):
    """A folder regdir holding the demo register reg.db; its modes are put back after."""
    folder = tmp_path / "regdir"
    folder.mkdir()
    assert run_cli("import", REGISTER, "--db", folder / "reg.db", "--yes").exit_code == 0
    yield folder
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


_READING = [("preview", SOURCE, "--plan", "p.plan"), ("export", "x.csv"), ("batches",),
            ("history", "1001")]
_WRITING = [("import", SOURCE, "--yes"), ("lock", "1001"), ("rebuild-blocks",)]


def test_a_register_folder_the_user_may_not_enter_is_one_line_exit_2(
        regdir: Path, tmp_path: Path) -> None:
    # QA: exit 70, "internal error (PermissionError: ...)" from Path.is_dir, which
    # Python 3.11 raises on EACCES, on every command.
    regdir.chmod(0o600)
    commands = [*_READING, *_WRITING, ("init",)]
    for command, (code, stderr) in zip(commands, as_a_user(
            tmp_path, *[(*c, "--db", "regdir/reg.db") for c in commands]), strict=True):
        assert code == 2, (command, stderr)
        assert _one_line(stderr) == ("regsync: error: regdir/reg.db: cannot be opened "
                                     "(permission denied on its folder regdir)"), command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regdir"]  # no plan, no export


def test_a_job_whose_register_folder_the_user_may_not_enter_is_refused_in_one_line(
        regdir: Path, tmp_path: Path) -> None:
    from tests.jobs_helpers import write_job

    job = write_job(tmp_path, source='folder = "drops"\nsettle_seconds = 0')
    job.write_text(job.read_text().replace('register = "r.db"', 'register = "regdir/reg.db"'))
    (tmp_path / "drops").mkdir()
    regdir.chmod(0o600)
    [(code, stderr)] = as_a_user(tmp_path, ("run", "job.toml"))
    assert code == 2, stderr
    assert _one_line(stderr) == (
        f"regsync: error: job.toml: [job] register unreachable: {regdir / 'reg.db'}: "
        f"cannot be opened (permission denied on its folder {regdir})")


def test_a_register_file_the_user_may_not_read_is_a_permission_problem(
        regdir: Path, tmp_path: Path) -> None:
    # QA: "not a regsync register (unable to open database file)".
    (regdir / "reg.db").chmod(0o200)
    commands = [*_READING, *_WRITING]
    for command, (code, stderr) in zip(commands, as_a_user(
            tmp_path, *[(*c, "--db", "regdir/reg.db") for c in commands]), strict=True):
        assert code == 2, (command, stderr)
        assert _one_line(stderr) == (
            "regsync: error: regdir/reg.db: cannot be opened (permission denied: this "
            "user may not read the file)"), command


def test_a_read_only_register_folder_is_named_when_a_command_writes(
        regdir: Path, tmp_path: Path) -> None:
    # QA: "cannot write to the register (attempt to write a readonly database)": SQLite
    # needs the folder for the commit's rollback journal. Reading needs no more.
    before = (regdir / "reg.db").read_bytes()
    regdir.chmod(0o555)
    (regdir / "reg.db").chmod(0o666)
    results = as_a_user(tmp_path, *[(*c, "--db", "regdir/reg.db") for c in _WRITING],
                        ("batches", "--db", "regdir/reg.db"))
    for command, (code, stderr) in zip(_WRITING, results, strict=False):
        assert code == 2, (command, stderr)
        assert _one_line(stderr) == (
            "regsync: error: regdir/reg.db: cannot write to the register: this user may "
            "not write to its folder regdir, where SQLite keeps a commit's journal; "
            "nothing was written"), command
    assert results[-1][0] == 0, results[-1]
    assert (regdir / "reg.db").read_bytes() == before


def test_a_register_file_the_user_may_not_write_is_named_when_a_command_writes(
        regdir: Path, tmp_path: Path) -> None:
    (regdir / "reg.db").chmod(0o444)
    [(code, stderr)] = as_a_user(tmp_path, ("lock", "1001", "--db", "regdir/reg.db"))
    assert code == 2, stderr
    assert _one_line(stderr) == (
        "regsync: error: regdir/reg.db: cannot write to the register: the file is "
        "read-only to this user; nothing was written")


def test_a_killed_commits_journal_in_a_folder_the_user_may_not_write_says_who_can_roll_it_back(
        regdir: Path, tmp_path: Path) -> None:
    # QA: "not a regsync register (attempt to write a readonly database)".
    db = regdir / "reg.db"
    leave_hot_journal(db)
    regdir.chmod(0o555)
    commands = [("preview", SOURCE, "--plan", "p.plan"), ("export", "x.csv"), ("batches",)]
    for command, (code, stderr) in zip(commands, as_a_user(
            tmp_path, *[(*c, "--db", "regdir/reg.db") for c in commands]), strict=True):
        assert code == 2, (command, stderr)
        assert _one_line(stderr) == (
            "regsync: error: regdir/reg.db: cannot be read: a commit that did not finish "
            "left its journal (regdir/reg.db-journal), which must be rolled back first; "
            "run any regsync command on this register (e.g. regsync batches) as a user "
            "who may write to its folder regdir"), command
    regdir.chmod(0o755)
    assert run_cli("batches", "--db", db).exit_code == 0  # one who may rolls it back
    assert not Path(f"{db}-journal").exists()
    assert not any(name.endswith(" X") for name in (r["name"] for r in customers(db).values()))


# -- a first commit that fails takes away the register its command created ---------------

def _customers_csv(path: Path, count: int) -> Path:
    return write_csv(path, "customer_number;name;city\n" + "".join(
        f"{5000 + n};Yritys {n:05d} Oy;Kaupunki {n % 97}\n" for n in range(count)))


def _little_file_space() -> None:
    """In the child: a file may grow to 1.5 MiB, room for a new register (1 MiB) but not
    for a first commit of 2,000 customers, as on a nearly full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1536 << 10, 1536 << 10))


@pytest.mark.parametrize("command", ["import", "commit"])
def test_a_first_commit_failing_on_a_nearly_full_disk_leaves_no_register(
        command: str, tmp_path: Path) -> None:
    # QA: exit 2, "nothing was written", but new.db stayed, holding every table.
    source = _customers_csv(tmp_path / "many.csv", 2000)
    folder = tmp_path / "registers"
    folder.mkdir()
    db = folder / "new.db"
    if command == "import":
        args = ["import", str(source), "--yes"]
    else:
        made = run_cli("preview", source, "--db", db, "--plan", tmp_path / "p.plan")
        assert made.exit_code == 0, made.stderr
        args = ["commit", str(tmp_path / "p.plan")]
    run = subprocess.run([sys.executable, "-m", "sync", *args, "--db", str(db), "--json"],
                         cwd=ROOT, capture_output=True, text=True, check=False,
                         preexec_fn=_little_file_space)  # noqa: PLW1509 - only a limit and a signal
    assert run.returncode == 2, run.stderr
    line = _one_line(run.stderr)
    assert line.startswith(f"regsync: error: {db}: cannot write to the register (")
    assert line.endswith("); nothing was written")
    assert list(folder.iterdir()) == []
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0  # room again


def _fails_midway(register: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The register's next commit finds the disk full as it inserts customers."""
    def full(*_: object) -> None:
        error = sqlite3.OperationalError("database or disk is full")
        error.sqlite_errorcode = 13  # type: ignore[attr-defined]
        raise error
    monkeypatch.setattr(register, "_insert_rows", full)


def _plan_for_a_new_register(db: Path, source: Path) -> Any:
    """A preview's plan of `source` against `db`, which does not exist yet."""
    from sync.pipeline import preview
    from sync.rules import load_rules
    from sync.writers.register import open_register

    register = open_register(str(db), create=False)
    try:
        return preview(source, register, load_rules())
    finally:
        register.close()


def test_a_run_that_opened_the_register_a_failed_first_commit_took_away_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.commit import commit
    from sync.errors import RegisterError
    from sync.writers.register import open_register

    db = tmp_path / "new.db"
    plan = _plan_for_a_new_register(db, _customers_csv(tmp_path / "a.csv", 3))
    first = open_register(str(db), create=True)  # makes the register
    other = open_register(str(db), create=True)  # another run, a moment later, uses it
    try:
        _fails_midway(first, monkeypatch)
        with pytest.raises(RegisterError, match="disk is full"):
            commit(plan, first, "anna")
        assert not db.exists()
        with pytest.raises(RegisterError) as refused:
            commit(plan, other, "bert")
        assert refused.value.message == (
            f"{db}: the register file was removed or replaced since this command opened "
            f"it; nothing was written. Run the command again")
    finally:
        first.close()
        other.close()
    assert not db.exists()


def test_a_failed_first_commit_leaves_the_register_another_run_is_reading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.commit import commit
    from sync.errors import RegisterError
    from sync.writers.register import open_register

    db = tmp_path / "new.db"
    plan = _plan_for_a_new_register(db, _customers_csv(tmp_path / "a.csv", 3))
    first = open_register(str(db), create=True)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM customers").fetchone()  # a read under way
    try:
        _fails_midway(first, monkeypatch)
        with pytest.raises(RegisterError, match="disk is full"):
            commit(plan, first, "anna")
    finally:
        reader.execute("ROLLBACK")
        reader.close()
        first.close()
    assert _has_register(db)  # an empty register, as `init` makes
    assert run_cli("import", tmp_path / "a.csv", "--db", db, "--yes").exit_code == 0


def test_a_register_file_replaced_while_a_command_has_it_open_is_not_written(
        tmp_path: Path) -> None:
    from sync.errors import RegisterError
    from sync.writers.register import open_register

    db = tmp_path / "r.db"
    assert run_cli("import", REGISTER, "--db", db, "--yes").exit_code == 0
    backup = tmp_path / "backup.db"
    backup.write_bytes(db.read_bytes())
    register = open_register(str(db), create=True)
    try:
        backup.replace(db)  # a backup restored meanwhile
        restored = db.read_bytes()
        with pytest.raises(RegisterError, match="removed or replaced since this command"):
            with register._transaction():
                register._execute("UPDATE meta SET value = 'x' WHERE key = 'version'")
    finally:
        register.close()
    assert db.read_bytes() == restored
