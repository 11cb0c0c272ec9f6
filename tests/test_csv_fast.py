"""The CSV fast path (Arrow's parser) reads every file exactly as the csv-module reader.

Generated files mix what breaks CSV readers: quoted delimiters, quotes and line breaks
(LF, CRLF, CR), blank lines, whitespace-only rows, trailing delimiters, ragged rows,
BOM, a `sep=` line, single-byte encodings and UTF-16. Whatever the fast path reads must
equal the exact reader's table; what it does not read it must give back (None).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from sync.errors import SourceError
from sync.readers import csv as csv_reader
from sync.readers import csv_fast
from sync.readers.csv import read_csv

_CELL = st.text(st.sampled_from(list('ab ;,"\n\r\t\'=x0Ää€')), max_size=6) | st.sampled_from(
    ["", " ", "1001", "Aho", '="00100"', "'=1", "a;b", 'say "hi"', "two\nlines", "cr\rlf"])
_NEWLINE = st.sampled_from(["\n", "\r\n", "\r"])


def _quote(cell: str, sep: str, always: bool) -> str:
    if always or any(ch in cell for ch in f'{sep}"\n\r') or cell != cell.strip():
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def _files(draw: st.DrawFn) -> tuple[bytes, str]:
    sep = draw(st.sampled_from([";", ",", "\t", "|"]))
    width = draw(st.integers(1, 4))
    header = [f"h{i}" for i in range(width)]
    trailing = draw(st.booleans())
    lines = [sep.join(header) + (sep if trailing else "")]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["row", "row", "row", "blank", "spaces", "ragged"]))
        if kind == "blank":
            lines.append("")
        elif kind == "spaces":
            lines.append(" " * draw(st.integers(1, 3)))
        else:
            count = width + draw(st.sampled_from([-1, 1, 2])) if kind == "ragged" else width
            cells = [_quote(draw(_CELL), sep, draw(st.booleans())) for _ in range(max(count, 0))]
            lines.append(sep.join(cells) + (sep if trailing and draw(st.booleans()) else ""))
    newline = draw(_NEWLINE)
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    if draw(st.booleans()):
        text = f"sep={sep}{newline}{text}"
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return text.encode(encoding), sep


def _read(path: Path, sep: str, *, fast: bool) -> object:
    saved = csv_reader.read_fast
    if not fast:
        csv_reader.read_fast = lambda *args: None  # type: ignore[assignment]
    try:
        table = read_csv(path, delimiter=sep)
    except SourceError as exc:
        return exc.message
    finally:
        csv_reader.read_fast = saved
    return table


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_files())
def test_fast_path_reads_like_the_exact_reader(case: tuple[bytes, str]) -> None:
    data, sep = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "source.csv"
        path.write_bytes(data)
        exact, fast = _read(path, sep, fast=False), _read(path, sep, fast=True)
    if isinstance(exact, str) or isinstance(fast, str):
        assert exact == fast
        return
    assert fast.headers == exact.headers  # type: ignore[attr-defined]
    assert fast.ragged == exact.ragged  # type: ignore[attr-defined]
    assert fast.skipped == exact.skipped  # type: ignore[attr-defined]
    assert_frame_equal(fast.frame, exact.frame)  # type: ignore[attr-defined]


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    taken: list[bool] = []
    original = csv_fast.read_fast

    def spy(*args: object) -> object:
        result = original(*args)  # type: ignore[arg-type]
        taken.append(result is not None)
        return result

    monkeypatch.setattr(csv_reader, "read_fast", spy)
    return taken


def test_a_regular_file_takes_the_fast_path(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _spy(monkeypatch)
    path = tmp_path / "s.csv"
    path.write_bytes('\ufeffsep=;\r\nNimi;Kaupunki;\r\n"Aho; ""A""";"Oulu\r\nkeskusta";\r\n'
                     '\r\n;;\r\nBeta;=\'"x"\';\r\n'.encode("utf-8"))
    table = read_csv(path)
    assert taken == [True]
    assert table.headers == ["Nimi", "Kaupunki"] and table.skipped == 2
    assert table.frame.rows() == [(2, 'Aho; "A"', "Oulu\r\nkeskusta"),
                                  (5, "Beta", "='\"x\"'")]


