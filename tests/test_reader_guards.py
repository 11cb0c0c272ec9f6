"""Reader behaviour users rely on that mutation testing found unguarded (branch mut-io)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest

import sync.readers.encoding_signs as encoding_signs
from sync.errors import SourceError
from sync.readers import read_source
from sync.readers.database import read_database


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


def test_a_code_page_850_sign_beside_a_byte_from_0xc0_up_is_refused_not_guessed(
        tmp_path: Path) -> None:
    # "ß" is 0xE1 in code page 850, where the Windows code pages keep their letters:
    # that speaks against code page 850 (docs/sources.md), so the user decides.
    path = tmp_path / "dos.csv"
    path.write_bytes("Nimi;Osoite\r\nMatti Mäkinen;Hämeenkatu 5\r\nHans Strauß;Töölönkatu 2\r\n"
                     .encode("cp850"))
    with pytest.raises(SourceError, match="can't be told for sure: pass --encoding cp850"):
        read_source(path)


def test_one_mac_roman_sign_inside_a_word_is_a_doubt_not_a_detection(tmp_path: Path) -> None:
    # Mac Roman is answered on two signs inside words ("HŠmeenlinna"); on one the
    # preview names it as the doubt, and the user passes --encoding mac_roman.
    path = tmp_path / "mac.csv"
    path.write_bytes("Nimi;Kaupunki\r\nKöö Ky;Hämeenlinna\r\nÖölö;Töölö\r\nRöökö;Pöö\r\n"
                     .encode("mac_roman"))
    table = read_source(path)
    assert table.encoding != "mac_roman"
    assert table.encoding_doubt is not None
    assert table.encoding_doubt.startswith("mac_roman would read")


def test_utf8_text_split_between_two_chunks_is_still_found_mixed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The scan reads a megabyte at a time; an "ä" whose two bytes fall in two chunks is
    # looked for with the end of the chunk before (here chunks of 17 bytes cut it).
    monkeypatch.setattr(encoding_signs, "CHUNK_SIZE", 17)
    path = tmp_path / "pasted.csv"
    path.write_bytes(b"Nimi;Kaupunki\r\n" + "Hämeenlinna;x\r\n".encode()
                     + "Äijä Oy;Espoo\r\n".encode("cp1252"))
    assert path.read_bytes()[16:18] == "ä".encode()
    with pytest.raises(SourceError, match="mixes encodings: row 2 holds UTF-8 text"):
        read_source(path)


def test_a_file_in_two_encodings_names_first_the_part_that_comes_first(
        tmp_path: Path) -> None:
    path = tmp_path / "pasted.csv"
    path.write_bytes(b"Nimi;Kaupunki\r\n" + "Äijä Oy;Espoo\r\n".encode("cp1252")
                     + "Hämeenlinna Oy;Hämeenlinna\r\n".encode())
    with pytest.raises(SourceError, match=r"mixes encodings: row 2 holds a byte that is "
                                          r"not UTF-8 \(0xC4 at byte offset 15\) but row 3 "
                                          r"holds UTF-8 text"):
        read_source(path)


def test_a_parquet_row_of_spaces_only_is_skipped_as_a_blank_row(tmp_path: Path) -> None:
    # As in a CSV file: a row whose cells hold only spaces holds nothing to import.
    path = tmp_path / "customers.parquet"
    pl.DataFrame({"Asiakasnumero": ["1001", "  ", "1002"],
                  "Nimi": ["Aho Oy", " ", "Laine Oy"]}).write_parquet(path)
    table = read_source(path)
    assert table.frame["_row"].to_list() == [2, 4]
    assert table.skipped == 1


def test_a_regular_csv_export_reads_its_neutralised_cells_back_exactly(tmp_path: Path) -> None:
    # Every record as wide as the header: the fast (Arrow) path reads it, and must undo
    # the export's `'` as the exact reader does, or "'+358401234567" would be imported.
    path = tmp_path / "export.csv"
    path.write_text("customer_number,name,phone\r\n1001,'=Summa,'+358401234567\r\n"
                    "1002,'-Oy-,''=x\r\n", encoding="utf-8-sig")
    table = read_source(path)
    assert table.frame.rows() == [(2, "1001", "=Summa", "+358401234567"),
                                  (3, "1002", "-Oy-", "'=x")]


def test_an_empty_text_cell_of_a_parquet_file_is_an_empty_cell(tmp_path: Path) -> None:
    # As in a CSV file: "" is no value (null), not a value of no characters.
    path = tmp_path / "customers.parquet"
    pl.DataFrame({"Asiakasnumero": ["1001", "1002"], "Puhelin": ["", "040 123"]}
                 ).write_parquet(path)
    assert read_source(path).frame["c1"].to_list() == [None, "040 123"]


def test_a_blob_of_utf8_text_in_an_sqlite_table_reads_as_its_text(tmp_path: Path) -> None:
    # Some programs store text as BLOB; only bytes that are no UTF-8 read as hex.
    db = tmp_path / "erp.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (customer_number TEXT, name BLOB)")
        conn.execute("INSERT INTO customers VALUES ('1001', ?), ('1002', ?)",
                     ("Äijä Oy".encode(), b"\xff\x00"))
    conn.close()
    read = read_database(f"sqlite:///{db}", table="customers")
    assert read.table.frame.rows() == [(2, "1001", "Äijä Oy"), (3, "1002", "ff00")]


def test_a_table_name_holding_a_double_quote_is_refused_before_any_sql(tmp_path: Path) -> None:
    # The name is quoted into the SELECT; a quote in it would end the identifier there
    # and let the rest of the name run as SQL.
    db = tmp_path / "erp.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (customer_number TEXT)")
    conn.close()
    with pytest.raises(SourceError, match=r"not a table name \(schema\.table\)"):
        read_database(f"sqlite:///{db}", table='customers" WHERE "1"="1')


def test_a_huge_real_in_an_sqlite_table_keeps_its_scientific_form(tmp_path: Path) -> None:
    # 1.2345678901234567e19 holds 17 significant digits: printed as an integer it would
    # be 12345678901234567168, digits no one typed, taken for a customer number. From
    # 2**53 on a double holds no exact integer (12345678901234567 is stored ...568): the
    # scientific form a spreadsheet shows, as a Parquet float gets, which a key field
    # rejects as digits lost (mutation QA: ...568 passed as exact, and the lower-case
    # 1.2345678901234567e+19 passed as a key).
    db = tmp_path / "erp.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (customer_number REAL)")
        conn.execute("INSERT INTO customers VALUES (1.2345678901234567e19), (100.0), "
                     "(12345678901234567), (9007199254740991.0), (2.5), (9e999)")
    conn.close()
    read = read_database(f"sqlite:///{db}", table="customers")
    assert set(read.table.frame["c0"].to_list()) == {
        "100", "1.2345678901234567E+19", "1.2345678901234568E+16", "9007199254740991",
        "2.5", "#NUM!"}



@pytest.mark.parametrize("rows", [("1,2,3", '4,"multi\r\nline"'), ('4,"multi\r\nline"', "1,2,3")])
def test_a_ragged_row_with_a_cell_of_two_lines_is_listed_wherever_it_stands(
        tmp_path: Path, rows: tuple[str, str]) -> None:
    # Its quote is closed: it is a ragged row like any other, left out and listed while
    # the others are read. As the last row it refused the whole file, saying its quote
    # was never closed (mutation QA).
    path = tmp_path / "rag.csv"
    path.write_bytes(("a,b,c\r\n" + "\r\n".join(rows) + "\r\n").encode())
    table = read_source(path)
    ragged = 3 if rows[0] == "1,2,3" else 2
    assert table.ragged == [(ragged, 2)]
    assert table.frame.height == 1
    assert table.frame.row(0)[1:4] == ("1", "2", "3")
