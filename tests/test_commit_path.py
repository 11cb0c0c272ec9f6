"""The commit path: plan integrity across the checksum change, and what it imports."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from sync.plan import Plan, file_checksum, legacy_plan_checksum
from tests.conftest import FIXTURES, customers, run_cli, run_python

REGISTER = FIXTURES / "demo" / "register.csv"
SOURCE = FIXTURES / "demo" / "asiakkaat.csv"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "register.db"
    assert run_cli("import", REGISTER, "--db", path, "--yes").exit_code == 0
    return path


def _rewrite(plan_path: Path, rows: pl.DataFrame, header: dict) -> None:
    table = rows.to_arrow().replace_schema_metadata(
        {b"regsync.plan": json.dumps(header).encode()})
    pq.write_table(table, plan_path)


def test_a_plan_saved_with_the_earlier_checksum_still_commits(db: Path, tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    header = dataclasses.asdict(plan.header)
    header["checksum"] = legacy_plan_checksum(plan.header, plan.rows)
    _rewrite(plan_path, plan.rows, header)
    result = run_cli("commit", plan_path, "--db", db, "--json")
    assert result.exit_code == 1 and result.json()["batch"] == 2
    assert "2001" in customers(db)


def test_a_plan_from_before_plans_recorded_the_registers_history_is_refused(
        db: Path, tmp_path: Path):
    # QA (upgrades): such a plan skipped the checks that a restored copy of the register,
    # or another place, does not take it; committed to a diverged copy it wrote history
    # with wrong old values, and a revert then wrote the other copy's value back.
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    old = dataclasses.replace(plan.header, register_history=None)
    header = dataclasses.asdict(old)
    header["checksum"] = legacy_plan_checksum(old, plan.rows)
    _rewrite(plan_path, plan.rows, header)
    before = db.read_bytes()
    result = run_cli("commit", plan_path, "--db", db, "--json")
    assert result.exit_code == 3, result.stdout
    assert result.json()["error"] == ("this plan was made by an older regsync, which did "
                                      "not record what the commit checks; run preview again")
    assert db.read_bytes() == before


def test_a_plan_edited_after_the_earlier_checksum_is_refused(db: Path, tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    header = dataclasses.asdict(plan.header)
    header["checksum"] = legacy_plan_checksum(plan.header, plan.rows)
    edited = plan.rows.with_columns(
        pl.when(pl.col("row") == 6).then(pl.lit("Mallory")).otherwise(pl.col("new.name"))
        .alias("new.name"))
    _rewrite(plan_path, edited, header)
    result = run_cli("commit", plan_path, "--db", db)
    assert result.exit_code == 2 and "changed after preview" in result.stderr
    assert "2001" not in customers(db)


def test_a_plan_written_again_with_the_same_values_is_refused(db: Path, tmp_path: Path):
    # The checksum is over the file's bytes: re-encoding the plan (same values, same
    # header) is a change too. Only preview writes plans.
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    _rewrite(plan_path, plan.rows, dataclasses.asdict(plan.header))
    result = run_cli("commit", plan_path, "--db", db)
    assert result.exit_code == 2 and "changed after preview" in result.stderr


def test_any_byte_of_a_plan_changed_is_refused(db: Path, tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    original = plan_path.read_bytes()
    assert Plan.load(plan_path).header.checksum == file_checksum(
        plan_path, Plan.load(plan_path).header.checksum)
    for at in range(4, len(original) - 8, max(1, len(original) // 97)):
        changed = bytearray(original)
        changed[at] ^= 0x01
        plan_path.write_bytes(bytes(changed))
        result = run_cli("commit", plan_path, "--db", db)
        assert result.exit_code == 2, (at, result.stderr)
    assert "2001" not in customers(db)
    plan_path.write_bytes(original)
    assert run_cli("commit", plan_path, "--db", db).exit_code == 1
    assert "2001" in customers(db)


def _page_offsets(plan_path: Path) -> list[int]:
    meta = pq.read_metadata(plan_path)
    offsets = []
    for group in range(meta.num_row_groups):
        for column in range(meta.num_columns):
            chunk = meta.row_group(group).column(column)
            offsets += [chunk.data_page_offset]
            if chunk.dictionary_page_offset:
                offsets += [chunk.dictionary_page_offset]
    return offsets


def test_a_damaged_plan_is_a_one_line_error_never_a_crash(db: Path, tmp_path: Path):
    # polars 2 aborts the whole process on some damaged Parquet pages (and prints a
    # panic on some damaged footers). Damage to the page headers and across the file
    # must still be the one-line "changed" error, with nothing else on stderr.
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    size = plan_path.stat().st_size
    targets = sorted({at + k for at in _page_offsets(plan_path) for k in range(8)}
                     | set(range(4, size - 8, 97)))
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sync.plan import Plan, PlanError\n"
        f"plan, damaged = Path({str(plan_path)!r}), Path({str(tmp_path / 'd.plan')!r})\n"
        "original = plan.read_bytes()\n"
        # Each target byte flipped one of two ways in turn (both ways: 10 s of the suite).
        f"for index, at in enumerate({targets!r}):\n"
        "    flip = (0x01, 0xFF)[index % 2]\n"
        "    data = bytearray(original)\n"
        "    data[at] ^= flip\n"
        "    damaged.write_bytes(bytes(data))\n"
        "    try:\n"
        "        Plan.load(damaged)\n"
        "    except PlanError as exc:\n"
        "        assert len(str(exc).splitlines()) == 1, (at, flip, str(exc))\n"
        "    else:\n"
        "        raise SystemExit(f'byte {at} ^ {flip}: the damaged plan loaded')\n"
        "print('checked', len(original))\n")
    done = run_python(probe)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("checked") and done.stderr == ""


def test_commit_imports_none_of_the_preview_stages(db: Path, tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    probe = (
        "import sys\n"
        "from sync.cli import main\n"
        f"sys.argv = ['regsync', 'commit', {str(plan_path)!r}, '--db', {str(db)!r}]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    heavy = ['pyarrow', 'pandas', 'phonenumbers', 'babel', 'stdnum', 'rapidfuzz',\n"
        "             'sync.readers', 'sync.normalise', 'sync.matchers', 'sync.pipeline',\n"
        "             'sync.export', 'psycopg']\n"
        "    print([m for m in heavy if m in sys.modules], file=sys.stderr)\n")
    done = run_python(probe)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_customers_with_different_changed_fields_each_get_exactly_their_changes(
        register_url: str, tmp_path: Path):
    # One UPDATE per combination of changed columns: an indexed column (business_id,
    # name -> name_key), plain ones, a group and several at once, side by side.
    assert run_cli("import", REGISTER, "--db", register_url, "--yes").exit_code == 0
    before = customers(register_url)
    source = tmp_path / "changes.csv"
    source.write_text(
        "customer_number;name;business_id;city;customer_group;email\n"
        "1001;Kahvila Aurinko Oy;1234567-1;;;\n"            # business_id only
        "1002;Matti Virtanen-Laine;;Tampere;;\n"            # name only (city unchanged)
        "1003;;;Espoo;Uudet;\n"                             # city and a new group
        "1004;Rakennus Kivi Oyj;;Kemi;Oulu;uusi@kivi.example\n",  # several at once
        encoding="utf-8")
    result = run_cli("import", source, "--db", register_url, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["modified"] == 4
    after = customers(register_url)
    expected = {
        "1001": {"business_id": "1234567-1"},
        "1002": {"name": "Matti Virtanen-Laine", "name_key": "matti virtanen-laine"},
        "1003": {"city": "Espoo", "customer_group": "Uudet"},
        "1004": {"name": "Rakennus Kivi Oyj", "name_key": "rakennus kivi oyj",
                 "city": "Kemi", "email": "uusi@kivi.example"},
    }
    for number, changes in expected.items():
        changed = {k: v for k, v in after[number].items()
                   if v != before[number][k] and k not in ("updated_batch", "group_id")}
        assert changed == changes, number
    # The indexes agree with the rows: the changed keys match again, as No change.
    again = run_cli("preview", source, "--db", register_url, "--plan", tmp_path / "a.plan",
                    "--json")
    assert again.json()["unchanged"] == 4


@pytest.mark.parametrize("chunk", [7, 64, 1000, 1 << 20])
def test_the_file_checksum_does_not_depend_on_the_read_size(db: Path, tmp_path: Path,
                                                            chunk: int, monkeypatch):
    # The checksum field is read as zeros even where it straddles two reads.
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    recorded = Plan.load(plan_path).header.checksum
    monkeypatch.setattr("sync.plan._READ_CHUNK", chunk)
    assert file_checksum(plan_path, recorded) == recorded


def test_a_plan_saved_a_few_rows_at_a_time_loads_equal_and_commits(db: Path, tmp_path: Path,
                                                                   monkeypatch):
    # Large plans are written in row groups of _SAVE_ROWS rows: the file must read
    # back as the same plan.
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    whole = Plan.load(plan_path)
    monkeypatch.setattr("sync.plan._SAVE_ROWS", 2)
    sliced_path = tmp_path / "sliced.plan"
    Plan(header=whole.header, rows=whole.rows).save(sliced_path)
    assert pq.ParquetFile(sliced_path).num_row_groups == -(-whole.rows.height // 2) > 1
    again = Plan.load(sliced_path)
    assert again.rows.equals(whole.rows)
    assert again.header.checksum == file_checksum(sliced_path, again.header.checksum)
    assert not list(tmp_path.glob("*.tmp"))
    assert run_cli("commit", sliced_path, "--db", db).exit_code == 1
    assert "2001" in customers(db)


def test_a_save_that_fails_midway_leaves_the_old_plan_and_no_temp_file(db: Path,
                                                                      tmp_path: Path,
                                                                      monkeypatch):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    before = plan_path.read_bytes()
    plan = Plan.load(plan_path)

    def failing(self, file, *args, **kwargs):
        # The disk fills up after the first bytes of the new plan are down.
        Path(file).write_bytes(b"PAR1" + b"\0" * 100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", failing)
    with pytest.raises(OSError):
        plan.save(plan_path)
    assert plan_path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _checksum_before_similarity_matching(header: dict, rows: pl.DataFrame) -> str:
    """The legacy checksum as regsync computed it when plan headers had no
    fuzzy_match_threshold field (the legacy format is frozen: plans on disk carry it)."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(json.dumps({k: v for k, v in header.items() if k != "checksum"},
                             sort_keys=True).encode())
    digest.update(json.dumps(rows.columns).encode())
    marked = rows.with_columns(pl.all().cast(pl.String).fill_null("\x00"))
    for start in range(0, rows.height, 200_000):
        digest.update(marked.slice(start, 200_000).write_csv(include_header=False).encode())
    return digest.hexdigest()