@pytest.mark.parametrize("body", [
    "Nimi;Kaupunki\nAho;Oulu;extra\nBeta;Turku\n",      # a ragged row
    "Nimi;Kaupunki\nAho\nBeta;Turku\n",                 # a short row
    'Nimi;Kaupunki\n"Aho;Oulu\nBeta;Turku\n',           # a quote never closed
    'Nimi;Kaupunki\nAho;"Oulu\nBeta;Turku\n',           # ... opened in the last cell
    'Nimi;Kaupunki\nAho;"Oulu\nBeta;Turku\n\n\n',       # ... with blank lines after
    'Nimi;Kaupunki\nAho;"Oulu\nBeta;Turku\nDelta;"Espoo"\n',  # ... a later quote "closes" it
    "Nimi;Kaupunki\n" + "Aho;Oulu\n" * 9000 + "A\x00ho;Oulu\n",  # a NUL past the head
])
def test_an_irregular_file_is_read_the_exact_way(tmp_path: Path, body: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _spy(monkeypatch)
    path = tmp_path / "s.csv"
    path.write_text(body, encoding="utf-8")
    try:
        table = read_csv(path, delimiter=";", encoding="utf-8")
    except SourceError as exc:
        assert ("never closed" in exc.message or "row 9002" in exc.message
                or "not closed where the cell ends" in exc.message), exc.message
        table = None
    assert taken == [False]
    if '"' in body:  # every row after the open quote would be lost: the file is refused
        assert table is None
    if "extra" in body or "Aho\n" in body:
        assert table is not None and table.ragged == [(2, 3 if "extra" in body else 1)]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
@pytest.mark.parametrize("body", ['Nimi;Kaupunki\n"Äho;Oulu\nBeta;Turku\n',
                                  "\ufeffsep=;\nNimi;Kaupunki\nÄho;Oulu\n"])
def test_arrow_reads_any_file_without_calling_back_into_python(
        tmp_path: Path, body: str, encoding: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrow reads ahead on a thread of its own. Reading from a Python file object, a
    # read still pending when an irregular file's error ends the command called back
    # into an exiting Python, and the process aborted (exit 134, about 1 run in 25).
    # Arrow gets a native file: the file itself, or its UTF-8 copy, which is gone at once.
    if encoding == "cp1252":
        body = body.replace("\ufeff", "")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sources: list[object] = []
    original = pacsv.open_csv

    def spy(source: object, **options: object) -> object:
        sources.append(source)
        return original(source, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(csv_fast.pacsv, "open_csv", spy)
    path = tmp_path / "s.csv"
    path.write_text(body, encoding=encoding)
    try:
        table = read_csv(path)
    except SourceError:
        table = None
    assert sources and all(isinstance(s, pa.NativeFile) for s in sources)
    if '"' not in body:
        assert table is not None and table.frame.rows() == [(2, "Äho", "Oulu")]
    assert list(temp.iterdir()) == []


def test_a_long_cell_in_an_irregular_file_is_read_whole(tmp_path: Path) -> None:
    # The exact reader (a ragged row sends the file there) refused any cell over 128 KiB
    # as "cannot be split into cells", blaming quotes; the fast path has no such limit.
    notes = "x" * 300_000
    path = tmp_path / "s.csv"
    path.write_text(f"Nimi;Lisätiedot\nAho;{notes}\nBeta;y;extra\n", encoding="utf-8")
    table = read_csv(path)
    assert table.frame.rows()[0] == (2, "Aho", notes)
    assert table.ragged == [(3, 3)]



@pytest.mark.parametrize("body", [
    'Nimi;Kaupunki\nAho;"Oulu\nkeskusta"\n',
    'Nimi;Kaupunki\r\nAho;"Oulu\r\nkeskusta"  \r\n\r\n',
    'Nimi;Kaupunki\nAho;"Oulu\n""keskusta"""',  # no newline at the end
])
def test_a_closed_multi_line_last_cell_is_read(tmp_path: Path, body: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(body, encoding="utf-8", newline="")
    table = read_csv(path)
    assert table.frame.height == 1 and "keskusta" in table.frame.rows()[0][2]


@pytest.mark.parametrize(("body", "says"), [
    ('Nimi;Kaupunki\nAho;"Oulu\nBeta;Turku\n', "opens a quote that is never closed"),
    ('Nimi;Kaupunki\nAho;"Oulu\nBeta;Turku\nDelta;"Espoo"\n',
     "quote is not closed where the cell ends"),
    ('Nimi;Lisätiedot\nAho;"rivi 1\nrivi 2" x\n',
     "text after the closing quote"),
])
def test_a_last_cell_spanning_lines_with_a_stray_quote_is_refused_saying_why(
        tmp_path: Path, body: str, says: str) -> None:
    # Rows after an open quote would vanish into one cell: the file is refused. A quote
    # "closed" by a later one, and text after a closing quote, can't be told apart, so
    # the message names both rather than claiming the quote is never closed.
    path = tmp_path / "s.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read_csv(path, delimiter=";")
    assert f"{path}: row 2 " in caught.value.message
    assert says in caught.value.message


@pytest.mark.parametrize("rows", [1, 9000])  # a small file, and one past the head
def test_a_file_that_ends_inside_a_quoted_cell_is_refused(tmp_path: Path, rows: int) -> None:
    # QA: a file a job found while it was still being written, cut inside the last
    # cell's quotes, was committed with the cut text ("Call before 10; ask for").
    path = tmp_path / "s.csv"
    body = "customer_number;name;notes\n" + "".join(f"{n};Aho;\"ok\"\n" for n in range(rows))
    path.write_text(body + 'x;Pekka Virta;"Call before 10; ask for', encoding="utf-8",
                    newline="")
    with pytest.raises(SourceError) as caught:
        read_csv(path)
    assert caught.value.message == (
        f"{path}: row {rows + 2} opens a quote that is never closed: the file ends inside "
        "it (a copy or download cut short?); check the end of the file")
    # Closed, or no quote at all, the last line needs no line break after it.
    for last in ('x;Pekka Virta;"Call before 10"', 'x;Pekka Virta;TV 5" x'):
        path.write_text(body + last, encoding="utf-8", newline="")
        assert read_csv(path).frame.height == rows + 1
