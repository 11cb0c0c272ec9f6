"""Examples for every normaliser of sync.normalise (spec section 2)."""

from __future__ import annotations

import polars as pl
import pytest

import sync.normalise as normalise
from sync.canonicalise import canonicalise
from sync.normalise import ISSUE_CODES, NORMALISERS, OPTION_KEYS, name_key, normalise_column
from sync.rules import load_rules, map_headers
from tests.conftest import report_rows, run_cli, write_csv


def one(kind: str, value: str | None, country: str | None = None, **options: object) -> tuple:
    """(value, code) for a single cell."""
    countries = pl.Series([country], dtype=pl.String)
    frame = normalise_column(kind, pl.Series([value], dtype=pl.String), countries, options or None)
    assert frame.columns == ["value", "code", "detail"]
    assert frame.height == 1
    value_out, code, detail = frame.row(0)
    # A detail accompanies exactly the rows with an issue, and names the offending value.
    assert (code is None) == (detail is None)
    if code is not None:
        assert value.strip() in detail
    return value_out, code


def test_normalisers_lists_every_kind() -> None:
    assert NORMALISERS == {
        "key", "text", "collapse", "compact", "customer_type", "business_id",
        "vat_id", "email", "phone", "postal_code", "country", "language", "einvoice",
    }  # fmt: skip


# Clean and damaged cells of every kind: spreadsheet damage (scientific notation, error
# values, lost zeros and letters), typos, other countries' forms, hostile text.
_SAMPLE = [
    "1001", "0042", "12e5", "3,58401E+11", "3.58401e+11", "1E+11", "-1e5", "#N/A", "Err:502",
    "0401234567", "401234567", "+358401234567", "040 123 4567 ext. 12", "08-123 456 78",
    "12", "112038-9", "0112038-9", "1234567-8", "FI01120389", "SE556036079301",
    "556036-0793", "25596641", "3701120389", "003701120389", "00100", "100", "114 55",
    "FI-00100", "ABC12", "Suomi", "Sverige", "Česko", "FIN", "XX", "fi", "sv-FI", "klingon",
    "Yritys", "firma", "Fyzická osoba", "alien", "matti@Example.FI", "not an email",
    "a@b", "Dvo?ák", "HÃ¤meenlinna", "  Matti \t Virtanen \n", "x" * 300, "\u200b",
    "=\"00100\"", "fi12345678", "CZ25596641", "SE", "10\r\n01",
]


def test_every_normaliser_declares_its_codes_and_options() -> None:
    assert set(ISSUE_CODES) == NORMALISERS and set(OPTION_KEYS) == NORMALISERS


@pytest.mark.parametrize("kind", sorted(NORMALISERS))
def test_each_normaliser_emits_only_the_codes_it_declares(kind: str) -> None:
    # The rules check accepts in a field's severity table only the codes its normaliser
    # declares: a code emitted but not declared could never be given a severity.
    countries = ["FI", "SE", "CZ", "DE", "US", None]
    values = [v for v in _SAMPLE for _ in countries]
    frame = normalise_column(kind, pl.Series(values, dtype=pl.String),
                             pl.Series(countries * len(_SAMPLE), dtype=pl.String))
    emitted = set(frame["code"].drop_nulls())
    assert emitted <= ISSUE_CODES[kind]
    # ...and declares none it never emits (the sample holds a case of each).
    assert emitted == ISSUE_CODES[kind]


@pytest.mark.parametrize("kind", sorted(NORMALISERS))
@pytest.mark.parametrize("blank", [None, "", " ", "\t \n", "\u00a0"])
def test_blank_cells_give_null_without_issue(kind: str, blank: str | None) -> None:
    assert one(kind, blank, "FI") == (None, None)


@pytest.mark.parametrize("kind", sorted(NORMALISERS))
def test_frame_keeps_length_order_and_string_schema(kind: str) -> None:
    values = pl.Series(["b", None, "a", "b", "", "a"], dtype=pl.String)
    countries = pl.Series(["FI", "SE", None, "FI", "CZ", "SE"], dtype=pl.String)
    frame = normalise_column(kind, values, countries)
    assert frame.schema == {"value": pl.String, "code": pl.String, "detail": pl.String}
    assert frame.height == 6
    assert frame["value"][1] is None and frame["value"][4] is None
    # Same input and country give the same answer wherever the row sits.
    assert frame.row(0) == frame.row(3)


def test_unknown_kind_and_length_mismatch_raise() -> None:
    with pytest.raises(ValueError, match="unknown normaliser"):
        normalise_column("shoe_size", pl.Series(["42"]))
    with pytest.raises(ValueError, match="same length"):
        normalise_column("phone", pl.Series(["1", "2"]), pl.Series(["FI"]))


