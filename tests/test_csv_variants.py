"""CSV variants from the wild, as users run them, and what the preview says it read."""

from __future__ import annotations

from pathlib import Path

from sync.readers import read_source
from tests.conftest import FIXTURES, run_cli, write_csv

HOSTILE = FIXTURES / "hostile"


def preview(tmp_path: Path, source: Path, *args: str):
    return run_cli("preview", source, "--db", tmp_path / "r.db", "--plan",
                   tmp_path / "p.plan", *args)


def test_utf16_unicode_text_reports_encoding_and_tab(tmp_path: Path) -> None:
    result = preview(tmp_path, FIXTURES / "encodings" / "customers_utf16.txt", "--json")
    assert result.exit_code == 0, result.stderr
    source = result.json()["source"]
    assert (source["format"], source["encoding"], source["delimiter"]) == ("csv", "utf-16", "\t")
    assert source["columns"]["Asiakasnumero"] == "customer_number"


def test_sep_line_names_the_delimiter_and_is_not_a_row(tmp_path: Path) -> None:
    # commas dominate the text, but the sep= line says ';'
    path = write_csv(tmp_path / "s.csv", "\ufeffsep=;\nNimi;Osoite\nAho, Matti;Katu 1, A\n")
    table = read_source(path)
    assert (table.encoding, table.delimiter, table.header_row) == ("utf-8-sig", ";", 1)
    assert table.frame.rows() == [(2, "Aho, Matti", "Katu 1, A")]
    assert read_source(path, delimiter=",").headers == ["Nimi;Osoite"]  # the flag wins


def test_title_lines_error_names_the_header_row_and_the_flag_fixes_it(tmp_path: Path) -> None:
    source = HOSTILE / "title_lines.csv"
    refused = preview(tmp_path, source)
    assert refused.exit_code == 2
    assert "pass --header-row 4" in refused.stderr
    result = preview(tmp_path, source, "--header-row", "4", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["new"] == 1
    assert result.json()["source"]["header_row"] == 4
    assert result.json()["source"]["delimiter"] == ";"


def test_unknown_header_gets_a_did_you_mean(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "Nimi;Postinumeroo;Kengännumero\nAho;00100;42\n")
    result = preview(tmp_path, source, "--json")
    assert result.exit_code == 0, result.stderr
    info = result.json()["source"]
    assert info["ignored"] == ["Postinumeroo", "Kengännumero"]
    assert info["suggestions"] == {"Postinumeroo": "Postinumero"}
    human = preview(tmp_path, source)
    assert "ignored columns: Postinumeroo (did you mean 'Postinumero'?), Kengännumero" \
        in human.stdout
    assert "source: csv, encoding utf-8, delimiter ';', header row 1" in human.stdout
    assert "columns: Nimi -> name" in human.stdout


def test_a_mapped_field_is_not_suggested_again(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "Nimi;Nimi2\nAho;x\n")
    assert preview(tmp_path, source, "--json").json()["source"]["suggestions"] == {}


def test_missing_key_columns_are_listed_with_examples(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "Postinumero;Puhelin\n00100;040\n")
    result = preview(tmp_path, source, "--json")
    assert result.exit_code == 2
    assert "no customer number, business id or name column: a source needs at least one " \
           "of them (headers such as 'Customer number', 'Business ID', 'Name')" \
           in result.json()["error"]
