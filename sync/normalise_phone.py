"""Vectorised phone fast path: E.164 for the rows whose answer is certain.

phonenumbers' own per-region metadata (country code, national prefix, international
prefix, per-type patterns and possible lengths) becomes polars expressions. A row is
decided here only when its region is one of `FAST_REGIONS`, its cell holds nothing but
ASCII digits, a leading `+` and the separators `_SEPARATORS`, and the national
significant number it yields is valid for its country. Everything else (other regions,
other characters, invalid numbers, forms whose parsing has corner cases) is left null
for the per-distinct-value phonenumbers path, which also writes every issue.

The forms modelled are those `phonenumbers.parse` reads the same way: `+CC...`,
`00CC...` (an international prefix), `0...` (the trunk prefix, stripped once, also
after a country code), and a bare national number that neither starts with the
region's country code nor looks like an international prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata

FAST_REGIONS: tuple[str, ...] = ("FI", "SE", "CZ")
_SEPARATORS = r"[ ().\-/]"
_MAX_CHARS = 64
_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
          "personal_number", "voip", "pager", "uan", "voicemail")


@dataclass(frozen=True)
class _Region:
    code: str
    country_code: str
    trunk_zero: bool  # the national prefix for parsing is "0"
    idd_00: bool  # "00" is an international prefix here
    idd: str  # the international prefix pattern
    leading_digits: str | None  # set when several regions share the country code
    general: tuple[str, tuple[int, ...]]
    types: tuple[tuple[str, tuple[int, ...]], ...]


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


@cache
def _region(code: str) -> _Region:
    meta = PhoneMetadata.metadata_for_region(code)
    prefix = meta.national_prefix_for_parsing
    if prefix not in (None, "0") or meta.national_prefix_transform_rule:
        raise ValueError(f"{code}: national prefix rule not supported by the fast path")
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[meta.country_code]
    if regions[0] != code or (len(regions) > 1 and not meta.leading_digits):
        raise ValueError(f"{code}: shares its country code in a way the fast path can't model")
    cc = str(meta.country_code)
    # A shorter country code that prefixes this one would be read first by parse().
    if any(int(cc[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE for n in range(1, len(cc))):
        raise ValueError(f"{code}: country code {cc} has a prefix that is a country code")
    types = tuple(
        (desc.national_number_pattern, tuple(desc.possible_length))
        for name in _TYPES
        if (desc := getattr(meta, name)) is not None and desc.national_number_pattern)
    for pattern, _ in (*types, (meta.general_desc.national_number_pattern, ())):
        re.compile(_anchored(pattern))
    return _Region(
        code=code, country_code=cc, trunk_zero=prefix == "0",
        idd_00=re.fullmatch(meta.international_prefix, "00") is not None,
        idd=meta.international_prefix,
        leading_digits=meta.leading_digits if len(regions) > 1 else None,
        general=(meta.general_desc.national_number_pattern,
                 tuple(meta.general_desc.possible_length)),
        types=types)


def _matches(nsn: pl.Expr, pattern: str, lengths: tuple[int, ...]) -> pl.Expr:
    """phonenumbers' _is_number_matching_desc: length allowed and whole-number match."""
    found = nsn.str.contains(_anchored(pattern))
    return found & nsn.str.len_bytes().is_in(lengths) if lengths else found


def _valid(nsn: pl.Expr, region: _Region) -> pl.Expr:
    """The national significant number is a valid number of `region`'s country code."""
    ok = _matches(nsn, *region.general)
    if region.leading_digits:
        # parse() gives the number to the first region whose leading digits match.
        ok = ok & nsn.str.contains(f"^(?:{region.leading_digits})")
    return ok & pl.any_horizontal(_matches(nsn, p, lengths) for p, lengths in region.types)


def _strip_trunk(national: pl.Expr, region: _Region) -> pl.Expr:
    if not region.trunk_zero:
        return national
    return pl.when(national.str.starts_with("0")).then(national.str.slice(1)).otherwise(
        national)


def phone_fast(frame: pl.DataFrame, fast_regions: tuple[str, ...] = FAST_REGIONS) -> pl.Series:
    """E.164 where the fast path can decide a row's (trimmed value ``v``, region ``c``).

    Returns a String Series as long as ``frame``, null where undecided. A non-null
    answer is what `phonenumbers.parse(v, c)` formatted as E.164 gives, for a number
    `phonenumbers.is_valid_number` accepts.
    """
    known = [_region(code) for code in fast_regions]
    idd_regions = [r.code for r in known if r.idd_00]
    # Staged with_columns keep every expression small; one deep expression tree over
    # all regions made polars' optimiser take seconds.
    compact = pl.col("v").str.replace_all(_SEPARATORS, "")
    work = frame.select(
        pl.col("c"),
        ((pl.col("v").str.len_bytes() <= _MAX_CHARS) & pl.col("c").is_in(list(fast_regions))
         & compact.str.contains(r"^\+?[0-9]+$")).alias("ok"),
        compact.str.starts_with("+").alias("plus"),
        compact.str.strip_prefix("+").alias("digits"),
    )
    plus, digits, regions = pl.col("plus"), pl.col("digits"), pl.col("c")
    answers = []
    for i, target in enumerate(known):
        cc = target.country_code
        # +CC... from any fast region; 00CC... where 00 is the row region's prefix.
        international = (plus & digits.str.starts_with(cc)) | (
            ~plus & regions.is_in(idd_regions) & digits.str.starts_with("00" + cc))
        after_cc = pl.when(plus).then(digits.str.slice(len(cc))).otherwise(
            digits.str.slice(2 + len(cc)))
        # National forms: the row's own region, trunk 0 or a bare number.
        trunk = target.trunk_zero & digits.str.starts_with("0") & ~digits.str.starts_with("00")
        bare = (digits.str.contains(r"^[1-9]") & ~digits.str.starts_with(cc)
                & ~digits.str.contains(f"^(?:{target.idd})"))
        national = (regions == target.code) & ~plus & (trunk | bare)
        nsn = (pl.when(~pl.col("ok")).then(None)
               .when(international).then(_strip_trunk(after_cc, target))
               .when(national & trunk).then(digits.str.slice(1))
               .when(national).then(digits))
        name = f"nsn{i}"
        work = work.with_columns(nsn.alias(name))
        work = work.with_columns(
            pl.when(_valid(pl.col(name), target)).then(pl.lit("+" + cc) + pl.col(name))
            .alias(f"e164_{i}"))
        answers.append(f"e164_{i}")
    return work.select(pl.coalesce(answers)).to_series()