def test_library_kinds_call_python_once_per_distinct_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str | None]] = []
    real = normalise._ROW_FUNCTIONS["phone"]

    def counting(value: str, country: str | None) -> tuple[str, str | None, str | None]:
        calls.append((value, country))
        return real(value, country)

    monkeypatch.setitem(normalise._ROW_FUNCTIONS, "phone", counting)
    # FI and SE numbers in common forms are decided by the vectorised fast path;
    # other regions and odd values reach Python once per distinct pair.
    values = pl.Series(["0401234567", "0701234567", None, "030 12345678", "12"] * 10_000)
    countries = pl.Series(["FI", "SE", "FI", "DE", "FI"] * 10_000)
    frame = normalise_column("phone", values, countries)
    assert sorted(calls) == [("030 12345678", "DE"), ("12", "FI")]
    assert frame["value"].head(5).to_list() == ["+358401234567", "+46701234567", None,
                                                "+493012345678", "12"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" 0012 ", "0012"), ("007", "007"), ("A-1 b", "A-1 b"), ("\t42\n", "42")],
)
def test_key_trims_and_keeps_leading_zeros(raw: str, expected: str) -> None:
    assert one("key", raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Pay in 14 days  ", "Pay in 14 days"),
        ("line 1\r\nline 2\rline 3\nline 4", "line 1\nline 2\nline 3\nline 4"),
        ("\n a\n\n  b \n", "a\n\n  b"),
    ],
)
def test_text_trims_and_keeps_line_breaks(raw: str, expected: str) -> None:
    assert one("text", raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Matti   Virtanen ", "Matti Virtanen"),
        ("Main\tStreet\n1", "Main Street 1"),
        ("Acme\u00a0\u00a0Oy", "Acme Oy"),
        ("matti virtanen", "matti virtanen"),
        ("Line\r\n2", "Line 2"),
    ],
)
def test_collapse(raw: str, expected: str) -> None:
    assert one("collapse", raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 0037 1234 5678 ", "003712345678"),
        ("FI12 3456\t7890", "FI1234567890"),
        ("E204503", "E204503"),
    ],
)
def test_compact(raw: str, expected: str) -> None:
    assert one("compact", raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "expected", "code"),
    [
        (" 0037 1234 5678 ", "003712345678", None),
        ("3701120389", "003701120389", None),          # a spreadsheet dropped the 00
        ("370112038900001", "00370112038900001", None),  # 15 digits: Excel keeps them
        ("3,72617E+15", "3,72617E+15", "scientific_notation"),  # digits lost
        # ...in any program's form, as a phone's (not only Excel's E+).
        ("3.72617e+15", "3.72617e+15", "scientific_notation"),
        ("3.72617E15", "3.72617E15", "scientific_notation"),
        ("3,72617e15", "3,72617e15", "scientific_notation"),
        ("E204503", "E204503", None),                  # an operator code, not a number
        ("FI12 3456 7890", "FI1234567890", None),
        ("NDEAFIHH", "NDEAFIHH", None),
        ("37123", "37123", None),                      # too short to be an OVT address
        ("3760123456789", "3760123456789", None),      # a French GLN: no Y-tunnus inside
        ("3712345670", "3712345670", None),            # 1234567-0 is no valid Y-tunnus
    ],
)
def test_einvoice_repairs_lost_zeros_and_refuses_scientific_notation(
        raw: str, expected: str, code: str | None) -> None:
    assert one("einvoice", raw) == (expected, code)


@pytest.mark.parametrize(("raw", "code"), [
    ("1E+11", "scientific_notation"), ("3,5E+12", "scientific_notation"),
    ("1.23457E+11", "scientific_notation"), ("12e5", None), ("1E5", None), ("007", None),
])
def test_a_key_in_a_spreadsheets_scientific_notation_is_flagged(raw: str,
                                                               code: str | None) -> None:
    assert one("key", raw) == (raw, code)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("fi 0112-03.89", "FI01120389"),
        ("SE 5560 3607 9301", "SE556036079301"),
        ("cz25596641", "CZ25596641"),
    ],
)
def test_vat_id(raw: str, expected: str) -> None:
    assert one("vat_id", raw) == (expected, None)


