"""A run goes on past one bad drop: a file this user may not read nor move, a file that
vanishes while it is read or moved, a log that can't be written (the human lines are
still said), and two jobs racing for one file."""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path
from typing import Any

import pytest

import sync.jobs.runner as runner
import sync.jobs.sources as sources
import sync.pipeline as pipeline
from tests.conftest import run_cli
from tests.jobs_helpers import HEADER, drops_of, log_lines, names, write_job

SOURCE = 'folder = "drops"\nsettle_seconds = 0'


def outcomes(result: Any) -> list[tuple[str, str]]:
    """(file name, outcome) of each file of a run's --json summary."""
    return [(Path(f["file"]).name, f["outcome"]) for f in result.json()["files"]]


def another_users_file(monkeypatch: pytest.MonkeyPatch, drop: Path,
                       modules: tuple[Any, ...] = (pipeline, sources)) -> None:
    """Make `drop` as the job's user sees root's mode-600 file under the kernel's
    protected_hardlinks: opening it (in `modules`: by default the checksum's open and
    the copy's) fails with EACCES, a hard link to it with EPERM. (Tests run as root,
    whom permissions don't stop.)"""
    real_open, real_link = builtins.open, os.link

    def open_(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, Path)) and Path(file) == drop:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *args, **kwargs)

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(os.fsdecode(src)) == drop:
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), os.fsdecode(src),
                                  None, os.fsdecode(dst))
        real_link(src, dst, *args, **kwargs)

    for module in modules:
        monkeypatch.setattr(module, "open", open_, raising=False)
    monkeypatch.setattr(os, "link", link)


