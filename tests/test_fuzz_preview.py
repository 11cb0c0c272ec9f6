"""Fuzzing `regsync preview`: any bytes or CSV text give a plan or one clear error line.

Never a traceback or an internal error (exit 70), never a register written.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli

_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])
_HEADERS = ["Asiakasnumero", "Nimi", "Y-tunnus", "Postinumero", "Puhelin", "Maa", "name",
            "Sähköposti", "Asiakastyyppi", "Kundnummer", "", "x"]
_CELL = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | \
    st.sampled_from(["00100", "100", "0112038-9", "112038-9", "3.58401E+11", "FI", "Suomi",
                     '="00100"', "Yritys", "a@b.fi", "1001", " ", ""])
_MAGIC = st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"PK\x03\x04", b"PAR1",
                          b"ARROW1", b"sep=;\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"])


def _preview(data: bytes, suffix: str = ".csv") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source, db = Path(tmp) / f"source{suffix}", Path(tmp) / "register.db"
        source.write_bytes(data)
        result = run_cli("preview", source, "--db", db, "--plan", Path(tmp) / "p.plan")
        assert result.exit_code in (0, 1, 2), result.stderr
        if result.exit_code == 2:
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("regsync: error: "), result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert not db.exists()


@_SETTINGS
@given(magic=_MAGIC, data=st.binary(max_size=300),
       suffix=st.sampled_from([".csv", ".xlsx", ".parquet", ".arrow", ".txt"]))
def test_any_bytes_give_a_plan_or_one_error_line(magic: bytes, data: bytes, suffix: str) -> None:
    _preview(magic + data, suffix)


@_SETTINGS
@given(headers=st.lists(st.sampled_from(_HEADERS) | _CELL, min_size=1, max_size=5),
       rows=st.lists(st.lists(_CELL, max_size=6), max_size=6),
       delimiter=st.sampled_from([";", ",", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
       newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_csv_text_gives_a_plan_or_one_error_line(
    headers: list[str], rows: list[list[str]], delimiter: str, encoding: str, newline: str
) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows([headers, *rows])
    try:
        data = buffer.getvalue().encode(encoding)
    except UnicodeEncodeError:
        data = buffer.getvalue().encode("utf-8")
    _preview(data)
