"""A name block shared by more customers than the possible-duplicate scan reads
(MAX_BLOCK) stores only FULL_BLOCK of them: enough for the scan to see it is too common.
A full block stays full; every block that is not full holds exactly its customers."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from sync.namekey import FULL_BLOCK, MAX_BLOCK
from tests.conftest import load_register, run_cli, set_schema_version, write_csv
from tests.test_name_blocks import expected_blocks, flag, stored_blocks


def assert_blocks_hold_their_customers(db: str) -> dict[str, int]:
    """Every block with fewer than FULL_BLOCK stored rows holds exactly the customers
    whose current name has it (a full block may hold more, or stale rows). Returns the
    stored rows per block."""
    stored: dict[str, set] = defaultdict(set)
    for row in stored_blocks(db):
        stored[row[0]].add(row)
    expected: dict[str, set] = defaultdict(set)
    for row in expected_blocks(db):
        expected[row[0]].add(row)
    for block in set(stored) | set(expected):
        if len(stored[block]) < FULL_BLOCK:
            assert stored[block] == expected[block], block
    return {block: len(rows) for block, rows in stored.items()}


def companies(numbers: range, word: str = "Firma") -> str:
    """A register CSV of companies `{word}{n} Oy`: each has a block of its own
    (`firma7`), and all share `oy` and the prefix `firm`."""
    return "customer_number;customer_type;name\n" + "".join(
        f"{n};company;{word}{n} Oy\n" for n in numbers)


def import_csv(db: str, tmp_path: Path, name: str, text: str) -> dict:
    result = run_cli("import", write_csv(tmp_path / name, text), "--db", db, "--yes",
                     "--json")
    assert result.exit_code == 0, result.stderr
    return result.json()


def test_a_common_block_stores_no_more_members_than_make_it_full(register_url, tmp_path):
    load_register(register_url, companies(range(1, MAX_BLOCK + 200)), tmp_path)
    sizes = assert_blocks_hold_their_customers(register_url)
    assert sizes["oy"] == sizes["firm"] == FULL_BLOCK
    assert sizes["firma7"] == 1
    # A rare block still pairs: the typo is found through `firma7`, not `oy`.
    assert flag(register_url, tmp_path, "Firma7 Ab") == "7"


def test_a_block_filled_over_several_commits_stops_at_full(register_url, tmp_path):
    load_register(register_url, companies(range(1, MAX_BLOCK - 9)), tmp_path)
    assert assert_blocks_hold_their_customers(register_url)["oy"] == MAX_BLOCK - 10
    import_csv(register_url, tmp_path, "more.csv", companies(range(5000, 5030)))
    assert assert_blocks_hold_their_customers(register_url)["oy"] == FULL_BLOCK


def test_members_leaving_and_joining_in_one_commit_make_a_block_full(register_url,
                                                                     tmp_path):
    """A block of MAX_BLOCK customers loses 5 (renamed) and gains 6 (new) in one commit:
    it has FULL_BLOCK customers, so it must be full, not 996 rows looking complete."""
    load_register(register_url, companies(range(1, MAX_BLOCK + 1)), tmp_path)
    assert assert_blocks_hold_their_customers(register_url)["oy"] == MAX_BLOCK
    renamed = "".join(f"{n};company;Leipomo{n} Ab\n" for n in range(1, 6))
    added = "".join(f"{n};company;Firma{n} Oy\n" for n in range(7000, 7006))
    counts = import_csv(register_url, tmp_path, "both.csv",
                        "customer_number;customer_type;name\n" + renamed + added)
    assert (counts["new"], counts["modified"]) == (6, 5)
    assert assert_blocks_hold_their_customers(register_url)["oy"] >= FULL_BLOCK


def test_a_full_block_stays_full_and_a_reverted_load_can_be_loaded_again(register_url,
                                                                         tmp_path):
    load_register(register_url, "customer_number;customer_type;name\n1;company;Alku Oy\n",
                  tmp_path)
    text = companies(range(100, 100 + MAX_BLOCK + 100))
    batch = import_csv(register_url, tmp_path, "load.csv", text)["batch"]
    # Renaming members out of a full block leaves it full: its stored rows stay.
    import_csv(register_url, tmp_path, "rename.csv", "customer_number;name\n" + "".join(
        f"{n};Leipomo{n} Ab\n" for n in range(100, 400)))
    assert assert_blocks_hold_their_customers(register_url)["oy"] >= FULL_BLOCK
    assert run_cli("revert", str(batch + 1), "--db", register_url).exit_code == 0
    assert run_cli("revert", str(batch), "--db", register_url).exit_code == 0
    sizes = assert_blocks_hold_their_customers(register_url)
    assert sizes["oy"] >= FULL_BLOCK  # one customer left, but the block stays full
    assert "firma150" not in sizes and sizes["alku"] == 1
    # The same numbers again: no row of the full blocks, left over from the reverted
    # customers, may meet the new ones' (PostgreSQL inserts them without a check).
    again = import_csv(register_url, tmp_path, "load.csv", text)
    assert again["new"] == MAX_BLOCK + 100
    sizes = assert_blocks_hold_their_customers(register_url)
    assert sizes["firma150"] == 1
    stored = Counter(number for block, number, _ in stored_blocks(register_url)
                     if block == "oy")
    assert set(stored.values()) == {1}


def test_a_first_load_in_parts_fills_blocks_without_asking_their_sizes(
        register_url, tmp_path, monkeypatch):
    """Into a register with no blocks, a commit counts what it writes itself: parts of
    300 rows still fill `oy` to exactly FULL_BLOCK, and no block size is read."""
    import sync.commit_rows
    from sync.writers.register.sql_reads import SQLReads

    asked: list[int] = []
    original = SQLReads.block_sizes

    def counting(self, blocks, cap):
        asked.append(len(blocks))
        return original(self, blocks, cap)

    monkeypatch.setattr(sync.commit_rows, "PART_ROWS", 300)
    monkeypatch.setattr(SQLReads, "block_sizes", counting)
    load_register(register_url, companies(range(1, MAX_BLOCK + 200)), tmp_path)
    assert asked == []
    sizes = assert_blocks_hold_their_customers(register_url)
    assert sizes["oy"] == sizes["firm"] == FULL_BLOCK
    # The next commit finds blocks there, so it asks.
    import_csv(register_url, tmp_path, "more.csv", companies(range(5000, 5010)))
    assert asked != []
    assert assert_blocks_hold_their_customers(register_url)["oy"] == FULL_BLOCK


def test_migrating_an_old_register_fills_blocks_only_up_to_full(register_url, tmp_path,
                                                                monkeypatch):
    from sync.writers.register.sql import SQLRegister
    from tests.test_name_blocks import _make_version_1

    load_register(register_url, companies(range(1, MAX_BLOCK + 200)), tmp_path)
    _make_version_1(register_url)
    fill = SQLRegister._fill_blocks
    monkeypatch.setattr(SQLRegister, "_fill_blocks",
                        lambda self, **kw: fill(self, chunk_rows=300, **kw))  # 4 chunks
    assert run_cli("migrate", "--db", register_url).exit_code == 0
    sizes = assert_blocks_hold_their_customers(register_url)
    assert sizes["oy"] == sizes["firm"] == FULL_BLOCK


def test_renamed_and_restored_customers_join_a_block_only_while_it_has_room(
        register_url, tmp_path):
    firms = companies(range(1, 901))
    cafes = "".join(f"{n};company;Kahvila{n} Ab\n" for n in range(2000, 2500))
    load_register(register_url, firms + cafes.replace("customer_number;", ""), tmp_path)
    # 500 customers renamed into `oy` (900 members): it fills up and stops there.
    rename = import_csv(register_url, tmp_path, "rename.csv", "customer_number;name\n" + "".join(
        f"{n};Kahvila{n} Oy\n" for n in range(2000, 2500)))
    assert assert_blocks_hold_their_customers(register_url)["oy"] == FULL_BLOCK
    # `ab` is empty now; 900 new members, then the revert brings 500 back: room for 101.
    import_csv(register_url, tmp_path, "bakeries.csv", "customer_number;name\n" + "".join(
        f"{n};Leipomo{n} Ab\n" for n in range(3000, 3900)))
    assert run_cli("revert", str(rename["batch"]), "--db", register_url).exit_code == 0
    sizes = assert_blocks_hold_their_customers(register_url)
    assert sizes["ab"] == FULL_BLOCK


def test_a_new_name_of_a_member_a_full_block_does_not_store_adds_no_row(register_url,
                                                                       tmp_path):
    load_register(register_url, companies(range(1, MAX_BLOCK + 100)), tmp_path)
    stored = {number for block, number, _ in stored_blocks(register_url) if block == "oy"}
    left_out = next(str(n) for n in range(1, MAX_BLOCK + 100) if str(n) not in stored)
    # The same words, another spelling: `oy` is among the blocks whose name changes.
    import_csv(register_url, tmp_path, "case.csv",
               f"customer_number;name\n{left_out};FIRMA{left_out} OY\n")
    assert assert_blocks_hold_their_customers(register_url)["oy"] == FULL_BLOCK


def test_a_version_3_register_is_refused_until_migrated(register_url, tmp_path):
    """Version 4 marks registers with full blocks: a regsync of version 3 would delete
    rows of a full block, or insert over the rows it keeps, so the versions differ."""

    load_register(register_url, companies(range(1, 20)), tmp_path)
    before = stored_blocks(register_url)
    set_schema_version(register_url, "3")
    source = write_csv(tmp_path / "probe.csv", "name\nFirma7 Ab\n")
    refused = run_cli("preview", source, "--db", register_url, "--json")
    assert refused.exit_code == 2 and "regsync migrate" in refused.json()["error"]
    migrated = run_cli("migrate", "--db", register_url, "--json")
    assert migrated.exit_code == 0, migrated.stderr
    assert (migrated.json()["from_version"], migrated.json()["schema_version"]) == (3, 4)
    assert stored_blocks(register_url) == before
    assert flag(register_url, tmp_path, "Firma7 Ab") == "7"


def test_rebuild_blocks_counts_a_block_again_once_customers_left_it(register_url, tmp_path):
    from tests.conftest import customers

    load_register(register_url, companies(range(1, MAX_BLOCK + 100)), tmp_path)
    import_csv(register_url, tmp_path, "rename.csv", "customer_number;name\n" + "".join(
        f"{n};Leipomo{n} Ab\n" for n in range(1, MAX_BLOCK)))
    assert assert_blocks_hold_their_customers(register_url)["oy"] == FULL_BLOCK  # stale
    before = customers(register_url)

    rebuilt = run_cli("rebuild-blocks", "--db", register_url, "--json")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert set(stored_blocks(register_url)) == set(expected_blocks(register_url))
    sizes = Counter(block for block, _, _ in stored_blocks(register_url))
    assert (sizes["oy"], sizes["ab"]) == (100, MAX_BLOCK - 1)
    assert rebuilt.json()["block_rows"] == sum(sizes.values())
    assert customers(register_url) == before


def test_rebuild_blocks_cuts_blocks_an_older_regsync_stored_whole(register_url, tmp_path):
    from sync.writers.register import open_register

    load_register(register_url, companies(range(1, MAX_BLOCK + 100)), tmp_path)
    register = open_register(register_url, create=True)
    try:  # what a regsync before version 4 kept: every member of `oy`
        with register._transaction():
            register._executemany(
                f"INSERT INTO {register._t('name_blocks')} (block, customer_number, name) "
                f"VALUES (?, ?, ?) ON CONFLICT (block, customer_number) DO NOTHING",
                [("oy", str(n), f"Firma{n} Oy") for n in range(1, MAX_BLOCK + 100)])
    finally:
        register.close()
    assert assert_blocks_hold_their_customers(register_url)["oy"] == MAX_BLOCK + 99
    rebuilt = run_cli("rebuild-blocks", "--db", register_url, "--json")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert rebuilt.json()["block_rows"] == rebuilt.json()["block_rows_before"] - 98
    assert assert_blocks_hold_their_customers(register_url)["oy"] == FULL_BLOCK


def test_rebuild_blocks_needs_a_register(tmp_path):
    result = run_cli("rebuild-blocks", "--db", tmp_path / "none.db", "--json")
    assert result.exit_code == 2
    assert "no register here yet" in result.json()["error"]