def test_another_users_unreadable_drop_fails_alone_and_stays_every_night(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: `chown root a1.csv; chmod 600 a1.csv`: the move to held/ fell back to a copy,
    # whose open() stopped the run (exit 2) before a2 and a3, every night.
    job = write_job(tmp_path, source=SOURCE)
    drops = drops_of(tmp_path, "a1", "a2", "a3")
    another_users_file(monkeypatch, drops / "a1.csv")
    first = run_cli("run", job, "--json")
    assert first.exit_code == 1, first.stderr
    assert outcomes(first) == [("a1.csv", "failed"), ("a2.csv", "committed"),
                               ("a3.csv", "committed")]
    record = first.json()["files"][0]
    held = tmp_path / "out" / "held"
    assert record["reason"] == (
        f"{drops / 'a1.csv'}: cannot be read (Permission denied); could not be moved to "
        f"{held} either: no hard link to it may be made (Operation not permitted) and this "
        "user may not read it to copy it (Permission denied); left in the drop folder, "
        "where each run finds it again until this user may read it or it is taken away")
    assert "moved_to" not in record and "note" not in record
    assert names(drops) == ["a1.csv"] and names(held) == []  # no copy, note or temp file
    assert "failed: " in first.stderr and "left in the drop folder" in first.stderr
    # The next night it fails alone again, and the run goes on.
    drops_of(tmp_path, "a4")
    second = run_cli("run", job, "--json")
    assert second.exit_code == 1, second.stderr
    assert outcomes(second) == [("a1.csv", "failed"), ("a4.csv", "committed")]
    assert names(drops) == ["a1.csv"] and names(held) == []
    assert [r["outcome"] for r in log_lines(tmp_path / "out" / "regsync.jsonl")] == [
        "failed", "committed", "committed", "failed", "committed"]


def test_a_committed_drop_that_then_cannot_be_moved_is_exit_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Read and committed, then neither linkable nor readable for its copy (its mode
    # changed meanwhile, say): the batch stands, but the drop stays in the folder,
    # where every run finds it again; the run's exit code must call someone.
    job = write_job(tmp_path, source=SOURCE)
    drops = drops_of(tmp_path, "a1")
    another_users_file(monkeypatch, drops / "a1.csv", modules=(sources,))  # the move's copy
    result = run_cli("run", job, "--json")
    assert outcomes(result) == [("a1.csv", "committed")]
    assert "left in the drop folder" in result.json()["files"][0]["reason"]
    assert result.exit_code == 1, result.stderr
    assert names(drops) == ["a1.csv"]


def vanishing(real: Any, drop: Path, arg: int = 0) -> Any:
    """`real`, made to remove `drop` first when its argument `arg` is `drop`: another
    process taking the file away at that moment."""
    def call(*args: Any, **kwargs: Any) -> Any:
        if Path(args[arg]) == drop and drop.exists():
            drop.unlink()
        return real(*args, **kwargs)
    return call


@pytest.mark.parametrize("where", ["checksum", "preview's reader", "preview's checksum"])
def test_a_drop_gone_while_it_is_read_is_left_and_the_run_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    # QA: two jobs on one folder; the other took b4.csv while this one's preview read
    # it: FileNotFoundError stopped the run ("stopped: ...b4.csv: No such file", exit 3
    # for the loser) and the files after it waited for the next night.
    import sync.readers as readers
    import sync.readers.detect as detect
    import sync.readers.encoding_signs as encoding_signs

    job = write_job(tmp_path, source=SOURCE)
    drops = drops_of(tmp_path, "a", "b", "c")
    drop = drops / "b.csv"
    if where == "checksum":
        monkeypatch.setattr(runner, "file_checksum", vanishing(runner.file_checksum, drop))
    elif where == "preview's reader":  # a second pass over the file opens it again
        for module in (readers, detect, encoding_signs):
            monkeypatch.setattr(module, "iter_chunks", vanishing(module.iter_chunks, drop))
    else:
        monkeypatch.setattr(pipeline, "file_checksum", vanishing(pipeline.file_checksum, drop))
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    assert outcomes(result) == [("a.csv", "committed"), ("b.csv", "left_incomplete"),
                                ("c.csv", "committed")]
    record = result.json()["files"][1]
    assert record["reason"] == "gone from the folder while it was read"
    assert record["batch"] is None and record["counts"] == {}
    assert names(tmp_path / "out" / "done") == ["a.csv", "c.csv"]
    assert names(tmp_path / "out" / "held") == []


@pytest.mark.parametrize("when", ["after its new name is made", "just before its unlink"])
def test_a_drop_gone_during_its_move_is_moved_and_the_run_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    # Taken away between the link into processed/ and the unlink: the new name holds
    # what was committed, perhaps as its only copy. It was removed (the check) or
    # stopped the run (the unlink).
    job = write_job(tmp_path, source=SOURCE)
    drops = drops_of(tmp_path, "a", "b", "c")
    drop, done = drops / "b.csv", tmp_path / "out" / "done"
    content = drop.read_bytes()
    if when == "after its new name is made":  # the move checks the new name's content
        real_checksum = pipeline.file_checksum

        def checksum(path: Path) -> str:
            if Path(path) == done / "b.csv" and drop.exists():
                drop.unlink()
            return real_checksum(path)

        monkeypatch.setattr(pipeline, "file_checksum", checksum)
    else:
        real_unlink = os.unlink

        def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
            if Path(os.fsdecode(path)) == drop and drop.exists():
                real_unlink(path)  # the other process was first
            real_unlink(path, *args, **kwargs)

        monkeypatch.setattr(os, "unlink", unlink)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 0, result.stderr
    assert outcomes(result) == [("a.csv", "committed"), ("b.csv", "committed"),
                                ("c.csv", "committed")]
    record = result.json()["files"][1]
    assert record["batch"] == 2 and record["moved_to"] == str(done / "b.csv")
    assert (done / "b.csv").read_bytes() == content
    assert names(drops) == []


def test_a_log_the_disk_cannot_take_still_has_each_files_line_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: a1 committed as batch 1 and moved, its log line refused by a full disk: stderr
    # (what cron mails) said only "stopped: ...qa.jsonl: No space left on device; 1
    # committed", never which file, nor its batch.
    job = write_job(tmp_path, source=SOURCE)
    drops = drops_of(tmp_path, "a1", "a2")
    log = tmp_path / "out" / "regsync.jsonl"

    def full(path: Path, record: dict[str, Any]) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(runner, "_append_log", full)
    result = run_cli("run", job)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"committed: {drops / 'a1.csv'}  batch 1; 1 new; -> {tmp_path / 'out/done/a1.csv'}",
        f"job nightly: stopped: {log}: No space left on device; 1 committed; exit 2"]
    assert names(drops) == ["a2.csv"]


def test_a_full_disk_that_takes_neither_the_report_nor_the_log_is_still_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The disk fills before the first file's report is staged, and the log can't take
    # the stop's line either: still the full disk's exit 2 and one summary (a second
    # error while recording the stop must not turn it into an internal error, exit 70).
    job = write_job(tmp_path, source=SOURCE)
    drops = drops_of(tmp_path, "a")

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                      str(tmp_path / "out" / "reports" / "a.report.csv"))

    monkeypatch.setattr(runner, "stage_new", full)
    monkeypatch.setattr(runner, "_append_log", full)
    result = run_cli("run", job, "--json")
    assert result.exit_code == 2, result.stderr
    assert outcomes(result) == [("a.csv", "failed")]
    assert result.json()["error"].endswith("a.report.csv: No space left on device")
    assert names(drops) == ["a.csv"] and not (tmp_path / "r.db").exists()