def test_a_legacy_plan_from_before_the_similarity_field_still_commits(db: Path,
                                                                      tmp_path: Path):
    plan_path = tmp_path / "p.plan"
    run_cli("preview", SOURCE, "--db", db, "--plan", plan_path)
    plan = Plan.load(plan_path)
    header = dataclasses.asdict(plan.header)
    del header["fuzzy_match_threshold"]
    header["checksum"] = _checksum_before_similarity_matching(header, plan.rows)
    _rewrite(plan_path, plan.rows, header)
    result = run_cli("commit", plan_path, "--db", db, "--json")
    assert result.exit_code == 1 and result.json()["batch"] == 2


def test_a_cell_that_looks_like_the_plan_checksum_does_not_make_the_plan_stale(
        db: Path, tmp_path: Path, monkeypatch):
    # The checksum is found in the plan file's footer before anything is decoded. Column
    # statistics can put cell values in the footer too (how much of them depends on the
    # Parquet writer); text of the same form, ahead of the header, must not hide the
    # real checksum.
    lookalike = f'"checksum": "{"a" * 64}"'
    source = tmp_path / "s.csv"
    source.write_text('customer_number;name;notes\n2001;Uusi Asiakas Oy;"'
                      + lookalike.replace('"', '""') + '"\n', encoding="utf-8")
    write_parquet = pl.DataFrame.write_parquet

    def with_lookalike(self, file, *args, metadata=None, **kwargs):
        return write_parquet(self, file, *args, metadata={"a": lookalike, **metadata},
                             **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", with_lookalike)
    plan_path = tmp_path / "p.plan"
    assert run_cli("preview", source, "--db", db, "--plan", plan_path).exit_code == 0
    raw = plan_path.read_bytes()
    assert raw.find(lookalike.encode()) < raw.find(b'"checksum": "', raw.find(
        lookalike.encode()) + 1) and raw.count(lookalike.encode()) >= 1
    result = run_cli("commit", plan_path, "--db", db)
    assert result.exit_code == 0, result.stderr
    assert "2001" in customers(db)


def test_a_plan_made_by_a_newer_regsync_is_named_so(db: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    # Review: a plan header with a field this regsync does not know was "damaged".
    import dataclasses

    import sync.plan as plan_module

    def newer(header: object) -> dict[str, object]:
        return {**dataclasses.asdict(header), "sharding": {"parts": 2}}  # type: ignore[call-overload]

    monkeypatch.setattr(plan_module, "asdict", newer)
    plan_path = tmp_path / "p.plan"
    assert run_cli("preview", SOURCE, "--db", db, "--plan", plan_path).exit_code == 1
    monkeypatch.undo()
    refused = run_cli("commit", plan_path, "--db", db, "--json")
    assert refused.exit_code == 2, refused.stderr
    assert refused.json()["error"] == (
        f"{plan_path}: made by a newer regsync (its header has sharding); commit it with "
        "that version, or preview the file again with this one")