@pytest.mark.parametrize(("kind", "raw", "country", "code"), [
    # QA: a Swedish VAT number of digits only, saved by a spreadsheet as 5,56036E+11, and
    # a German business id (not checked) so saved, were stored over good values, unsaid.
    ("vat_id", "5,56036E+11", None, "scientific_notation"),
    ("vat_id", " 1.23457E+11 ", None, "scientific_notation"),
    ("vat_id", "SE556036079301", None, None),
    ("business_id", "1,23457E+11", "DE", "scientific_notation"),
    ("business_id", "HRB 12345", "DE", None),
    ("business_id", "1,23457E+11", "FI", "invalid_business_id"),
])
def test_an_id_in_a_spreadsheets_scientific_notation_is_flagged(
        kind: str, raw: str, country: str | None, code: str | None) -> None:
    assert one(kind, raw, country)[1] == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Matti.Virtanen@Example.COM ", "Matti.Virtanen@example.com"),
        ("Info@Firma.CZ", "Info@firma.cz"),
        ("a.b+tag@sub.domain.fi", "a.b+tag@sub.domain.fi"),
    ],
)
def test_email_lowercases_domain_only(raw: str, expected: str) -> None:
    assert one("email", raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    ["matti", "matti@localhost", "a@b@Example.com", "matti virtanen@x.fi", "@x.fi", "a@x..fi",
     # Damaged on the way (pasted from a mail program or a link, two addresses in one
     # cell): these passed the check, and are never repaired silently.
     "<a@b.fi>", "mailto:a@b.fi", "a,b@c.fi", "a@b.fi;c@d.fi", "a@b.fi,c@d.fi",
     "Matti<a@b.fi>", "(a)@b.fi", '"a"@b.fi', "a\\b@c.fi", "a@[1.2.3.4]", "a\x01@b.fi",
     "a@b\u202e.fi"],
)
def test_email_syntax_errors_keep_trimmed_input(raw: str) -> None:
    assert one("email", f" {raw} ") == (raw, "invalid_email")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("company", "company"), ("person", "person"), ("Yritys", "company"),
        ("Henkilö", "person"), ("henkilo", "person"), ("Företag", "company"),
        ("  PRIVATPERSON ", "person"), ("Firma", "company"), ("Fyzická osoba", "person"),
        ("fyzicka osoba", "person"), ("COMPANY", "company"),
    ],
)  # fmt: skip
def test_customer_type_default_aliases(raw: str, expected: str) -> None:
    assert one("customer_type", raw) == (expected, None)


def test_customer_type_unknown() -> None:
    assert one("customer_type", " Yhdistys ") == ("Yhdistys", "unknown_customer_type")


def test_customer_type_uses_configured_values() -> None:
    values = {"company": ["Org"], "person": ["Human"]}
    assert one("customer_type", "org", values=values) == ("company", None)
    assert one("customer_type", "person", values=values) == ("person", None)
    assert one("customer_type", "Yritys", values=values) == ("Yritys", "unknown_customer_type")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("0112038-9", "FI", "0112038-9"),
        ("01120389", "FI", "0112038-9"),
        (" 0112038 - 9 ", "FI", "0112038-9"),
        ("2211937-1", "FI", None),
        # Spreadsheet damage: leading zero lost.
        ("112038-9", "FI", "0112038-9"),
        ("1120389", "FI", "0112038-9"),
        # VAT forms, whose prefix decides the country.
        ("FI01120389", "FI", "0112038-9"),
        ("FI12345671", "FI", "1234567-1"),
        ("556036-0793", "SE", "556036-0793"),
        ("5560360793", "SE", "556036-0793"),
        ("SE556036079301", "SE", "556036-0793"),
        # 12-digit forms: an organisation's with 16, a sole trader's personnummer with
        # its century (a valid date), read as the 10-digit organisationsnummer.
        ("165560360793", "SE", "556036-0793"),
        ("16556036-0793", "SE", "556036-0793"),
        ("19811218-9876", "SE", "811218-9876"),
        ("198112189876", "SE", "811218-9876"),
        ("20011218-9873", "SE", "011218-9873"),
        ("25596641", "CZ", "25596641"),
        ("255 96 641", "CZ", "25596641"),
        ("CZ25596641", "CZ", "25596641"),
        ("6947", "CZ", "00006947"),
        # Dashes autocorrect writes for a hyphen (Windows-1252's 0x96 is the en dash).
        ("0112038\u20139", "FI", "0112038-9"),
        ("0112038\u20119", "FI", "0112038-9"),
        ("0112038\u22129", "FI", "0112038-9"),
        ("0112038\u20129", "FI", "0112038-9"),
        (b"0112038\x969".decode("cp1252"), "FI", "0112038-9"),
        ("556036\u20130793", "SE", "556036-0793"),
        ("255\u201096\u2010641", "CZ", "25596641"),
        # Two leading zeros lost (0012345-7): 6 digits are repaired as 7 are.
        ("12345-7", "FI", "0012345-7"),
        ("123457", "FI", "0012345-7"),
        # Other countries: compact upper case, no validation.
        ("de 123 456 789", "DE", "DE123456789"),
        ("123-abc", "NO", "123-ABC"),
        ("12 34", None, "1234"),
    ],
)
def test_business_id(raw: str, country: str | None, expected: str | None) -> None:
    # The column decides most of these on its fast path; the per-value path, which
    # reads the cells the fast path leaves (a lower-case prefix, a no-break space),
    # must give the same.
    slow = normalise._business_id(raw.strip(), country)[:2]
    if expected is None:
        assert one("business_id", raw, country)[1] == "invalid_business_id"
        assert slow[1] == "invalid_business_id"
    else:
        assert one("business_id", raw, country) == (expected, None)
        assert slow == (expected, None)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("fi 0112 0389", "DE", "0112038-9"),
        ("SE556036079301", "NO", "556036-0793"),
        ("CZ25596641", "GB", "25596641"),
    ],
)
def test_a_vat_prefix_of_another_country_than_the_rows_is_read_and_warned(
        raw: str, country: str, expected: str) -> None:
    # On a row of a country without validation, the prefix decides how the id reads; the
    # row's country says otherwise, so the user is told (a warning: the status stays).
    assert one("business_id", raw, country) == (expected, "business_id_country")


