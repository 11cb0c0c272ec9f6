"""Large key reads of an SQLite register run on several read-only connections at once
(one per core): the frames are those of one read on the main connection, and a read
inside a commit's transaction still sees that transaction's own writes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.errors import RegisterError
from sync.types import FIELDS
from sync.writers.register import open_register, sql_reads, sqlite
from sync.writers.register.read_pool import ReadPool
from sync.writers.register.sql import SQLRegister
from tests.conftest import leave_hot_journal, load_register, run_cli

NAMES = ["Kahvila Aurinko Oy", "Matti Virtanen", "Rakennus Kivi Oy", "Liisa Laine",
         "Aurinko Kahvila Ab", "Matti Laine", "Kivi ja Sora Oy", "Virtanen Matti"]
NUMBERS = [str(1000 + i) for i in range(40)]


@pytest.fixture(scope="module")
def register_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reads")
    rows = "\n".join(f"{n};{NAMES[i % len(NAMES)]} {i // len(NAMES) or ''}".rstrip()
                     + f";{'' if i % 3 else f'group {i % 2}'}"
                     for i, n in enumerate(NUMBERS))
    db = folder / "register.db"
    load_register(db, f"customer_number;name;customer_group\n{rows}\n", folder)
    return db


@pytest.fixture
def split_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read of more than one key split across three reader connections."""
    monkeypatch.setattr(sql_reads, "_TUPLE_ROWS", 4)
    monkeypatch.setattr(sql_reads, "_PARALLEL_MIN_KEYS", 1)
    monkeypatch.setattr(sql_reads, "_PARALLEL_MIN_BLOCKS", 1)
    monkeypatch.setattr(sqlite, "READERS", 3)


def _reads(db: Path, numbers: list[str], blocks: list[str]) -> list[pl.DataFrame]:
    register = open_register(str(db), create=False)
    try:
        values = pl.Series(numbers, dtype=pl.String)
        frames = [register.fetch(values, FIELDS),
                  register.lookup("customer_number", values),
                  register.block_sizes(blocks, 3),
                  register.block_members(blocks)]
        used_readers = register._readers_pool is not None
    finally:
        register.close()
    many = len(set(numbers)) > 1 or len(blocks) > 1
    assert used_readers == (many and sqlite.READERS > 1), \
        "reads of many keys run on the reader connections, and only they"
    return frames


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns)


@settings(max_examples=25, deadline=None)
@given(numbers=st.lists(st.sampled_from([*NUMBERS, "9999", "01000"]), max_size=30),
       blocks=st.lists(st.sampled_from(["kahv", "kahvila", "matt", "matti", "virt",
                                        "laine", "kivi", "sora", "nope"]), max_size=9))
def test_split_reads_give_the_frames_of_one_read(register_file, numbers, blocks):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sqlite, "READERS", 1)
        patch.setattr(sql_reads, "_PARALLEL_MIN_KEYS", 10**9)
        one = _reads(register_file, numbers, blocks)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sql_reads, "_TUPLE_ROWS", 4)
        patch.setattr(sql_reads, "_PARALLEL_MIN_KEYS", 1)
        patch.setattr(sql_reads, "_PARALLEL_MIN_BLOCKS", 1)
        patch.setattr(sqlite, "READERS", 3)
        split = _reads(register_file, numbers, blocks)
    for a, b in zip(one, split, strict=True):
        assert a.schema == b.schema
        assert _sorted(a).equals(_sorted(b))
    # The members come in block order, whichever way they were read.
    assert one[3]["block"].equals(split[3]["block"])
    assert one[0].height == len({n for n in numbers if n in NUMBERS})


@pytest.fixture
def writable_copy(register_file: Path, tmp_path: Path) -> Iterator[tuple[Path, SQLRegister]]:
    """A copy of the register file, opened for writing (as `import` and jobs open it)."""
    db = tmp_path / "copy.db"
    db.write_bytes(register_file.read_bytes())
    register = open_register(str(db), create=True)
    yield db, register
    register.close()


