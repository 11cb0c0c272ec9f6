"""The same customers in every supported encoding give identical canonical rows."""

from __future__ import annotations

import sqlite3
import tempfile
import unicodedata
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from sync.canonicalise import canonicalise
from sync.readers import read_source
from sync.readers.database import read_database
from sync.rules import load_rules, map_headers
from tests.conftest import FIXTURES, customers, run_cli, write_csv

FILES = sorted((FIXTURES / "encodings").glob("customers_*"))


def canonical_rows(path: Path):
    rules = load_rules()
    table = read_source(path)
    header_map = map_headers(table.headers, rules, str(path))
    return canonicalise(table.frame, header_map, rules).frame


def test_every_encoding_fixture_is_present() -> None:
    names = {p.name for p in FILES}
    for flavour in ("utf8", "utf8_bom", "cp1252", "iso8859_15", "cp1250", "utf16"):
        assert any(flavour in n for n in names), flavour


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_same_canonical_rows_as_utf8(path: Path) -> None:
    reference = canonical_rows(FIXTURES / "encodings" / "customers_utf8.csv")
    assert reference.height >= 4
    assert_frame_equal(canonical_rows(path), reference)


# --- decomposed letters (Unicode NFD) --------------------------------------------------

LETTERS = "AaÄäÅåÖöÜüÉéČčŘřŠšŽžŮůÚúÍíÝýĚěĎďŤťŇňÁáÓóßæøÆØ -'.&0123456789"


def _decomposed(path: Path, tmp_path: Path) -> Path:
    """The file's text with every letter written decomposed, as text saved on a Mac is."""
    out = tmp_path / f"nfd_{path.name}"
    out.write_text(unicodedata.normalize("NFD", path.read_text(encoding="utf-8")),
                   encoding="utf-8")
    return out


def test_decomposed_letters_read_as_the_composed_ones(tmp_path: Path) -> None:
    reference = FIXTURES / "encodings" / "customers_utf8.csv"
    decomposed = _decomposed(reference, tmp_path)
    assert decomposed.read_bytes() != reference.read_bytes()
    assert_frame_equal(canonical_rows(decomposed), canonical_rows(reference))
    parquet = tmp_path / "nfd.parquet"
    pl.read_csv(decomposed, separator=";", infer_schema=False).write_parquet(parquet)
    assert_frame_equal(canonical_rows(parquet), canonical_rows(reference))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=LETTERS, max_size=12), min_size=1, max_size=5),
       st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_a_cell_reads_the_same_composed_or_decomposed(cells: list[str], encoding: str) -> None:
    read = []
    with tempfile.TemporaryDirectory() as tmp:
        for form in ("NFC", "NFD"):
            path = Path(tmp) / f"{form}.csv"
            text = "Nimi;Kaupunki\n" + "".join(f"{c};x\n" for c in cells)
            path.write_bytes(unicodedata.normalize(form, text).encode(encoding))
            read.append(read_source(path).frame.rows())
    assert read[0] == read[1]


def test_a_database_table_with_decomposed_letters_reads_composed(tmp_path: Path) -> None:
    db = tmp_path / "erp.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE asiakkaat (Nimi TEXT, Asiakasryhmä TEXT)")
        conn.execute("INSERT INTO asiakkaat VALUES (?, ?)",
                     (unicodedata.normalize("NFD", "Söderström Bygg AB"),
                      unicodedata.normalize("NFD", "ČESKO")))
    conn.close()
    read = read_database(f"sqlite:///{db}", table="asiakkaat")
    assert read.table.frame.drop("_row").rows() == [("Söderström Bygg AB", "ČESKO")]


def test_a_database_table_value_shaped_like_a_text_guard_is_read_as_it_is(tmp_path: Path) -> None:
    # No spreadsheet wrote a database table: `="00100"` there is the value itself.
    db = tmp_path / "erp.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE asiakkaat (Nimi TEXT, Lisätiedot TEXT)")
        conn.execute("INSERT INTO asiakkaat VALUES (?, ?)", ('="00100"', ""))
    conn.close()
    read = read_database(f"sqlite:///{db}", table="asiakkaat")
    assert read.table.frame.drop("_row").rows() == [('="00100"', None)]