@pytest.mark.parametrize(("raw", "country", "native"), [
    ("SE556036079301", "FI", "556036-0793"),
    ("SE 556036-0793 01", "CZ", "556036-0793"),
    ("fi 0112 0389", "SE", "0112038-9"),
    ("CZ25596641", "FI", "25596641"),
])
def test_a_vat_form_of_another_validated_country_is_rejected_as_its_native_form(
        raw: str, country: str, native: str) -> None:
    # QA: SE556036079301 on an FI row was stored as 556036-0793 on an FI customer (with
    # a warning), while 556036-0793 itself is Rejected there: that customer's export
    # could not be imported again. Both are Rejected now, with the same hint.
    prefix = raw[:2].upper()
    hint = (f"; it is a valid {prefix} business ID: if the customer is in {prefix}, fill "
            "in the row's country")
    for cell in (raw, native):
        frame = normalise_column("business_id", pl.Series([cell]), pl.Series([country]))
        assert frame.row(0) == (cell, "invalid_business_id",
                                f"invalid {country} business ID: '{cell}'{hint}")


def test_an_invalid_vat_form_of_another_validated_country_is_rejected_as_such() -> None:
    frame = normalise_column("business_id", pl.Series(["SE556036079401"]), pl.Series(["FI"]))
    assert frame.row(0) == (
        "SE556036079401", "invalid_business_id",
        "invalid FI business ID: 'SE556036079401' looks like a SE VAT number; put it in "
        "vat_id, or set the row's country")


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("0112038-8", "FI"),  # wrong check digit
        ("1234567-8", "FI"),
        ("FI12345678", "FI"),
        ("112038-8", "FI"),  # repaired id does not validate
        ("12345", "FI"),
        # At most two zeros of a Y-tunnus and four of an IČO are restored, on either
        # path, though 0001000-6 and 00000108 check out padded.
        ("10006", "FI"),
        ("108", "CZ"),
        ("Y-tunnus puuttuu", "FI"),
        ("556036-0794", "SE"),
        ("SE556036079401", "SE"),
        ("SE556036079302", "SE"),  # a Swedish VAT number ends in 01
        ("165560360794", "SE"),
        ("195560360793", "SE"),  # 19 is a person's century, and 556036 no date
        ("19811232-9876", "SE"),
        ("175560360793", "SE"),
        ("25596642", "CZ"),
        ("CZ25596642", "FI"),
        ("2559664X", "CZ"),
        ("0112038-9", "SE"),  # a Finnish id on a Swedish row
        # Zeros only pass the check digits but stand for "no id" (QA, session 16).
        ("0000000-0", "FI"),
        ("000000-0", "FI"),
        ("FI00000000", "FI"),
        ("000000-0000", "SE"),
        ("SE000000000001", "SE"),
    ],
)
def test_business_id_invalid_keeps_trimmed_input(raw: str, country: str) -> None:
    assert one("business_id", f" {raw} ", country) == (raw, "invalid_business_id")


def test_an_id_of_zeros_only_is_rejected_as_a_placeholder() -> None:
    # Stored, every row carrying the placeholder would match the customer holding it.
    assert normalise._business_id("0000000-0", "FI")[2] == (
        "invalid FI business ID: '0000000-0'; an ID of zeros only stands for none: "
        "leave the cell empty")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+358401234567", "FI", "+358401234567"),
        ("+358 40 123 4567", "FI", "+358401234567"),
        ("040-1234567", "FI", "+358401234567"),
        ("00358401234567", "FI", "+358401234567"),
        ("401234567", "FI", "+358401234567"),  # trunk 0 dropped by a spreadsheet
        ("(09) 123 4567", "FI", "+35891234567"),
        ("070-123 45 67", "SE", "+46701234567"),
        ("701234567", "SE", "+46701234567"),
        ("+46 70 123 45 67", "FI", "+46701234567"),
        ("777 123 456", "CZ", "+420777123456"),
        ("+358401234567", None, "+358401234567"),
    ],
)
def test_phone_e164(raw: str, country: str | None, expected: str) -> None:
    assert one("phone", raw, country) == (expected, None)