def test_a_read_inside_a_commit_sees_the_commits_own_writes(writable_copy, split_reads):
    _, register = writable_copy
    with pytest.raises(sqlite3.IntegrityError), register._transaction():
        register._execute("INSERT INTO customers (customer_number, name) VALUES "
                          "('5001', 'Uusi Asiakas'), ('5002', 'Toinen Asiakas')")
        seen = register.fetch(pl.Series(["5001", "5002", "1000", "1001"]), ("name",))
        # Another connection does not see the uncommitted rows.
        assert register._readers_pool is None
        raise sqlite3.IntegrityError("roll back")
    assert sorted(seen["customer_number"]) == ["1000", "1001", "5001", "5002"]


def test_an_error_in_a_reader_is_raised_to_the_caller(register_file, split_reads):
    register = open_register(str(register_file), create=False)
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            register._read_each("SELECT * FROM no_such_table WHERE ? IS NOT NULL",
                                [("a",), ("b",)], lambda rows: rows)
    finally:
        register.close()


def test_reads_roll_back_a_killed_commit_on_a_writable_register(writable_copy, split_reads):
    # A commit killed midway leaves a hot journal. A read-only reader connection can't
    # roll it back; the writable connection of `import` or a job run does, as before.
    db, register = writable_copy
    leave_hot_journal(db)
    found = register.lookup("customer_number", pl.Series(NUMBERS, dtype=pl.String))
    names = register.block_members(["kahv", "matt", "virt"])["name"]
    assert sorted(found["customer_number"]) == sorted(NUMBERS)
    assert names.len() > 0 and not names.str.ends_with(" X").any()


@pytest.mark.parametrize("folder", ["a#b", "a?mode=rw", "50% off"])
def test_a_register_in_a_folder_whose_name_looks_like_uri_syntax(tmp_path, folder):
    db = tmp_path / folder / "register.db"
    db.parent.mkdir()
    load_register(db, "customer_number;name\n1001;Kahvila Aurinko Oy\n", tmp_path)
    source = tmp_path / "s.csv"
    source.write_text("customer_number;name\n1001;Kahvila Aurinko Oy\n", encoding="utf-8")
    result = run_cli("preview", source, "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["unchanged"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([folder, "register-seed.csv",
                                                                 "s.csv"])