def test_a_stop_after_a_commit_says_the_batch_that_stands_on_stderr(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The report could not be put in place after a1's commit: the log and --json named batch
    # 1 as standing, stderr only the full disk.
    job = write_job(tmp_path, source=SOURCE)
    drops_of(tmp_path, "a1")
    report = tmp_path / "out" / "reports" / "a1.report.csv"

    def full(folder: Path, name: str, staged: Path) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / name))

    monkeypatch.setattr(runner, "claim_staged", full)
    result = run_cli("run", job)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"failed: {tmp_path / 'drops/a1.csv'}  batch 1; {report}: No space left on device "
        "(after its commit as batch 1, which stands)")


@pytest.mark.parametrize("moment", ["during its preview", "before its commit"])
@pytest.mark.parametrize("other", ["job", "import"])
def test_a_file_another_job_commits_meanwhile_is_committed_once_and_said_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str, other: str) -> None:
    # Two jobs on one folder and register (QA, SQLite): the loser was `failed`, exit 3,
    # "the register changed while the preview read it", or `left_incomplete` carrying
    # the winner's batch and counts. The other is a copy of the job file (which moves
    # the file away) or an import of a copy of the file (which leaves it).
    job = write_job(tmp_path, source=SOURCE)
    assert run_cli("init", "--db", tmp_path / "r.db").exit_code == 0  # its version moves
    drops = drops_of(tmp_path, "a")
    (tmp_path / "copy.csv").write_bytes((drops / "a.csv").read_bytes())
    by_hand = tmp_path / "by-hand.toml"
    by_hand.write_text(job.read_text().replace('name = "nightly"', 'name = "by-hand"')
                       .replace('"out/', '"out2/'))
    command = (("run", by_hand) if other == "job"
               else ("import", tmp_path / "copy.csv", "--db", tmp_path / "r.db", "--yes"))
    ran: list[int] = []

    def other_first(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if not ran:  # once: the other's own preview and commit go through as they are
                ran.append(-1)
                ran[0] = run_cli(*command).exit_code
            return real(*args, **kwargs)
        return call

    if moment == "during its preview":  # the file read, its rows not yet matched
        monkeypatch.setattr(pipeline, "_plan", other_first(pipeline._plan))
    else:
        monkeypatch.setattr(runner, "commit", other_first(runner.commit))
    result = run_cli("run", job, "--json")
    assert ran == [0]
    assert result.exit_code == 0, result.stderr
    [record] = result.json()["files"]
    if other == "job":  # moved away by the other job: nothing of it was done here
        assert record["outcome"] == "left_incomplete"
        assert record["reason"] == ("gone from the folder after it was read (already "
                                    "committed as batch 1)")
        assert record["batch"] is None and record["counts"] == {}
        assert names(tmp_path / "out2" / "done") == ["a.csv"]
    else:
        assert record["outcome"] == "skipped_duplicate" and record["batch"] == 1
        assert record["reason"] == "already committed as batch 1"
        assert names(tmp_path / "out" / "done") == ["a.csv"]
    assert names(drops) == [] and names(tmp_path / "out" / "held") == []
    listed = run_cli("batches", "--db", tmp_path / "r.db", "--json")
    assert [b["id"] for b in listed.json()["batches"]] == [1]


def test_a_preview_made_stale_by_another_files_commit_still_waits_for_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only a commit of this very content makes the file a duplicate: another file's
    # commit landing during the preview leaves it failed (exit 3) for the next run.
    job = write_job(tmp_path, source=SOURCE)
    db = tmp_path / "r.db"
    assert run_cli("init", "--db", db).exit_code == 0
    drops = drops_of(tmp_path, "a")
    other = tmp_path / "other.csv"
    other.write_text(HEADER + "7001;Muu Oy;Kemi\n")
    real_plan = pipeline._plan

    def other_first(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(pipeline, "_plan", real_plan)  # once
        assert run_cli("import", other, "--db", db, "--yes").exit_code == 0
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_plan", other_first)
    stale = run_cli("run", job, "--json")
    assert stale.exit_code == 3, stale.stderr
    [record] = stale.json()["files"]
    assert record["outcome"] == "failed" and record["batch"] is None
    assert record["reason"].startswith("the register changed while the preview read it")
    assert record["reason"].endswith("(left for the next run)")
    assert names(drops) == ["a.csv"]
    again = run_cli("run", job, "--json")
    assert again.exit_code == 0 and outcomes(again) == [("a.csv", "committed")]