@pytest.mark.parametrize("raw", ["3.58401E+11", "3,58401E+11", "3.58401e11", "4.01235E+08"])
def test_phone_scientific_notation(raw: str) -> None:
    assert one("phone", raw, "FI") == (raw, "scientific_notation")


@pytest.mark.parametrize(
    ("raw", "country"),
    [("123", "FI"), ("not a number", "FI"), ("0401234567", None), ("040 123 4567 ext. 12", "FI"),
     # phonenumbers reads these as extensions too: no E.164 form holds one, and the
     # number without it would lose what was typed.
     ("040 123 4567 #12", "FI"), ("+358 40 123 4567 ,12", "FI")],
)
def test_phone_invalid_keeps_trimmed_input(raw: str, country: str | None) -> None:
    assert one("phone", f" {raw} ", country) == (raw, "invalid_phone")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("tel: 0401234567", "FI", "+358401234567"),
        ("tel:+358401234567", "FI", "+358401234567"),
        ("Tel. 040 123 4567", "FI", "+358401234567"),
        ("GSM 040 1234567", "FI", "+358401234567"),
        ("gsm:040-1234567", "FI", "+358401234567"),
        ("puh. 09 1234 567", "FI", "+35891234567"),
        ("Puhelin: 040 123 4567", "FI", "+358401234567"),
        ("Mob +46 70 123 45 67", "SE", "+46701234567"),
        ("tfn 08-123 456 78", "SE", "+46812345678"),
        ("Telefon: 777 123 456", "CZ", "+420777123456"),
    ],
)
def test_a_phone_label_before_the_number_is_read_past(raw: str, country: str,
                                                      expected: str) -> None:
    assert one("phone", raw, country) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    [
        # phonenumbers dropped one or two letters and read three or more as keypad
        # digits: each became another number, silently (QA).
        "+358 4O 123 4567", "040-12345S7", "040123456O", "040 CALL NOW", "040l234567",
        "0401234567 A", "0401234567 ab", "O401234567", "050 I234567", "040 123 4567 x",
        "tel 040 CALL NOW", "GSM040 l234567", "Matti 0401234567", "Fax 09 1234567",
        "telex 0401234567", "0401234567 GSM", "040 123 4567 ext. 12", "040 1234567 Ä",
    ],
)
def test_a_phone_with_a_letter_beyond_its_label_is_no_number(raw: str) -> None:
    assert one("phone", f" {raw} ", "FI") == (raw, "invalid_phone")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("00100", "FI", "00100"),
        ("100", "FI", "00100"),
        ("FI-00100", "FI", "00100"),
        ("fi-100", "FI", "00100"),
        ("114 55", "SE", "11455"),
        ("SE-114 55", "SE", "11455"),
        ("110 00", "CZ", "11000"),
        ("831 01", "SK", "83101"),
        ("1010", "DE", "01010"),
        ("02134", "US", "02134"),
        ("0150", "NO", "0150"),
        ("1010", "AT", "1010"),
        ("SW1A 1AA", "GB", "SW1A 1AA"),
        ("anything", None, "anything"),
        # QA: a US ZIP+4 code warned, and the older vehicle-code prefixes were not read.
        ("02134-1234", "US", "02134-1234"),
        ("S-114 55", "SE", "11455"),
        ("D-10115", "DE", "10115"),
        ("A-1010", "AT", "1010"),
        ("SF-00100", "FI", "00100"),
        ("CS-110 00", "CZ", "11000"),
    ],
)
def test_postal_code(raw: str, country: str | None, expected: str) -> None:
    assert one("postal_code", raw, country) == (expected, None)


