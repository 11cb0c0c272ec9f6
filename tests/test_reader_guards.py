"""Reader behaviour users rely on that mutation testing found unguarded (branch mut-io)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import SourceError
from sync.readers import read_source


def test_a_tsv_file_whose_lines_also_hold_one_comma_is_split_on_tabs(tmp_path: Path) -> None:
    # Tab and comma split every line into two cells alike: only the .tsv name tells
    # them apart. Split on the comma, "Nimi\tKaupunki" would be one header.
    path = tmp_path / "asiakkaat.tsv"
    path.write_text("Nimi\tKaupunki, maa\r\nAho Oy\tEspoo, FI\r\n", encoding="utf-8")
    table = read_source(path)
    assert table.delimiter == "\t"
    assert table.headers == ["Nimi", "Kaupunki, maa"]


def test_a_file_of_many_control_bytes_is_refused_as_not_text(tmp_path: Path) -> None:
    # No NUL byte, but a tenth of it control bytes: a binary file (a database dump, an
    # old word processor's file), which every single-byte encoding would decode into
    # garbage without a complaint.
    path = tmp_path / "export.csv"
    path.write_bytes(b"Nimi;Kaupunki\r\n" + b"Aho\x01\x02\x03\x04\x05\x06;Espoo\r\n" * 5)
    with pytest.raises(SourceError, match="holds control bytes; this does not look like "
                                          "a text"):
        read_source(path)


def test_utf8_text_cut_off_inside_its_last_character_is_refused_as_truncated(
        tmp_path: Path) -> None:
    # A download cut short: its last "ä" lost a byte. Not a file in two encodings, and
    # no single-byte encoding may read it (the letters before would be garbled).
    path = tmp_path / "cut.csv"
    path.write_bytes("Nimi;Kaupunki\r\nÄijä Oy;Hämeenlinna\r\nAho;Hämeen".encode()
                     + "ä".encode()[:1])
    with pytest.raises(SourceError, match="is UTF-8 text cut off inside its last "
                                          "character"):
        read_source(path)


def test_a_windows_1252_file_with_a_few_byte_pairs_valid_as_utf8_is_read_as_windows_1252(
        tmp_path: Path) -> None:
    # "É’" in Windows-1252 is C9 92, a valid UTF-8 pair; two of them beside two bytes
    # that are no UTF-8 (ä) do not make the file UTF-8, which would refuse it.
    path = tmp_path / "cafe.csv"
    path.write_bytes("Nimi;Kaupunki\r\nANDRÉ’S BAR;Espoo\r\nRENÉ’S;Oulu\r\nÄijä Oy;Vantaa\r\n"
                     .encode("cp1252"))
    table = read_source(path)
    assert table.encoding == "cp1252"
    assert table.frame["c0"].to_list() == ["ANDRÉ’S BAR", "RENÉ’S", "Äijä Oy"]


def test_a_windows_1252_pair_that_happens_to_be_utf8_is_no_sign_of_mixed_encodings(
        tmp_path: Path) -> None:
    # "Ä”" in Windows-1252 is C4 94, valid UTF-8 for "Ĕ", a letter no text here holds:
    # the file is Windows-1252 throughout, not UTF-8 text pasted into it.
    path = tmp_path / "notes.csv"
    path.write_bytes("Nimi;Huom\r\nKahvila Sää;“SÄÄ”\r\nÄijä Oy;\r\n".encode("cp1252"))
    table = read_source(path)
    assert table.encoding == "cp1252"
    assert table.frame["c1"].to_list() == ["“SÄÄ”", None]