def test_a_decomposed_source_matches_the_register_and_creates_no_group(tmp_path: Path) -> None:
    # QA: "Söderström Bygg AB" written decomposed became a second customer, and the group
    # "ČESKO" a second group beside "Česko".
    db = tmp_path / "register.db"
    for name in ("register", "kunder", "zakaznici", "asiakkaat"):
        assert run_cli("import", FIXTURES / "demo" / f"{name}.csv", "--db", db,
                       "--yes").exit_code in (0, 1)
    source = write_csv(tmp_path / "mac.csv", unicodedata.normalize(
        "NFD", "Asiakasnumero;Nimi;Katuosoite;Asiakasryhmä\n1002;Matti Virtanen;Hämeenkatu 5;\n"
               ";Söderström Bygg AB;;\n1006;Dvořák Stroje s.r.o.;;ČESKO\n"))
    result = run_cli("preview", source, "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    assert (result.json()["new"], result.json()["modified"], result.json()["unchanged"]) == (
        0, 0, 3)


def test_an_export_resaved_in_windows_1250_with_few_czech_rows_is_all_no_change(
        tmp_path: Path) -> None:
    # QA: most rows Finnish, two Czech; Excel on Czech Windows saves Windows-1250. Read
    # as Windows-1252, the import wrote "Dvoøák" over "Dvořák" and created group "Èesko".
    finnish = ("Hämäläinen Oy", "Mäkelä Tmi", "Järvinen Ky", "Lähteenmäki", "Pöyhönen Oy",
               "Äijälä", "Björk Ab", "Öhman", "Virtanen Oy")
    rows = [f"{100 + i};{name};Hämeenlinna;Häme;FI" for i, name in enumerate(finnish)]
    rows += ["201;Dvořák Anna;Brno;Česko;CZ", "202;Petr Černý;Plzeň;Česko;CZ"]
    source = write_csv(tmp_path / "s.csv", "customer_number;name;city;customer_group;country\n"
                       + "\n".join(rows) + "\n")
    db = tmp_path / "r.db"
    assert run_cli("import", source, "--db", db, "--yes").exit_code == 0
    exported = tmp_path / "out.csv"
    assert run_cli("export", exported, "--db", db, "--headers", "fi").exit_code == 0
    resaved = tmp_path / "resaved.csv"
    resaved.write_bytes(exported.read_text(encoding="utf-8-sig").encode("cp1250"))
    result = run_cli("preview", resaved, "--db", db, "--json")
    assert result.exit_code == 0
    assert result.json()["unchanged"] == len(rows), result.stderr


@pytest.mark.parametrize(("text", "encoding", "doubt"), [
    # Thin evidence either way: the preview names the other reading.
    ("Nimi;Kaupunki\nSøren Møller;Helsinki\nHämäläinen Oy;Hämeenlinna\nMäkelä;Espoo\n",
     "cp1252",
     "cp1250 would read 'Søren' as 'Sřren'"),
    ("Nimi;Kaupunki\n" + "Hämäläinen Päivi;Hämeenlinna\n" * 200 + "Dvořák Anna;Praha\n",
     "cp1250", "cp1252 would read 'Dvořák' as 'Dvoøák'"),
    # Clear evidence: no doubt to show.
    ("Nimi;Kaupunki\nŠťastná Věra;Brno\nŽižkov Dvořák;Praha\nČerný Kůň;Plzeň\n", "cp1250",
     None),
    ("Nimi;Kaupunki\nSöderström;Jyväskylä\nÅkesson;Västerås\n", "cp1252", None),
])
def test_a_close_encoding_call_is_shown_with_the_other_reading(
        tmp_path: Path, text: str, encoding: str, doubt: str | None) -> None:
    source = tmp_path / "s.csv"
    source.write_bytes(text.encode(encoding))
    result = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                     tmp_path / "p.plan", "--json")
    info = result.json()["source"]
    assert info["encoding"] == encoding
    if doubt is None:
        assert "encoding_doubt" not in info
    else:
        assert doubt in info["encoding_doubt"]
        human = run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                        tmp_path / "p.plan")
        assert f"encoding doubt: {doubt}" in human.stderr + human.stdout


def test_a_windows_1252_en_dash_in_a_business_id_reads_as_a_hyphen(tmp_path: Path) -> None:
    # QA: Excel's autocorrect wrote an en dash (0x96 in Windows-1252) in the Y-tunnus,
    # and the row was Rejected.
    source = tmp_path / "s.csv"
    # "\x96" encodes to that byte in latin-1.
    source.write_bytes("Nimi;Y-tunnus;Postitoimipaikka;Maa\nKahvila Aurinko Oy;0112038\x969;"
                       "Hämeenlinna;\nSöderström AB;556036\x960793;Västerås;Ruotsi\n"
                       .encode("latin-1"))
    db = tmp_path / "r.db"
    result = run_cli("import", source, "--db", db, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["source"]["encoding"] == "cp1252"
    assert sorted(c["business_id"] for c in customers(db).values()) == [
        "0112038-9", "556036-0793"]
