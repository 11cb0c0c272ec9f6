"""Spec section 10: the headers every default rule file accepts, per language."""

from __future__ import annotations

import pytest

from sync.errors import SourceError
from sync.rules import header_key, load_rules, map_headers

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
