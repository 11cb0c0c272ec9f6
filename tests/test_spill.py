"""Spill.put: a frame comes back equal (values, types, order), whatever it holds."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.spill import Spill, in_memory_filesystem

TEXT = st.one_of(st.none(), st.text(max_size=40),
                 st.text(alphabet="ab\x00\n;\"é\U0001F600", min_size=12, max_size=200))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(TEXT, st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
                          st.one_of(st.none(), st.booleans()),
                          st.one_of(st.none(), st.floats(allow_nan=False))),
                max_size=60),
       st.integers(1, 7))
def test_a_spilled_frame_is_the_same_frame(rows: list[tuple], pieces: int) -> None:
    frame = pl.DataFrame(rows, schema={"t": pl.String, "i": pl.Int64, "b": pl.Boolean,
                                       "f": pl.Float64}, orient="row").with_columns(
        pl.lit(None, pl.String).alias("empty"))
    # A frame in several chunks, as the preview's slices are.
    step = max(1, frame.height // pieces)
    chunked = pl.concat([frame.slice(i, step) for i in range(0, max(frame.height, 1), step)],
                        rechunk=False)
    spill = Spill()
    try:
        back = spill.put(chunked)
        assert back.schema == frame.schema
        assert back.equals(frame)
        # Mapped unless the temporary folder is in memory (then the frame is kept).
        assert spill.on_heap == in_memory_filesystem(Path(tempfile.gettempdir()))
        if not spill.on_heap:
            assert set(back.n_chunks("all")) == {1}  # aligned: never copied back by polars
    finally:
        spill.close()


def test_the_filesystem_of_a_path_is_told_by_its_longest_mount_point(tmp_path: Path) -> None:
    mounts = Path("/proc/mounts")
    if not mounts.exists():  # not Linux: nothing is taken for memory
        assert not in_memory_filesystem(tmp_path)
        return
    kinds = {line.split()[1]: line.split()[2] for line in mounts.read_text().splitlines()}
    assert in_memory_filesystem(Path("/")) == (kinds.get("/") in {"tmpfs", "ramfs"})
    if "/dev/shm" in kinds:
        assert in_memory_filesystem(Path("/dev/shm")) == (kinds["/dev/shm"] == "tmpfs")
        # A sibling whose name starts alike is not inside it.
        assert in_memory_filesystem(Path("/dev/shmx")) == in_memory_filesystem(Path("/dev"))


def test_folders_of_killed_previews_are_removed_and_nothing_else(tmp_path: Path,
                                                                 monkeypatch) -> None:
    # A preview killed with SIGKILL can't remove its spill folder; the next preview that
    # spills removes such folders once they are a day old, and only ones holding nothing
    # but a spill's own frame files.
    import os
    import time

    from sync import spill as spill_module

    old = time.time() - spill_module.ABANDONED_AFTER_S - 60
    killed = tmp_path / "regsync-spill-k1ll3d00"
    killed.mkdir()
    (killed / "3.arrow").write_bytes(b"half written")
    running = tmp_path / "regsync-spill-runn1ng0"  # another preview, still spilling
    running.mkdir()
    foreign = tmp_path / "regsync-spill-n0t0urs0"  # someone else's file in it
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    other = tmp_path / "regsync-backup"  # not a spill folder at all
    other.mkdir()
    for folder in (killed, foreign, other):
        os.utime(folder, (old, old))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spill = Spill()
    try:
        spill.put(pl.DataFrame({"a": ["x"]}))
        assert not killed.exists()
        assert running.is_dir() and (foreign / "notes.txt").exists() and other.is_dir()
    finally:
        spill.close()