def test_a_country_whose_letters_were_lost_as_question_marks_says_what_it_may_be() -> None:
    # QA: a Czech export through a Windows-1252 CSV: `?esko` was "unknown country" only,
    # beside a business-id message asking to fill in the country the row has.
    # A '?' stands for a letter past ASCII only: 'Fr?nce' is no France that lost one.
    frame = normalise_column("country", pl.Series(["?esko", "?v?dsko", "Xy?", "Fr?nce"]),
                             pl.Series([None] * 4, dtype=pl.String), None)
    assert frame["code"].to_list() == ["unknown_country"] * 4
    assert frame["detail"].to_list() == [
        "unknown country: '?esko'; its file's encoding lost letters as '?': it may be "
        "Česko (CZ); write the country's code, or import a UTF-8 file",
        "unknown country: '?v?dsko'; its file's encoding lost letters as '?': it may be "
        "Švédsko (SE); write the country's code, or import a UTF-8 file",
        "unknown country: 'Xy?'", "unknown country: 'Fr?nce'"]


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("001000", "FI"),
        ("0010O", "FI"),
        ("SE-00100", "FI"),
        ("Helsinki", "FI"),
        ("2134-1234", "US"),
        ("10115", "AT"),
        ("S11455", "SE"),
        ("F-75001", "FI"),
        ("D-10115", "AT"),
        # QA: padded to 01145, 01200, 00000: no code of those countries starts with 0, and
        # no code anywhere is zeros only, so no zeros were dropped.
        ("1145", "SE"),
        ("1200", "CZ"),
        ("01145", "SE"),
        ("0", "FI"),
        ("000", "DE"),
        ("999", "AT"),
    ],
)
def test_postal_code_invalid_keeps_trimmed_input(raw: str, country: str) -> None:
    assert one("postal_code", f" {raw} ", country) == (raw, "invalid_postal_code")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("FI", "FI"), ("fi", "FI"), (" se ", "SE"), ("Cz", "CZ"), ("FIN", "FI"),
        # fi
        ("Suomi", "FI"), ("Ruotsi", "SE"), ("Tšekki", "CZ"), ("Tsekki", "CZ"),
        # sv
        ("Finland", "FI"), ("Sverige", "SE"), ("Tjeckien", "CZ"),
        # cs
        ("Finsko", "FI"), ("Švédsko", "SE"), ("Česko", "CZ"), ("Cesko", "CZ"),
        # en
        ("Sweden", "SE"), ("Czechia", "CZ"), ("united kingdom", "GB"),
        ("Bosnia & Herzegovina", "BA"), ("bosnia herzegovina", "BA"),
        ("SUOMI", "FI"), ("Saksa", "DE"), ("Tyskland", "DE"), ("Německo", "DE"),
    ],
)  # fmt: skip
def test_country(raw: str, expected: str) -> None:
    assert one("country", raw) == (expected, None)


@pytest.mark.parametrize("raw", ["Narnia", "001", "150", "EU", "ZZ", "XX", "Suomi-Finland",
                                 "-", "?"])
def test_country_unknown(raw: str) -> None:
    assert one("country", raw) == (raw, "unknown_country")


@pytest.mark.parametrize("raw", ["N/A", "n/a", "N.A.", "F.I.", "fi.", "f i", "S-E"])
def test_a_code_is_a_code_only_as_written(raw: str) -> None:
    # Folded as names are (punctuation and spaces dropped), "N/A" was Namibia's NA, and
    # a row read as NA had its business id left unchecked. Names keep that folding.
    assert one("country", raw) == (raw, "unknown_country")
    assert one("language", raw) == (raw, "unknown_language")


@pytest.mark.parametrize(("raw", "country", "language"), [
    ("Na", "NA", "na"), ("na", "NA", "na"), (" fi ", "FI", "fi"), ("Fin", "FI", "fi"),
    ("ＦＩ", "FI", "fi"),
])
def test_codes_written_as_codes_still_read(raw: str, country: str, language: str) -> None:
    assert one("country", raw) == (country, None)
    assert one("language", raw) == (language, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("fi", "fi"), ("SV", "sv"), ("en", "en"), ("cs", "cs"),
        ("Suomi", "fi"), ("suomi", "fi"), ("ruotsi", "sv"), ("englanti", "en"),
        ("svenska", "sv"), ("finska", "fi"), ("Engelska", "en"),
        ("čeština", "cs"), ("cestina", "cs"), ("finština", "fi"),
        ("English", "en"), ("Finnish", "fi"), ("Swedish", "sv"), ("Czech", "cs"),
        ("en-GB", "en"), ("sv_FI", "sv"),
    ],
)  # fmt: skip
def test_language(raw: str, expected: str) -> None:
    assert one("language", raw) == (expected, None)


@pytest.mark.parametrize(("raw", "read_as"), [("SE", "se"), ("EE", "ee"), ("NA", "na")])
def test_a_country_code_in_the_language_column_warns(raw: str, read_as: str) -> None:
    # QA: SE (Sweden) was stored as Northern Sami and EE (Estonia) as Ewe, silently.
    assert one("language", raw) == (read_as, "language_country_code")


@pytest.mark.parametrize(("raw", "read_as"), [
    ("SV", "sv"), ("FI", "fi"), ("CS", "cs"), ("EN", "en"), ("DE", "de"), ("NO", "no"),
    ("se", "se"), ("Se", "se")])
def test_a_language_code_that_is_the_registers_or_the_countrys_does_not_warn(
        raw: str, read_as: str) -> None:
    # SV is El Salvador's code too, but Swedish is one of the register's languages; DE
    # and NO are their countries' languages; lower case is written as a language code.
    assert one("language", raw) == (read_as, None)


