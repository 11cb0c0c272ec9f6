"""vCard and address-label exports, read back with a vCard parser and a PDF reader."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest
import reportlab
import vobject

from sync.writers.labels import address_lines
from tests.conftest import load_register, run_cli, seed_register

SEED = ("customer_number;customer_type;name;email;phone;street_address;postal_code;city;"
        "country;notes\n"
        "1001;company;Kahvila Aurinko Oy;info@aurinko.fi;+358401234567;Mannerheimintie 1 A 5;"
        "00100;Helsinki;FI;Kahvi; tee\n"
        "1002;person;Matti Virtanen;matti@example.fi;040 765 4321;Hämeenkatu 3;33100;"
        "Tampere;FI;\n"
        "1003;company;Åberg & Söner AB;order@aberg.se;+46701234567;Drottninggatan 5;11455;"
        "Stockholm;SE;\n"
        "1004;company;Řeznictví Žluťoučký s.r.o.;;;Václavské náměstí 1;11000;Praha 1;CZ;\n"
        "1005;company;Rakennusliike Pitkänimi-Virtanen & Kumppanit Kommandiittiyhtiö;;;"
        "Teollisuusalueen Varastokatu 123 B 45, rakennus 7, kolmas kerros;90100;Oulu;FI;\n")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    seed_register(path, SEED.replace("Kahvi; tee", '"Kahvi; tee"'), tmp_path)
    return path


@pytest.fixture
def label_db(tmp_path: Path) -> Path:
    """The same customers, with a Czech name in letters every label font here has."""
    path = tmp_path / "labels.db"
    seed = SEED.replace("Řeznictví Žluťoučký s.r.o.", "Pekárna Žižka s.r.o.").replace(
        "Václavské náměstí 1", "Národní 1")
    seed_register(path, seed.replace("Kahvi; tee", '"Kahvi; tee"'), tmp_path)
    return path


def test_vcards_parse_back_with_the_same_names_phones_emails_addresses(db: Path,
                                                                       tmp_path: Path) -> None:
    dest = tmp_path / "customers.vcf"
    result = run_cli("export", dest, "--db", db, "--json")
    assert result.json()["count"] == 5
    cards = {c.contents["x-regsync-customer-number"][0].value: c
             for c in vobject.readComponents(dest.read_text(encoding="utf-8"))}
    assert set(cards) == {"1001", "1002", "1003", "1004", "1005"}

    company = cards["1001"]
    assert company.version.value == "4.0"
    assert company.kind.value == "org"
    assert company.fn.value == "Kahvila Aurinko Oy"
    assert company.org.value == ["Kahvila Aurinko Oy"]
    assert company.tel.value == "tel:+358401234567"
    assert company.email.value == "info@aurinko.fi"
    address = company.adr.value
    assert (address.street, address.code, address.city, address.country) == \
           ("Mannerheimintie 1 A 5", "00100", "Helsinki", "Finland")
    assert company.note.value == "Kahvi; tee"

    person = cards["1002"]
    assert person.kind.value == "individual"
    assert (person.n.value.given, person.n.value.family) == ("Matti", "Virtanen")
    assert person.tel.value == "tel:+358407654321"  # canonical E.164
    assert cards["1003"].fn.value == "Åberg & Söner AB"
    assert cards["1004"].adr.value.street == "Václavské náměstí 1"
    long_street = "Teollisuusalueen Varastokatu 123 B 45, rakennus 7, kolmas kerros"
    assert cards["1005"].adr.value.street == long_street  # folded lines unfold exactly


def test_vcard_values_hold_no_control_characters_but_a_tab() -> None:
    # QA: a bell or escape character in the notes was written raw (RFC 6350 allows
    # only a tab); line breaks are escaped as \n as before.
    from sync.writers.vcard import escape

    assert escape("a\x07b\tc\r\nd,e;f\x1b\x7f") == "ab\tc\\nd\\,e\\;f"


def test_vcard_lines_are_folded_at_75_octets(db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "c.vcf"
    run_cli("export", dest, "--db", db)
    raw = dest.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 75


@pytest.mark.parametrize("layout", ["8x2", "8x3"])
def test_labels_pdf_holds_names_and_addresses_in_postal_order(label_db: Path, tmp_path: Path,
                                                              layout: str) -> None:
    dest = tmp_path / "labels.pdf"
    result = run_cli("export", dest, "--db", label_db, "--labels", layout, "--json")
    assert result.json() == {"count": 5, "path": str(dest), "format": "labels",
                             "not_found": 0}
    reader = pypdf.PdfReader(dest)
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert round(float(page.mediabox.width)) == 595 and round(float(page.mediabox.height)) == 842
    text = " ".join(page.extract_text().split())
    for expected in ("Kahvila Aurinko Oy", "Mannerheimintie 1 A 5", "00100 Helsinki",
                     "Matti Virtanen", "33100 Tampere", "Åberg & Söner AB",
                     "114 55 Stockholm", "SWEDEN", "Pekárna Žižka s.r.o.", "Národní 1",
                     "110 00 Praha 1", "CZECHIA"):
        assert expected in text
    assert "FINLAND" not in text  # the home country is not written
    assert "Kommandiittiyhtiö" in text and "kolmas kerros" in text  # long lines kept


def test_a_letter_the_label_font_lacks_is_an_error_not_a_box(db: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"  # has no ř
    monkeypatch.setenv("REGSYNC_LABEL_FONT", str(vera))
    dest = tmp_path / "labels.pdf"
    result = run_cli("export", dest, "--db", db, "--json")
    assert result.exit_code == 2
    assert "customer 1004" in result.json()["error"] and "REGSYNC_LABEL_FONT" in \
        result.json()["error"]
    # The letters in the label's order (QA: sorted, 東京 read 京東); the advice to
    # install DejaVu Sans only where another font is in use.
    assert "cannot draw 'Ř" in result.json()["error"]
    assert "install DejaVu Sans" in result.json()["error"]
    assert not dest.exists()


def test_labels_fill_further_sheets(label_db: Path, tmp_path: Path) -> None:
    many = "customer_number;name;postal_code;city\n" + "".join(
        f"{2000 + i};Asiakas {i};00{100 + i};Helsinki\n" for i in range(20))
    load_register(label_db, many, tmp_path)
    dest = tmp_path / "labels.pdf"
    assert run_cli("export", dest, "--db", label_db, "--labels", "8x2").exit_code == 0
    reader = pypdf.PdfReader(dest)
    assert len(reader.pages) == 2  # 25 labels, 16 a sheet
    assert "Asiakas 19" in reader.pages[1].extract_text()


def test_address_order_by_country() -> None:
    row = {"name": "N", "street_address": "S 1", "postal_code": "12345", "city": "C"}
    assert address_lines({**row, "country": "FI"}, "FI") == ["N", "S 1", "12345 C"]
    assert address_lines({**row, "country": None}, "FI") == ["N", "S 1", "12345 C"]
    assert address_lines({**row, "country": "CZ"}, "FI") == ["N", "S 1", "123 45 C", "CZECHIA"]
    assert address_lines({**row, "country": "DE"}, "FI", "fi") == \
           ["N", "S 1", "12345 C", "SAKSA"]
    assert address_lines({**row, "country": "GB"}, "FI")[2:] == ["C", "12345", "UNITED KINGDOM"]
    assert address_lines({**row, "country": "US"}, "FI")[2:] == ["C 12345", "UNITED STATES"]


def test_a_label_never_runs_past_its_edge_and_keeps_its_postal_lines() -> None:
    # QA: a word wider than the label was drawn whole, over the next label or off the
    # page; and a very long name pushed the street, postcode, city and country off.
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics

    from sync.writers.labels import _PADDING, _fit, _font

    font = _font().fontName
    room_w, room_h = A4[0] / 3 - 2 * _PADDING, A4[1] / 8 - 2 * _PADDING
    word = "Donaudampfschifffahrtsgesellschaftskapitän Müller"
    size, lines = _fit(font, [word, "Hauptstraße 1", "10115 Berlin", "GERMANY"], room_w,
                       room_h, 10.0)
    assert all(pdfmetrics.stringWidth(line, font, size) <= room_w for line in lines)
    assert "".join(lines).replace(" ", "").startswith("Donaudampfschifffahrtsgesellschaft")
    name = ("Pohjois-Pohjanmaan Kiinteistöhuolto- ja Rakennuspalvelut Osakeyhtiö " * 6)[:395]
    street = ("Kauppurienkatu 12 B 34, 3. kerros, sisäpiha, porraskäytävä C, ovisummeri "
              "Meikäläinen")
    size, lines = _fit(font, [name, street, "114 55 Stockholm", "SWEDEN"], room_w, room_h,
                       10.0)
    assert lines[-2:] == ["114 55 Stockholm", "SWEDEN"]
    assert any(line.endswith("…") for line in lines)
    assert len(lines) * size * 1.2 <= room_h