def test_split_reads_on_postgresql_give_the_frames_of_one_read(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The same reads on PostgreSQL, each part on a connection of its own.
    from sync.writers.register import postgres

    rows = "\n".join(f"{n};{NAMES[i % len(NAMES)]} {i // len(NAMES) or ''}".rstrip()
                     + f";{'' if i % 3 else f'group {i % 2}'}" for i, n in enumerate(NUMBERS))
    load_register(pg_url, f"customer_number;name;customer_group\n{rows}\n", tmp_path)
    numbers = [*NUMBERS[::3], "9999", "01000", NUMBERS[4]]
    blocks = ["kahv", "kahvila", "matt", "virt", "laine", "nope"]

    def reads() -> tuple[list[pl.DataFrame], bool]:
        register = open_register(pg_url, create=False)
        try:
            values = pl.Series(numbers, dtype=pl.String)
            frames = [register.fetch(values, FIELDS),
                      register.lookup("customer_number", values),
                      register.block_sizes(blocks, 3), register.block_members(blocks)]
            return frames, register._readers_pool is not None
        finally:
            register.close()

    monkeypatch.setattr(postgres, "READERS", 1)
    one, pooled = reads()
    assert not pooled
    monkeypatch.setattr(sql_reads, "_TUPLE_ROWS", 4)
    monkeypatch.setattr(sql_reads, "_PARALLEL_MIN_KEYS", 1)
    monkeypatch.setattr(sql_reads, "_PARALLEL_MIN_BLOCKS", 1)
    monkeypatch.setattr(postgres, "READERS", 3)
    split, pooled = reads()
    assert pooled, "reads of many keys run on the reader connections"
    for a, b in zip(one, split, strict=True):
        assert a.schema == b.schema and _sorted(a).equals(_sorted(b))
    assert one[3]["block"].equals(split[3]["block"])
    assert one[0].height == len(set(numbers) & set(NUMBERS))


def test_a_read_inside_a_postgresql_commit_stays_on_its_connection(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from sync.writers.register import postgres

    load_register(pg_url, "customer_number;name\n1000;Aho Oy\n1001;Beta Oy\n", tmp_path)
    monkeypatch.setattr(sql_reads, "_TUPLE_ROWS", 1)
    monkeypatch.setattr(sql_reads, "_PARALLEL_MIN_BLOCKS", 1)
    monkeypatch.setattr(postgres, "READERS", 3)
    register = open_register(pg_url, create=True)
    blocks = ["aho", "beta", "uusi"]
    try:
        with pytest.raises(RuntimeError), register._transaction():
            register._execute(f"INSERT INTO {register._t('name_blocks')} (block, "
                              "customer_number, name) VALUES ('uusi', '5001', 'Uusi Oy')")
            seen = register.block_sizes(blocks, 5)
            assert register._readers_pool is None
            raise RuntimeError("roll back")
        assert dict(seen.rows()) == {"aho": 1, "beta": 1, "uusi": 1}
        after = register.block_sizes(blocks, 5)
        assert register._readers_pool is not None
        assert dict(after.rows()) == {"aho": 1, "beta": 1, "uusi": 0}
    finally:
        register.close()


def test_postgresql_reads_keep_odd_keys_and_empty_values_exact(pg_url: str, tmp_path: Path):
    # The keys travel as a text[] literal and the rows come back as COPY's CSV: quotes,
    # backslashes, braces, commas, the word NULL and line breaks must survive both, and
    # a NULL must stay apart from an empty string.
    odd = ['a"b', "c\\d", "{x,y}", "NULL", "é ö", "p,q", "r\ns", "t;u"]
    # An import rejects a number holding a line break; a register may hold one from
    # before, so it is put there directly.
    lines = "".join(f'"{n.replace(chr(10), "").replace(chr(34), chr(34) * 2)}";Firma {i};'
                    f'"Rivi 1\nRivi 2"\n' for i, n in enumerate(odd))
    source = tmp_path / "odd.csv"
    source.write_text("customer_number;name;notes\n" + lines, encoding="utf-8")
    assert run_cli("import", source, "--db", pg_url, "--yes").exit_code == 0
    from tests.conftest import execute_sql

    execute_sql(pg_url, "UPDATE {customers} SET customer_number = %s "
                        "WHERE customer_number = 'rs'", ("r\ns",))
    execute_sql(pg_url, "UPDATE {customers} SET city = '' WHERE customer_number = 'NULL'")
    register = open_register(pg_url, create=False)
    try:
        keys = pl.Series([*odd, "missing"], dtype=pl.String)
        found = register.lookup("customer_number", keys)
        values = register.fetch(keys, ("name", "city", "notes"))
    finally:
        register.close()
    assert sorted(found["customer_number"]) == sorted(odd)
    by_number = {r["customer_number"]: r for r in values.iter_rows(named=True)}
    assert sorted(by_number) == sorted(odd)
    assert by_number["NULL"]["city"] == "" and by_number["a\"b"]["city"] is None
    assert by_number["r\ns"]["name"] == "Firma 6"
    assert by_number["p,q"]["notes"] == "Rivi 1\nRivi 2"


def test_an_empty_register_is_sent_no_keys_to_look_up(register_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    # A first load's preview looked a million keys up in an empty register: 1.6 s of
    # its 11 s, for nothing.
    assert run_cli("init", "--db", register_url).exit_code == 0
    sent: list[str] = []
    numbers = pl.Series([str(n) for n in range(1000, 1300)])
    register = open_register(register_url, create=False)
    engine = type(register)  # each engine passes key lists its own way
    real = engine._list_param

    def spy(self: SQLRegister, values: list[str]) -> object:
        sent.append(f"{len(values)} keys")
        return real(self, values)

    monkeypatch.setattr(engine, "_list_param", spy)
    try:
        for key in ("customer_number", "business_id", "name_key"):
            found = register.lookup(key, numbers)
            assert found.is_empty() and found.columns == ["value", "customer_number"]
        assert register.fetch(numbers, ("name", "customer_group")).is_empty()
    finally:
        register.close()
    assert sent == []
    load_register(register_url, "customer_number;name\n1001;Kahvila Aurinko Oy\n", tmp_path)
    register = open_register(register_url, create=False)
    try:
        assert register.lookup("customer_number", numbers)["customer_number"].to_list() == [
            "1001"]
        assert register.fetch(numbers, ("name",))["name"].to_list() == ["Kahvila Aurinko Oy"]
    finally:
        register.close()
    assert sent


@pytest.fixture
def one_connection_role(pg_url: str, tmp_path: Path) -> Iterator[str]:
    """pg_url's register (the demo customers), as a URL of a new role that may read it
    and hold one connection at a time (CONNECTION LIMIT 1)."""
    import uuid

    import psycopg

    from tests.conftest import PG_URL

    load_register(pg_url, "customer_number;name;customer_group\n" + "".join(
        f"{n};{NAMES[i % len(NAMES)]} {i};group {i % 2}\n" for i, n in enumerate(NUMBERS)),
        tmp_path)
    schema = pg_url.split("schema=")[1]
    role = f"regsync_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
        try:
            admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
            admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
            yield pg_url.replace("postgresql://postgres@", f"postgresql://{role}@")
        finally:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_reads_go_on_when_no_more_connections_can_be_opened(
        one_connection_role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The extra reader connections of a big preview were a must: a role with CONNECTION
    # LIMIT 1 (a server at max_connections, a pool of one) made the preview fail,
    # exit 2, "too many connections for role".
    from sync.writers.register import postgres

    url = one_connection_role
    source = tmp_path / "s.csv"
    source.write_text("customer_number;name\n" + "".join(
        f"{n};{NAMES[i % len(NAMES)]} {i}\n" for i, n in enumerate(NUMBERS)) +
        "9001;Kahvila Aurinko\n", encoding="utf-8")
    monkeypatch.setattr(sql_reads, "_TUPLE_ROWS", 4)
    monkeypatch.setattr(sql_reads, "_PARALLEL_MIN_KEYS", 1)
    monkeypatch.setattr(sql_reads, "_PARALLEL_MIN_BLOCKS", 1)
    monkeypatch.setattr(postgres, "READERS", 3)
    refused: list[str] = []
    tried = threading.Event()
    real_connect, real_read_on = postgres.connect, postgres.PostgresRegister._read_on

    def connect(*args: object) -> object:
        if opened:
            tried.set()
        try:
            found = real_connect(*args)
        except RegisterError as exc:
            refused.append(exc.message)
            raise
        opened.append(found)
        return found

    def read_on(self: postgres.PostgresRegister, conn: object, *args: object) -> object:
        # The first read keeps the register's connection until another is asked for.
        if conn is self._conn:
            tried.wait(10)
        return real_read_on(self, conn, *args)

    opened: list[object] = []
    monkeypatch.setattr(postgres, "connect", connect)
    monkeypatch.setattr(postgres.PostgresRegister, "_read_on", read_on)
    result = run_cli("preview", source, "--db", url, "--plan", tmp_path / "p.plan", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["unchanged"] == len(NUMBERS) and result.json()["new"] == 1
    assert len(opened) == 1 and refused, "extra connections were asked for, and refused"
    assert all("too many connections for role" in message for message in refused)


def test_a_read_pool_that_can_open_no_connection_reads_on_the_one_lent_to_it():
    used: list[str] = []
    pool: ReadPool[str] = ReadPool(lambda: None, lambda conn, q, v: [(conn, v[0])],
                                   lambda conn: used.append(f"closed {conn}"), 3,
                                   lent=["main"])
    try:
        assert pool.map("q", [(n,) for n in range(20)], lambda rows: rows[0]) == \
               [("main", n) for n in range(20)]
    finally:
        pool.close()
    assert used == []  # a lent connection is its owner's to close
    lonely: ReadPool[str] = ReadPool(lambda: None, lambda conn, q, v: [], str, 2)
    with pytest.raises(RuntimeError, match="no connection to read on"):
        lonely.map("q", [(1,), (2,)], len)
    lonely.close()