@pytest.mark.parametrize("raw", ["Klingon", "xx", "Suomi ja ruotsi", "-", "?", "U.K."])
def test_language_unknown(raw: str) -> None:
    assert one("language", raw) == (raw, "unknown_language")


def test_name_key() -> None:
    frame = pl.DataFrame({"name": ["  Matti \t VIRTANEN\n Oy ", None, "acme"]})
    keys = frame.select(name_key(pl.col("name"))).to_series().to_list()
    assert keys == ["matti virtanen oy", None, "acme"]


def test_the_default_rules_give_each_field_the_normaliser_of_spec_section_2() -> None:
    # The normalisers above are examples of each kind; this ties each field of the spec
    # to its kind in rules/customers.toml, so an edit of the rule file can't silently
    # change how a field is read.
    from sync.rules import load_rules

    fields = load_rules().fields
    assert {name: rule.normaliser for name, rule in fields.items()} == {
        "customer_number": "key", "customer_type": "customer_type", "name": "collapse",
        "business_id": "business_id", "vat_id": "vat_id", "email": "email",
        "phone": "phone", "street_address": "collapse", "postal_code": "postal_code",
        "city": "collapse", "country": "country", "customer_group": "collapse",
        "language": "language", "einvoice_address": "einvoice",
        "einvoice_operator": "einvoice", "invoice_text_before": "text",
        "invoice_text_after": "text", "notes": "text",
    }  # fmt: skip


@pytest.mark.parametrize(("raw", "country", "prefix"), [
    ("DE123456789", "FI", "DE"),
    ("GB1", "FI", "GB"),
    ("AT0", "FI", "AT"),
    ("ATU12345678", "FI", "AT"),
    ("no 123 456 789 mva", "FI", "NO"),
    ("IT0", "SE", "IT"),
    ("PL9", "CZ", "PL"),
    ("EL123456789", "CZ", "EL"),  # Greece's VAT prefix
])
def test_another_countrys_vat_number_on_a_validated_row_is_rejected(
        raw: str, country: str, prefix: str) -> None:
    # QA: the prefix switched the country to one without validation, and the row was New
    # with an id stored unchecked on a Finnish (or Swedish, Czech) customer.
    frame = normalise_column("business_id", pl.Series([raw]), pl.Series([country]))
    assert frame.row(0) == (
        raw, "invalid_business_id",
        f"invalid {country} business ID: '{raw}' looks like a {prefix} VAT number; put it "
        "in vat_id, or set the row's country")


@pytest.mark.parametrize(("raw", "country"), [
    ("DE123456789", "DE"), ("DE123456789", None), ("GB1", "NO"), ("NO123456789MVA", "NO")])
def test_a_vat_number_on_a_row_without_validation_is_kept_compact(
        raw: str, country: str | None) -> None:
    assert one("business_id", raw, country) == (raw.replace(" ", "").upper(), None)


@pytest.mark.parametrize(("raw", "country", "hint"), [
    ("556036-0793", "FI", "it is a valid SE business ID: if the customer is in SE, fill in "
                          "the row's country"),
    ("0112038-9", "SE", "it is a valid FI business ID"),
    ("25596641", "FI", "it is a valid CZ business ID"),
    ("16556036-0793", "FI", "it is a valid SE business ID"),
    ("1234567-8", "FI", None),   # a typo: valid nowhere, no hint
    ("556036-0794", "FI", None),
])
def test_an_id_written_as_another_countrys_says_so(raw: str, country: str,
                                                   hint: str | None) -> None:
    # A Swedish customer's id in a file without a country column is read as FI and
    # Rejected; the message said only "invalid FI business ID".
    frame = normalise_column("business_id", pl.Series([raw]), pl.Series([country]))
    value, code, detail = frame.row(0)
    assert (value, code) == (raw, "invalid_business_id")
    assert detail.startswith(f"invalid {country} business ID: '{raw}'")
    assert (hint in detail) if hint else detail == f"invalid {country} business ID: '{raw}'"


