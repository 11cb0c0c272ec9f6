"""Spec section 10: the headers every default rule file accepts, per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import SourceError
from sync.readers import read_source
from sync.rules import header_key, load_rules, map_headers
from tests.conftest import Run, run_cli
from tests.workbooks import write_xlsx

FIELDS = ("customer_number", "customer_type", "name", "business_id", "vat_id", "email",
          "phone", "street_address", "postal_code", "city", "country", "customer_group",
          "language", "notes")

HEADERS = {
    "en": ["Customer number", "Customer type", "Name", "Business ID", "VAT number", "E-mail",
           "Phone", "Street address", "Postal code", "City", "Country", "Customer group",
           "Language", "Notes"],
    "en-canonical": list(FIELDS),
    "fi": ["Asiakasnumero", "Asiakastyyppi", "Nimi", "Y-tunnus", "ALV-numero", "Sähköposti",
           "Puhelin", "Katuosoite", "Postinumero", "Postitoimipaikka", "Maa", "Asiakasryhmä",
           "Kieli", "Lisätiedot"],
    "sv": ["Kundnummer", "Kundtyp", "Namn", "Organisationsnummer", "Momsregistreringsnummer",
           "E-post", "Telefon", "Gatuadress", "Postnummer", "Postort", "Land", "Kundgrupp",
           "Språk", "Anteckningar"],
    "cs": ["Číslo zákazníka", "Typ zákazníka", "Název", "IČO", "DIČ", "E-mail", "Telefon",
           "Ulice", "PSČ", "Město", "Země", "Skupina zákazníků", "Jazyk", "Poznámky"],
}


@pytest.mark.parametrize("language", sorted(HEADERS))
def test_every_header_of_a_language_maps_to_its_field(language: str) -> None:
    mapping = map_headers(HEADERS[language], load_rules(), "source.csv")
    assert mapping.headers == dict(zip(HEADERS[language], FIELDS, strict=True))
    assert mapping.ignored == ()


@pytest.mark.parametrize(("header", "field"), [
    ("ASIAKASNUMERO", "customer_number"),
    ("Cislo zakaznika", "customer_number"),
    ("y tunnus", "business_id"),
    ("  Postinumero ", "postal_code"),
    ("asiakasryhma", "customer_group"),
    ("E_MAIL", "email"),
    ("ico", "business_id"),
])
def test_headers_match_ignoring_case_accents_spaces_and_punctuation(header: str,
                                                                    field: str) -> None:
    mapped = map_headers([header, "Nimi"], load_rules(), "s.csv").headers
    assert mapped == {header: field, "Nimi": "name"}


def test_header_key_folds_accents_case_and_punctuation() -> None:
    assert header_key("Číslo zákazníka") == header_key("CISLO-ZAKAZNIKA") == "cislozakaznika"


def test_a_file_with_no_key_or_name_column_is_refused() -> None:
    with pytest.raises(SourceError, match="no customer number, business id or name column"):
        map_headers(["Postinumero", "Puhelin"], load_rules(), "s.csv")


# --- a workbook whose first sheet is not the customers' ----------------------------------

INSTRUCTIONS = [["Päivitä asiakkaat välilehdellä Asiakkaat"], ["Älä muuta otsikoita."]]


def _preview(tmp_path: Path, source: Path, *args: str) -> Run:
    return run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                   tmp_path / "p.plan", *args)


def test_an_instructions_sheet_first_names_the_sheet_with_the_header(tmp_path: Path) -> None:
    book = write_xlsx(tmp_path / "f.xlsx", INSTRUCTIONS, sheet="Ohjeet", more_sheets={
        "Summa": [["Yhteensä", 1]],
        "Asiakkaat": [["Asiakasnumero", "Nimi"], ["1002", "Matti Virtanen"]]})
    refused = _preview(tmp_path, book)
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"regsync: error: {book}: sheet 'Ohjeet' has no customer number, business id or name "
        "column: a source needs at least one of them (headers such as 'Customer number', "
        "'Business ID', 'Name'); row 1 holds 'Päivitä asiakkaat välilehdellä Asiakkaat'; "
        "sheet 'Asiakkaat' has one (row 1: 'Asiakasnumero', 'Nimi'): pass --sheet Asiakkaat\n")
    assert _preview(tmp_path, book, "--sheet", "Asiakkaat").exit_code == 0


def test_the_other_sheets_header_row_and_a_name_with_spaces_go_into_the_flags(
        tmp_path: Path) -> None:
    book = write_xlsx(tmp_path / "f.xlsx", INSTRUCTIONS, sheet="Ohjeet", more_sheets={
        "Asiakas lista": [["Asiakasrekisteri 2024"], [], ["Y-tunnus", "Nimi"],
                          ["0112038-9", "Kahvila Aurinko Oy"]]})
    refused = _preview(tmp_path, book)
    assert refused.exit_code == 2
    assert refused.stderr.endswith(
        "; sheet 'Asiakas lista' has one (row 3: 'Y-tunnus', 'Nimi'): "
        "pass --sheet 'Asiakas lista' --header-row 3\n")
    assert _preview(tmp_path, book, "--sheet", "Asiakas lista", "--header-row", "3"
                    ).exit_code == 0


@pytest.mark.parametrize(("more", "tail"), [
    ({"Muistiinpanot": [["Soita Matille"]]},
     "; check the header row (--header-row), or name the sheet that holds the customers "
     "with --sheet (the other sheets: 'Muistiinpanot')"),
    ({}, "; check the header row (--header-row)"),
])
def test_a_sheet_without_a_known_header_never_mentions_the_delimiter(
        tmp_path: Path, more: dict[str, list[list[str]]], tail: str) -> None:
    book = write_xlsx(tmp_path / "f.xlsx", [["Foo", "Bar"], ["1", "2"]], sheet="Taul1",
                      more_sheets=more)
    with pytest.raises(SourceError) as caught:
        table = read_source(book)
        map_headers(table.headers, load_rules(), str(book), head=table.head)
    message = caught.value.message
    assert message.startswith(f"{book}: sheet 'Taul1' has no customer number")
    assert message.endswith("row 1 holds 'Foo', 'Bar'" + tail)
    assert "--delimiter" not in message


# --- headers whose letters a file's encoding lost as '?' ---------------------------------

def test_a_header_with_letters_lost_as_question_marks_maps_to_the_alias_it_fits() -> None:
    # Excel's or LibreOffice's Windows-1252 "CSV" of a Czech export: the headers were
    # ignored, so number, business id, postal code and country were dropped (QA).
    mapping = map_headers(["?íslo zákazníka", "Název", "i?o", "PS?", "ZEM?"], load_rules(),
                          "s.csv")
    assert mapping.headers == {"?íslo zákazníka": "customer_number", "Název": "name",
                               "i?o": "business_id", "PS?": "postal_code", "ZEM?": "country"}
    assert mapping.lost_letters == {"?íslo zákazníka": "Číslo zákazníka", "i?o": "IČO",
                                    "PS?": "PSČ", "ZEM?": "Země"}
    assert mapping.ignored == ()


@pytest.mark.parametrize("header", ["P?Č", "Z?me", "Zem??", "Ze?", "Zem?x"])
def test_a_question_mark_stands_only_for_one_letter_past_ascii_of_the_alias(
        header: str) -> None:
    mapping = map_headers(["Nimi", header], load_rules(), "s.csv")
    assert mapping.ignored == (header,)
    assert mapping.lost_letters == {} and mapping.lost_letter_doubts == {}


def test_a_header_that_fits_aliases_of_two_fields_is_ignored_and_says_which(
        tmp_path: Path) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text('[fields.kod]\naliases = ["Kód"]\n[fields.kad]\naliases = ["Kád"]\n',
                     encoding="utf-8")
    mapping = map_headers(["Nimi", "K?d"], load_rules(rules), "s.csv")
    assert mapping.ignored == ("K?d",)
    assert mapping.lost_letter_doubts == {"K?d": {"kod": "Kód", "kad": "Kád"}}
    assert mapping.suggestions == {}


def test_a_header_read_so_and_the_alias_itself_both_map_to_one_field() -> None:
    with pytest.raises(SourceError) as caught:
        map_headers(["IČO", "Nimi", "I?O"], load_rules(), "s.csv")
    assert caught.value.message == (
        "s.csv: headers 'IČO' in column 1 and 'I?O' (read as 'IČO') in column 3 both map "
        "to field business_id; remove or rename one of them")


def test_a_windows_1252_czech_export_matches_by_number_and_says_how_it_read_its_headers(
        tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    first = tmp_path / "first.csv"
    first.write_text("Číslo zákazníka;Název;Země\r\n2003;Věra Šťastná;CZ\r\n", encoding="utf-8")
    assert run_cli("import", first, "--db", db, "--yes").exit_code == 0
    saved = tmp_path / "saved.csv"
    # What Windows-1252 makes of 'Č', 'ě' and 'ť': one '?' each.
    saved.write_bytes("?íslo zákazníka;Název;Zem?\r\n2003;V?ra Š?astná;CZ\r\n"
                      .encode("cp1252"))
    done = _preview(tmp_path, saved, "--json")
    assert done.exit_code == 0, done.stderr
    payload = done.json()
    assert (payload["new"], payload["unchanged"]) == (0, 1)  # was New 2004, a duplicate
    assert payload["source"]["columns"] == {"?íslo zákazníka": "customer_number",
                                            "Název": "name", "Zem?": "country"}
    assert payload["source"]["lost_letter_headers"] == {"?íslo zákazníka": "Číslo zákazníka",
                                                        "Zem?": "Země"}
    assert ("columns: ?íslo zákazníka -> customer_number, Název -> name, Zem? -> country\n"
            "lost letters: ?íslo zákazníka read as 'Číslo zákazníka', Zem? read as 'Země' "
            "(letters the file's encoding could not hold were saved as '?')\n") in done.stderr
    assert "row      2  No change  2003" in done.stderr


def test_the_preview_says_which_fields_an_ambiguous_header_could_be(tmp_path: Path) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text('[fields.kod]\naliases = ["Kód"]\n[fields.kad]\naliases = ["Kád"]\n',
                     encoding="utf-8")
    source = tmp_path / "s.csv"
    source.write_text("Nimi;K?d\nMatti;x\n", encoding="utf-8")
    done = _preview(tmp_path, source, "--rules", rules, "--json")
    assert done.exit_code == 0, done.stderr
    assert done.json()["source"]["lost_letter_doubts"] == {"K?d": {"kod": "Kód", "kad": "Kád"}}
    assert ("ignored columns: K?d (letters lost as '?'; it could be field kod ('Kód') or "
            "kad ('Kád'): rename it to the one meant)\n") in done.stderr


def test_a_title_line_above_headers_with_lost_letters_names_the_header_row() -> None:
    with pytest.raises(SourceError, match=r"row 2 looks like the header \('I\?O', 'N\?zev'\)"):
        map_headers(["Export 2024"], load_rules(), "s.csv",
                    head=[(1, ["Export 2024"]), (2, ["I?O", "N?zev"])])
