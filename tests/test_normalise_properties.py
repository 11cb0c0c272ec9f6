"""Property tests for sync.normalise: every normaliser is idempotent."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cz.dic import calc_check_digit_legal
from stdnum.fi import alv

from sync.normalise import NORMALISERS, _phone, normalise_column

# The fast paths run on these few values too, as on a large file's, to be held to the
# per-value normalisers.
pytestmark = pytest.mark.usefixtures("fast_paths_always")

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Unicode White_Space, what polars trims and what its regex \s matches; Python's
# str.isspace() also counts the ASCII separators \x1c-\x1f, which are kept.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
COUNTRIES = ["FI", "SE", "CZ", "SK", "DE", "NO", "AT", "US", "GB", "EE", None]

# Cells as they come from a CSV: mostly arbitrary text, padded with assorted whitespace.
padding = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", "\r\n"])
any_text = st.text(max_size=30)


def padded(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda a, s, b: a + s + b, padding, inner, padding)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


def fi_ytunnus(base: str) -> str | None:
    check = -alv.checksum(base + "0") % 11
    return None if check == 10 else f"{base}-{check}"


# Zeros only pass the check digit but are Rejected as a placeholder: no valid id.
fi_ids = digits(7).map(fi_ytunnus).filter(lambda i: bool(i and i.strip("0-")))
se_ids = digits(9).map(lambda b: b + luhn.calc_check_digit(b)).filter(lambda i: i.strip("0"))
cz_ids = digits(7).map(lambda b: b + calc_check_digit_legal(b))

business_ids = st.one_of(
    st.tuples(fi_ids, st.just("FI")),
    st.tuples(fi_ids.map(lambda i: "FI" + i.replace("-", "")), st.just("FI")),
    st.tuples(fi_ids.map(lambda i: i.lstrip("0")), st.just("FI")),
    st.tuples(se_ids, st.just("SE")),
    st.tuples(se_ids.map(lambda i: f"SE{i}01"), st.just("SE")),
    st.tuples(se_ids.map(lambda i: f"{i[:6]}-{i[6:]}"), st.just("SE")),
    st.tuples(cz_ids, st.just("CZ")),
    st.tuples(cz_ids.map(lambda i: "CZ " + i), st.just("CZ")),
    st.tuples(any_text, st.sampled_from(COUNTRIES)),
)

phones = st.one_of(
    st.tuples(
        st.builds(
            lambda p, r, fmt: fmt.format(p=p, r=r),
            st.sampled_from(["40", "41", "44", "45", "50"]),
            digits(7),
            st.sampled_from(["0{p}{r}", "0{p}-{r}", "+358 {p} {r}", "00358{p}{r}", "{p}{r}"]),
        ),
        st.just("FI"),
    ),
    st.tuples(
        st.builds(
            lambda p, r, fmt: fmt.format(p=p, r=r),
            st.sampled_from(["70", "72", "73", "76"]),
            digits(7),
            st.sampled_from(["0{p}{r}", "0{p}-{r}", "+46 {p} {r}", "{p}{r}"]),
        ),
        st.just("SE"),
    ),
    st.tuples(st.from_regex(r"[0-9+() \-]{3,16}", fullmatch=True), st.sampled_from(COUNTRIES)),
    st.tuples(any_text, st.sampled_from(COUNTRIES)),
)

postal_codes = st.tuples(
    st.one_of(
        st.text("0123456789", min_size=1, max_size=5),
        st.builds(lambda a, b: f"{a} {b}", digits(3), digits(2)),
        st.builds(lambda c, d: f"{c}-{d}", st.sampled_from(["FI", "SE", "fi"]), digits(5)),
        any_text,
    ),
    st.sampled_from(COUNTRIES),
)

case_variants = st.sampled_from([str, str.upper, str.lower, str.title])
country_names = st.builds(
    lambda name, case: case(name),
    st.sampled_from(
        ["Suomi", "Sverige", "Česko", "Czechia", "Tšekki", "Finland", "Ruotsi", "Tjeckien",
         "Finsko", "Švédsko", "Saksa", "fi", "SE", "CZ", "Norja", "Dánsko", "Germany"]
    ),
    case_variants,
)  # fmt: skip
language_names = st.builds(
    lambda name, case: case(name),
    st.sampled_from(
        ["suomi", "svenska", "English", "čeština", "Finnish", "ruotsi", "fi", "SV", "en-GB",
         "norska", "němčina", "saksa"]
    ),
    case_variants,
)  # fmt: skip
customer_types = st.builds(
    lambda name, case: case(name),
    st.sampled_from(
        ["company", "person", "Yritys", "Henkilö", "Företag", "Privatperson", "Firma",
         "Fyzická osoba"]
    ),
    case_variants,
)  # fmt: skip
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[A-Za-z0-9._+\-]{1,12}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9\-]{1,12}", fullmatch=True),
    st.sampled_from(["fi", "SE", "Cz", "COM"]),
)


def run(kind: str, value: str | None, country: str | None) -> tuple[str | None, str | None]:
    frame = normalise_column(
        kind, pl.Series([value], dtype=pl.String), pl.Series([country], dtype=pl.String)
    )
    value_out, code, _detail = frame.row(0)
    return value_out, code


def assert_idempotent(kind: str, value: str | None, country: str | None) -> None:
    first, code = run(kind, value, country)
    if value is None or not value.strip(WHITESPACE):
        assert (first, code) == (None, None)
        return
    if code is None:
        assert run(kind, first, country) == (first, None)


SAMPLES: dict[str, st.SearchStrategy[tuple[str, str | None]]] = {
    "key": st.tuples(padded(any_text), st.none()),
    "text": st.tuples(padded(any_text), st.none()),
    "collapse": st.tuples(padded(any_text), st.none()),
    "compact": st.tuples(padded(any_text), st.none()),
    "einvoice": st.tuples(padded(st.one_of(
        any_text, st.from_regex(r"\A(0037|37)[0-9]{8,13}\Z"),
        st.from_regex(r"\A[0-9]([.,][0-9]{1,5})?E\+[0-9]{1,2}\Z"))), st.none()),
    "vat_id": st.tuples(padded(any_text), st.none()),
    "email": st.tuples(padded(st.one_of(emails, any_text)), st.none()),
    "customer_type": st.tuples(padded(st.one_of(customer_types, any_text)), st.none()),
    "business_id": business_ids.map(lambda p: (f" {p[0]} ", p[1])),
    "phone": phones,
    "postal_code": postal_codes,
    "country": st.tuples(padded(st.one_of(country_names, any_text)), st.none()),
    "language": st.tuples(padded(st.one_of(language_names, any_text)), st.none()),
}


def test_every_kind_has_a_property() -> None:
    assert set(SAMPLES) == NORMALISERS


@pytest.mark.parametrize("kind", sorted(SAMPLES))
@FAST
@given(data=st.data())
def test_every_kind_is_idempotent(kind: str, data: st.DataObject) -> None:
    assert_idempotent(kind, *data.draw(SAMPLES[kind], label="(value, country)"))


@FAST
@given(fi_ids)
def test_valid_fi_ids_are_accepted_with_and_without_lost_zeros(ytunnus: str) -> None:
    assert run("business_id", ytunnus, "FI") == (ytunnus, None)
    if ytunnus.startswith("0") and not ytunnus.startswith("00"):
        assert run("business_id", ytunnus[1:], "FI") == (ytunnus, None)


@FAST
@given(padded(any_text))
def test_collapse_never_leaves_double_spaces(value: str) -> None:
    out, code = run("collapse", value, None)
    assert code is None
    if out is not None:
        assert "  " not in out
        assert out == out.strip(WHITESPACE)
        assert not any(ch in WHITESPACE for ch in out.replace(" ", ""))


@FAST
@given(st.integers(min_value=1, max_value=6), digits(4))
def test_key_keeps_leading_zeros(zeros: int, rest: str) -> None:
    value = "0" * zeros + rest
    assert run("key", f" {value} ", None) == (value, None)


@FAST
@given(
    st.lists(st.sampled_from(["040 123 4567", "401234567", "0701234567", None, "x"]), max_size=20)
)
def test_phone_column_order_and_length(values: list[str | None]) -> None:
    countries = ["FI"] * len(values)
    frame = normalise_column("phone", pl.Series(values, dtype=pl.String), pl.Series(countries))
    # Each value as the per-value normaliser alone makes it (the column ran the fast path).
    expected = [None if v is None else _phone(v, "FI")[0] for v in values]
    assert frame["value"].to_list() == expected


@FAST
@given(st.from_regex(r"\A[0-9]{8}\Z"))
def test_the_vectorised_ytunnus_check_agrees_with_python_stdnum(digits: str) -> None:
    from stdnum.fi import ytunnus

    from sync.normalise import _ytunnus_digits_valid

    checked = pl.select(_ytunnus_digits_valid(pl.lit(digits))).item()
    assert checked == bool(ytunnus.is_valid(digits))


# Letters and combining marks whose case mapping may leave a sequence NFC composes
# (`ı́` upper case is `I` and an acute: `Í` once composed).
_MARKED = st.text(alphabet=st.sampled_from(list("aıiIéEsS \u0301\u0308\u030c\u0307")),
                  min_size=1, max_size=10)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
@FAST
@given(data=st.data())
def test_what_a_normaliser_stores_reads_back_as_it_is(kind: str, data: st.DataObject) -> None:
    # The readers compose text that holds a combining mark (NFC); a stored value they
    # would change comes back from an export as an edit (QA: a VAT id with `ı́`).
    value, country = data.draw(st.one_of(SAMPLES[kind], st.tuples(_MARKED, st.none())))
    out, code = run(kind, unicodedata.normalize("NFC", value), country)  # as read
    if out is not None and code is None:
        assert unicodedata.normalize("NFC", out) == out