def test_a_column_of_few_values_skips_the_fast_path_with_the_same_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A fast path costs 10-30 ms a call whatever its rows: a small file's column goes to
    # the per-value normalisers, which answer the same.
    runs: list[int] = []
    real = normalise._FAST_PATHS["phone"]

    def spy(frame: pl.DataFrame) -> pl.Series:
        runs.append(frame.height)
        return real(frame)

    monkeypatch.setitem(normalise._FAST_PATHS, "phone", spy)
    few = normalise._FAST_PATH_FROM - 1
    cells = ["040 123 4567", "+46 8 123 456 78", "12", "3,58401E+11"]
    values = pl.Series([cells[i % 4] for i in range(few)] + [None])
    countries = pl.Series(["FI", "SE", "FI", "FI"] * (few // 4 + 1))[:few + 1]
    small = normalise.normalise_column("phone", values, countries)
    assert runs == []
    enough = normalise.normalise_column("phone", pl.concat([values, pl.Series(["12"])]),
                                        pl.concat([countries, pl.Series(["FI"])]))
    assert runs == [few + 1]
    assert enough.head(few + 1).equals(small)
    assert small["value"].head(4).to_list() == ["+358401234567", "+46812345678", "12",
                                                "3,58401E+11"]


@pytest.mark.usefixtures("fast_paths_always")
def test_a_fast_path_sees_only_cells_with_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # Empty cells have nothing to decide; running the fast path's expressions over them
    # cost a 1M-row preview about 0.4 s (most business id cells of people are empty).
    seen: list[list[str | None]] = []
    real = normalise._FAST_PATHS["phone"]

    def spy(frame: pl.DataFrame) -> pl.Series:
        seen.append(frame["v"].to_list())
        return real(frame)

    monkeypatch.setitem(normalise._FAST_PATHS, "phone", spy)
    values = pl.Series([None, "040 123 4567", "", "  ", "+46 8 123 456 78", None, "12"])
    countries = pl.Series(["FI", "FI", "FI", "FI", "SE", "FI", "FI"])
    result = normalise.normalise_column("phone", values, countries)
    assert seen == [["040 123 4567", "+46 8 123 456 78", "12"]]
    assert result["value"].to_list() == [None, "+358401234567", None, None, "+46812345678",
                                         None, "12"]
    assert result["code"].to_list()[-1] == "invalid_phone"
    seen.clear()
    assert normalise.normalise_column("phone", pl.Series([None, " "], dtype=pl.String),
                                      pl.Series(["FI", "FI"]))["value"].to_list() == [None, None]
    assert seen == []


@pytest.mark.parametrize("raw", ["10\n01", "10\r\n01", "10\r01"])
def test_a_key_holding_a_line_break_is_flagged(raw: str) -> None:
    assert one("key", raw) == (raw, "line_break")


def test_a_customer_number_holding_a_line_break_rejects_its_row(tmp_path) -> None:
    # QA: stored as typed, `1001\r\n2` came back from any spreadsheet as `1001\n2`,
    # another key: every later edit of that customer was a Conflict.
    source = write_csv(tmp_path / "s.csv", 'customer_number;name\n"10\r\n01";Aho Oy\n'
                                           "1002;Berg AB\n")
    result = run_cli("import", source, "--db", tmp_path / "r.db", "--yes",
                     "--report", tmp_path / "rep.csv", "--json")
    assert result.exit_code == 1
    assert (result.json()["new"], result.json()["rejected"]) == (1, 1)
    rejected = report_rows(tmp_path / "rep.csv")[0]
    assert rejected["status"] == "Rejected"
    assert rejected["message"] == (
        "customer_number: holds a line break, which no key has: '10\\r\\n01'")


def test_a_row_of_an_unknown_country_reads_its_values_as_the_default_country() -> None:
    # Spec section 2: values are read by the row's country, the rules' default where it
    # has none. A country the normaliser does not know ('Suomee', rejecting the row by
    # default) is none either: its phone and business id are still read as FI's, so what
    # the row says about them is what fixing the country would leave.
    rules = load_rules()
    header_map = map_headers(["name", "country", "phone", "business_id"], rules, "s.csv")
    source = pl.DataFrame({"_row": [2], "c0": ["Aho Oy"], "c1": ["Suomee"],
                           "c2": ["040 123 4567"], "c3": ["112038-9"]})
    result = canonicalise(source, header_map, rules)
    assert result.frame.select("phone", "business_id").row(0) == ("+358401234567",
                                                                  "0112038-9")
    assert result.issues["code"].to_list() == ["unknown_country"]


def test_a_code_the_rule_file_does_not_name_is_a_warning_and_the_status_stays(
        tmp_path) -> None:
    # The default rules' severity tables name neither business_id_country nor
    # language_country_code; a code a field's table does not name is a warning
    # (docs/rules.md), and the row stays New (docs/fields.md).
    source = write_csv(tmp_path / "s.csv", "name;country;business_id;language\n"
                                           "Aho GmbH;DE;SE556036079301;de\n"
                                           "Berg AB;SE;;SE\n")
    result = run_cli("preview", source, "--db", tmp_path / "r.db",
                     "--report", tmp_path / "rep.csv")
    assert result.exit_code == 0, result.stderr
    rows = report_rows(tmp_path / "rep.csv")
    assert [row["status"] for row in rows] == ["New", "New"]
    assert "is a SE business ID but the row's country is DE" in rows[0]["message"]
    assert "is also the country code of Sweden" in rows[1]["message"]
