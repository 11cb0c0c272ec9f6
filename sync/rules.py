"""Load rule files into typed Rules and map source headers to fields.

A rule file is TOML (see rules/customers.toml). A user's file is laid over the default
one: each `[fields.X]` table it has replaces the default's table for X (or adds a custom
field), and each `[rules]` key it sets replaces the default's. Everything is checked
before any work starts: unknown keys, unknown normalisers, bad severities, issue codes
and option keys the field's normaliser does not have, aliases that two fields claim.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shlex
import tomllib
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rapidfuzz import fuzz, process

from sync.errors import RulesError, SourceError
from sync.lost_marks import lost_characters
from sync.namekey import words_of
from sync.normalise import (
    ISSUE_CODES,
    LOST_INFORMATION_CODES,
    NORMALISERS,
    OPTION_KEYS,
    customer_type_aliases,
    is_country,
)
from sync.types import (
    CUSTOMER_TYPES,
    FIELDS,
    HEADER_LANGUAGES,
    MATCH_KEYS,
    SEVERITIES,
    HeaderLanguage,
    Severity,
    SheetHead,
)

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "rules" / "customers.toml"

_RULES_KEYS = {"default_country", "match_order", "fuzzy_threshold", "fuzzy_match_threshold",
               "legal_forms"}
_FIELD_KEYS = {"aliases", "normaliser", "severity", "options", "headers"}
# English export headers are the canonical field names (spec section 9), so a rule file
# names headers for the other languages only.
_HEADER_KEYS = tuple(lang for lang in HEADER_LANGUAGES if lang != "en")
_CUSTOM_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Register columns that are not fields: a custom field must not take their names.
_RESERVED_NAMES = frozenset({"id", "group_id", "name_key", "locked_by", "invalidated",
                             "created_batch", "updated_batch"})
# PostgreSQL's system columns: every table has them, so a column of that name can't be
# added (DuplicateColumn), while SQLite takes it. Refused on both engines, so a register
# can move from one to the other. `oid` was one too before PostgreSQL 12.
_SYSTEM_COLUMNS = frozenset({"oid", "tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"})
# SQLite's name for a table's row id: a column of that name hides the row id from every
# query that asks for it by that name. (_rowid_ fails the name pattern already.)
_ROWID_NAMES = frozenset({"rowid"})

# Issue codes that other stages than the normaliser give a field, whatever its
# normaliser: the value is unknown (a spreadsheet's error value such as #N/A; UTF-8 text
# read as a single-byte encoding; a control character such as ESC, which no text of the
# register holds) or the register can't keep it (too long for a field it indexes). They
# always reject their row, so a severity table may name them as "error" only. The
# stages raise them by these names.
SPREADSHEET_ERROR = "spreadsheet_error"
UTF8_READ_AS_SINGLE_BYTE = "utf8_read_as_single_byte"
CONTROL_CHARACTER = "control_character"
TOO_LONG = "too_long"
ALWAYS_ERROR_CODES = frozenset({SPREADSHEET_ERROR, UTF8_READ_AS_SINGLE_BYTE,
                                CONTROL_CHARACTER, TOO_LONG})
# A cell a merged range covers: the sheet shows the range's value there, the file holds
# none. Always a warning (the cell is read as the file holds it).
MERGED_CELL = "merged_cell"


@dataclass(frozen=True)
class FieldRule:
    """One register field: the headers that map to it, its normaliser and severities."""

    name: str
    aliases: tuple[str, ...]
    normaliser: str
    severity: Mapping[str, Severity] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    def severity_of(self, code: str) -> Severity:
        """Severity of an issue code on this field; codes not listed are warnings."""
        return self.severity.get(code, "warn")


@dataclass(frozen=True)
class Rules:
    """A loaded, checked rule set."""

    fields: Mapping[str, FieldRule]
    default_country: str
    match_order: tuple[str, ...]
    fuzzy_threshold: float
    legal_forms: tuple[str, ...]
    source: str
    digest: str
    # None: similarity never matches (the default). A number: a row decided by its name
    # that finds no customer of that exact name matches the one customer whose name is at
    # least this similar (spec section 4, "unless the rules turn fuzzy matching on").
    fuzzy_match_threshold: float | None = None

    @property
    def custom_fields(self) -> tuple[str, ...]:
        """Fields the rules add beyond the built-in ones, in rule-file order."""
        return tuple(name for name in self.fields if name not in FIELDS)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Every field: built-in ones in canonical order, then custom ones."""
        return tuple(f for f in FIELDS if f in self.fields) + self.custom_fields

    def header_names(self, language: HeaderLanguage) -> dict[str, str]:
        """Export header per field (in field_names order) for `language`.

        `en` gives the canonical field names; another language gives the field's
        `headers` entry, or the field name where the rules name none. Every header is
        one of its field's aliases, so the exported file imports back with no mapping.
        """
        return {name: self.fields[name].headers.get(language, name) if language != "en"
                else name for name in self.field_names}


@functools.lru_cache(maxsize=2**16)
def header_key(text: str) -> str:
    """The comparison form of a header or alias: no case, accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in stripped.casefold() if ch.isalnum())


def load_rules(path: Path | None = None) -> Rules:
    """Load the default rules, laid over by the user's file at `path` when given.

    Raises RulesError naming the file, and the line or the key, for any problem.
    """
    user = _file_bytes(path) if path is not None else None
    return _rules_of(_file_bytes(DEFAULT_RULES_PATH), path, user)


# Rules are frozen and never changed once built, so one built from the same bytes is
# handed out again: a job's files, a test suite's thousands of commands, build it once.
@functools.lru_cache(maxsize=8)
def _rules_of(default_bytes: bytes, path: Path | None, user_bytes: bytes | None) -> Rules:
    default = _parse_toml(DEFAULT_RULES_PATH, default_bytes)
    merged = (_merge(default, _parse_toml(path, user_bytes))
              if path is not None and user_bytes is not None else default)
    label = str(path) if path is not None else str(DEFAULT_RULES_PATH)
    return _build(merged, label, _lost_information_severities(default))


def _lost_information_severities(default: Mapping[str, Any]) -> dict[str, dict[str, Severity]]:
    """Per normaliser, the severity the default rules give each code that means lost
    information (LOST_INFORMATION_CODES) on the built-in fields with that normaliser;
    the strictest where two such fields differ.

    A field whose own severity table does not name such a code gets this one: a custom
    `phone` field rejects `3,58401E+11` as the built-in phone does (the digits are gone,
    whatever the column), and so does the built-in phone when a user's table restates
    only `invalid_phone`. A table that names the code decides for itself.
    """
    out: dict[str, dict[str, Severity]] = {}
    fields = default.get("fields", {})
    for name, spec in fields.items() if isinstance(fields, dict) else ():
        if name not in FIELDS or not isinstance(spec, dict):
            continue
        normaliser, severity = spec.get("normaliser", "text"), spec.get("severity", {})
        for code, level in severity.items() if isinstance(severity, dict) else ():
            if code in LOST_INFORMATION_CODES and level in SEVERITIES:
                known = out.setdefault(normaliser, {})
                known[code] = "error" if "error" in (level, known.get(code)) else level
    return out


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RulesError(f"{path}: rule file not found") from None
    except OSError as exc:
        raise RulesError(f"{path}: cannot read rule file: {exc.strerror}") from None


def _parse_toml(path: Path, data: bytes) -> dict[str, Any]:
    try:
        # A BOM, as some Windows editors write, is no TOML but means UTF-8 all the same.
        return tomllib.loads(data.decode("utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8 by definition
        raise RulesError(f"{path}: not UTF-8 text (byte {exc.start}); save the rule file "
                         "as UTF-8") from None


def _merge(default: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    merged = {"rules": dict(default.get("rules", {})), "fields": dict(default.get("fields", {}))}
    for key, value in user.items():
        if key == "rules" and isinstance(value, dict):
            merged["rules"].update(value)
        elif key == "fields" and isinstance(value, dict):
            for name, spec in value.items():
                base = merged["fields"].get(name)
                # A field of the default rules keeps what the user's table does not
                # restate (an alias added must not drop its normaliser or severity).
                merged["fields"][name] = (_laid_over(base, spec) if isinstance(base, dict)
                                          and isinstance(spec, dict) else spec)
        else:
            merged[key] = value
    return merged


def _laid_over(base: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A default field's table `base` with the user's `spec` laid over it, key by key.

    Where `spec` names another normaliser and does not restate `severity` or `options`,
    the default's are kept only for the codes and option keys the new normaliser has:
    the others were the old normaliser's, and the rules check refuses them as unknown.
    """
    merged = {**base, **spec}
    normaliser = merged.get("normaliser", "text")
    if normaliser == base.get("normaliser", "text") or not isinstance(normaliser, str):
        return merged
    codes = ISSUE_CODES.get(normaliser, frozenset()) | ALWAYS_ERROR_CODES
    if "severity" not in spec and isinstance(base.get("severity"), dict):
        merged["severity"] = {c: v for c, v in base["severity"].items() if c in codes}
    if "options" not in spec and isinstance(base.get("options"), dict):
        keys = OPTION_KEYS.get(normaliser, frozenset())
        merged["options"] = {k: v for k, v in base["options"].items() if k in keys}
    return merged


def _build(data: dict[str, Any], label: str,
           inherited: Mapping[str, Mapping[str, Severity]] | None = None) -> Rules:
    """Check the merged rule data and build Rules; `inherited` (normaliser -> code ->
    severity) fills in what a field's own severity table does not name."""
    unknown = set(data) - {"rules", "fields"}
    if unknown:
        raise RulesError(
            f"{label}: unknown section {sorted(unknown)[0]!r} (expected rules, fields)")
    settings = data.get("rules", {})
    _require(isinstance(settings, dict), label, "[rules] must be a table")
    bad = set(settings) - _RULES_KEYS
    _require(not bad, label, f"unknown key rules.{sorted(bad)[0] if bad else ''}")
    fields_data = data.get("fields", {})
    _require(isinstance(fields_data, dict) and fields_data, label, "[fields] must name fields")
    fields = {name: _field_rule(name, spec, label, inherited or {})
              for name, spec in fields_data.items()}
    for required in ("customer_number", "name"):
        _require(required in fields, label, f"field {required!r} is required")
    _check_aliases(fields, label)

    country = settings.get("default_country", "FI")
    _require(isinstance(country, str) and re.fullmatch(r"[A-Z]{2}", country) is not None
             and is_country(country), label,
             f"rules.default_country must be the ISO alpha-2 code of a country, such as FI "
             f"(not {country!r})")
    order = settings.get("match_order", list(MATCH_KEYS))
    _require(isinstance(order, list) and order and all(k in MATCH_KEYS for k in order)
             and len(set(order)) == len(order), label,
             f"rules.match_order must list distinct keys among {', '.join(MATCH_KEYS)}")
    threshold = settings.get("fuzzy_threshold", 90)
    _require(_is_number(threshold) and 0 <= threshold <= 100, label,
             "rules.fuzzy_threshold must be a number from 0 to 100")
    match_threshold = settings.get("fuzzy_match_threshold")
    _require(match_threshold is None
             or (_is_number(match_threshold) and 85 <= match_threshold <= 100), label,
             "rules.fuzzy_match_threshold must be a number from 85 to 100 "
             "(leave it out to never match by similarity)")
    forms = settings.get("legal_forms", [])
    _require(isinstance(forms, list) and all(isinstance(f, str) for f in forms), label,
             "rules.legal_forms must be a list of strings")
    # A form is matched by its words; one without any (an empty string) strips nothing.
    blank = [f for f in forms if not words_of(f)]
    _require(not blank, label,
             f"rules.legal_forms: {blank[0] if blank else ''!r} is no legal form: each must "
             f"hold a letter or digit, such as \"oy\" or \"s.r.o.\"")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return Rules(fields=MappingProxyType(fields), default_country=country,
                 match_order=tuple(order),
                 fuzzy_threshold=float(threshold), legal_forms=tuple(forms), source=label,
                 digest=digest,
                 fuzzy_match_threshold=(None if match_threshold is None
                                        else float(match_threshold)))


def _is_number(value: Any) -> bool:
    """An int or float from TOML (a TOML boolean is a Python int, and is not one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _field_rule(name: str, spec: Any, label: str,
                inherited: Mapping[str, Mapping[str, Severity]]) -> FieldRule:
    where = f"fields.{name}"
    _require(isinstance(spec, dict), label, f"{where} must be a table")
    _require(name in FIELDS or _CUSTOM_FIELD_NAME.match(name) is not None, label,
             f"{where}: a custom field name must start with a lower-case letter, hold only "
             f"lower-case letters, digits and _, and be at most 63 characters "
             f"(PostgreSQL's limit for a column name)")
    _require(name not in _RESERVED_NAMES, label,
             f"{where}: {name!r} is a register column of its own; choose another name")
    _require(name not in _SYSTEM_COLUMNS, label,
             f"{where}: {name!r} is the name of a PostgreSQL system column, which no "
             f"register column can take (on either engine, so the register can move to "
             f"PostgreSQL); choose another name")
    _require(name not in _ROWID_NAMES, label,
             f"{where}: {name!r} is SQLite's name for a table's row id; choose another name")
    bad = set(spec) - _FIELD_KEYS
    _require(not bad, label, f"unknown key {where}.{sorted(bad)[0] if bad else ''}")
    aliases = spec.get("aliases", [])
    _require(isinstance(aliases, list) and all(isinstance(a, str) and header_key(a)
                                               for a in aliases), label,
             f"{where}.aliases must be a list of strings, each with a letter or digit "
             f"(headers are compared without case, accents, spaces and punctuation)")
    normaliser = spec.get("normaliser", "text")
    _require(normaliser in NORMALISERS, label,
             f"{where}.normaliser: unknown normaliser {normaliser!r} "
             f"(known: {', '.join(sorted(NORMALISERS))})")
    severity = spec.get("severity", {})
    _require(isinstance(severity, dict) and all(v in SEVERITIES for v in severity.values()),
             label, f"{where}.severity values must be one of {', '.join(SEVERITIES)}")
    _check_severity(severity, normaliser, where, label)
    severity = {**inherited.get(normaliser, {}), **severity}
    options = spec.get("options", {})
    _require(isinstance(options, dict), label, f"{where}.options must be a table")
    keys = OPTION_KEYS[normaliser]
    bad = sorted(set(options) - keys)
    _require(not bad, label, f"unknown key {where}.options.{bad[0] if bad else ''} " + (
        f"(keys the {normaliser} normaliser reads: {', '.join(sorted(keys))})" if keys
        else f"(the {normaliser} normaliser reads no options)"))
    if normaliser == "customer_type" and "values" in options:
        values = options["values"]
        _require(isinstance(values, dict) and set(values) <= set(CUSTOMER_TYPES)
                 and all(isinstance(names, list) and all(isinstance(n, str) for n in names)
                         for names in values.values()), label,
                 f"{where}.options.values must map {' and '.join(CUSTOMER_TYPES)} to lists "
                 f'of words, such as company = ["Yritys", "Firma"]')
        try:
            customer_type_aliases(values)
        except ValueError as exc:
            raise RulesError(f"{label}: {where}.options.values: {exc} (words are compared "
                             "ignoring case, accents, spaces and punctuation)") from None
    headers = spec.get("headers", {})
    _require(isinstance(headers, dict) and set(headers) <= set(_HEADER_KEYS), label,
             f"{where}.headers must be a table with keys among {', '.join(_HEADER_KEYS)} "
             f"(English headers are the field names)")
    _require(all(isinstance(h, str) and header_key(h) for h in headers.values()), label,
             f"{where}.headers values must be non-empty strings")
    # Headers are aliases too: a file exported with them maps back without help.
    known = {header_key(a) for a in [name, *aliases]}
    extra = [h for h in headers.values() if header_key(h) not in known]
    # Read-only views: one Rules serves every command that loads the same file.
    return FieldRule(name=name, aliases=tuple(dict.fromkeys([name, *aliases, *extra])),
                     normaliser=normaliser, severity=MappingProxyType(dict(severity)),
                     options=MappingProxyType(dict(options)),
                     headers=MappingProxyType(dict(headers)))


def _check_severity(severity: Mapping[str, str], normaliser: str, where: str,
                    label: str) -> None:
    """Refuse a code `normaliser` never raises (a typo, or another validator's code: it
    would change nothing, silently) and an always-error code set to anything else."""
    codes = ISSUE_CODES[normaliser]
    for code, level in severity.items():
        if code in ALWAYS_ERROR_CODES:
            _require(level == "error", label,
                     f"{where}.severity.{code}: always an error (the value is lost or the "
                     f"register can't keep it), whatever the rules say")
            continue
        own = (f"the {normaliser} normaliser raises {', '.join(sorted(codes))}" if codes
               else f"the {normaliser} normaliser raises none")
        _require(code in codes, label,
                 f"{where}.severity: unknown issue code {code!r} ({own}; every field may "
                 f"also name {', '.join(sorted(ALWAYS_ERROR_CODES))} as error)")


def _check_aliases(fields: Mapping[str, FieldRule], label: str) -> None:
    owner: dict[str, str] = {}
    for rule in fields.values():
        for alias in rule.aliases:
            key = header_key(alias)
            other = owner.setdefault(key, rule.name)
            _require(other == rule.name, label,
                     f"alias {alias!r} is claimed by both fields {other!r} and {rule.name!r}")


def _require(condition: bool, label: str, message: str) -> None:
    if not condition:
        raise RulesError(f"{label}: {message}")


KEY_FIELDS = ("customer_number", "business_id", "name")
"""A source needs a column for at least one of these, or no row can be matched or created."""

SUGGESTION_SCORE = 80
"""How similar (rapidfuzz ratio, 0-100) an unknown header must be to an alias to suggest it."""


@dataclass(frozen=True)
class HeaderMap:
    """Which source column feeds which field, and which headers map to nothing."""

    columns: Mapping[str, str]  # field -> source column name ("c0", "c1", ...)
    headers: Mapping[str, str]  # source header text -> field
    ignored: tuple[str, ...]
    suggestions: Mapping[str, str] = field(default_factory=dict)  # ignored header -> alias
    # A mapped header that is an alias with letters lost as '?' -> that alias.
    lost_letters: Mapping[str, str] = field(default_factory=dict)
    # An ignored header that so fits aliases of two or more fields -> {field: alias}.
    lost_letter_doubts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def map_headers(headers: Sequence[str], rules: Rules, source: str, *, header_row: int = 1,
                head: Sequence[tuple[int, Sequence[str]]] = (),
                column: Callable[[int], str] = lambda position: str(position + 1),
                ) -> HeaderMap:
    """Map source headers to fields through the aliases.

    A header that is no alias but is one with letters past ASCII lost as '?' (a file
    saved in an encoding without them: `Zem?` for `Země`) maps to that alias's field,
    and is listed in `lost_letters`; one that so fits aliases of two or more fields is
    ignored, and listed in `lost_letter_doubts`. Other headers that map to nothing are
    listed as ignored, each with the closest alias of a
    field not yet mapped when one is close enough ("did you mean"). Raises SourceError
    when two headers map to one field (naming both columns as `column` of their 0-based
    position words them, e.g. "2 (B)"), or when the file has none of the key columns
    (customer_number, business_id, name): the message lists what is missing, what the
    header row holds, and, when one of the file's first rows `head` ((row number, cells)
    as read) holds known headers, the --header-row that would use it.
    """
    lookup = _alias_lookup(rules)
    forms = _alias_forms(rules)
    columns: dict[str, str] = {}
    by_header: dict[str, str] = {}
    first_header: dict[str, tuple[int, str]] = {}
    ignored: list[str] = []
    lost: dict[str, str] = {}
    doubts: dict[str, dict[str, str]] = {}
    for position, header in enumerate(headers):
        field_name = lookup.get(header_key(header))
        if field_name is None and (fits := _lost_letter_fits(header, forms)):
            if len(fits) == 1:
                [(field_name, lost[header])] = fits.items()
            else:
                doubts[header] = fits
        if field_name is None:
            ignored.append(header or f"(no header, column {position + 1})")
            continue
        if field_name in columns:
            at, first = first_header[field_name]
            raise SourceError(
                f"{source}: headers {_as_read(first, lost)} in column {column(at)} and "
                f"{_as_read(header, lost)} in column {column(position)} both map to field "
                f"{field_name}; remove or rename one of them")
        columns[field_name] = f"c{position}"
        first_header[field_name] = (position, header)
        by_header[header] = field_name
    suggestions = _suggest([h for h in ignored if h not in doubts], rules, set(columns))
    if not any(key in columns for key in KEY_FIELDS):
        raise SourceError(_no_key_message(headers, rules, source, header_row, head,
                                          suggestions))
    return HeaderMap(columns=columns, headers=by_header, ignored=tuple(ignored),
                     suggestions=suggestions, lost_letters=lost, lost_letter_doubts=doubts)


def _as_read(header: str, lost: Mapping[str, str]) -> str:
    """`header` quoted, with the alias it was read as when it had letters lost as '?'."""
    return f"{header!r} (read as {lost[header]!r})" if header in lost else repr(header)


def _alias_lookup(rules: Rules) -> dict[str, str]:
    return {header_key(alias): rule.name for rule in rules.fields.values()
            for alias in rule.aliases}


_AliasForms = dict[int, list[tuple[str, str, str]]]


def _lost_letter_form(text: str, marks: bool) -> str:
    """`text` as lost letters are fitted: composed (NFC, so a letter and its accent are
    one character, as an encoding loses them), with only the characters header_key
    keeps (letters and digits), and '?' too when `marks`."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text)
                   if (marks and ch == "?") or header_key(ch))


def _alias_forms(rules: Rules) -> _AliasForms:
    """Every alias's lost-letter form, by its length: (form, field, alias)."""
    forms: _AliasForms = {}
    for rule in rules.fields.values():
        for alias in rule.aliases:
            form = _lost_letter_form(alias, marks=False)
            forms.setdefault(len(form), []).append((form, rule.name, alias))
    return forms


def fits_with_lost_letters(header: str, alias: str) -> bool:
    """Whether `header` is `alias` with some letters past ASCII lost as '?', otherwise
    equal as headers are compared (see `_lost_letter_fits`)."""
    if "?" not in header:
        return False
    form, alias_form = _lost_letter_form(header, marks=True), _lost_letter_form(alias,
                                                                                 marks=False)
    return len(form) == len(alias_form) and lost_characters(form, alias_form, header_key)


def _lost_letter_fits(header: str, forms: _AliasForms) -> dict[str, str]:
    """The fields with an alias that `header` is with some letters past ASCII lost as
    '?' (each '?' one letter, where the alias has a letter past ASCII), otherwise equal
    as headers are compared (case and accents ignored): field -> its first such alias."""
    if "?" not in header:
        return {}
    form = _lost_letter_form(header, marks=True)
    fits: dict[str, str] = {}
    for alias_form, field_name, alias in forms.get(len(form), ()):
        if field_name not in fits and lost_characters(form, alias_form, header_key):
            fits[field_name] = alias
    return fits


def _suggest(ignored: Sequence[str], rules: Rules, mapped: set[str]) -> dict[str, str]:
    """The closest alias of an unmapped field for each ignored header, when close enough."""
    choices: dict[str, str] = {}
    for rule in rules.fields.values():
        if rule.name not in mapped:
            for alias in reversed(rule.aliases):  # "Postal code" rather than "postal_code"
                choices.setdefault(header_key(alias), alias)
    out: dict[str, str] = {}
    for header in ignored:
        key = header_key(header)
        if not key:
            continue
        best = process.extractOne(key, list(choices), scorer=fuzz.ratio,
                                  score_cutoff=SUGGESTION_SCORE)
        if best is not None:
            out[header] = choices[best[0]]
    return out


def _no_key_message(headers: Sequence[str], rules: Rules, source: str, header_row: int,
                    head: Sequence[tuple[int, Sequence[str]]],
                    suggestions: Mapping[str, str]) -> str:
    lookup = _alias_lookup(rules)
    examples = ", ".join(
        repr(next((a for a in rules.fields[k].aliases if not a.islower()), k))
        for k in KEY_FIELDS if k in rules.fields)
    shown = ", ".join(repr(h) for h in headers[:6] if h) or "nothing"
    # A workbook's sheet is named: the sheet read may be the wrong one (an instructions
    # sheet first), and a delimiter means nothing there.
    sheet = head.sheet if isinstance(head, SheetHead) else None
    where = f"sheet {sheet!r} has " if sheet is not None else ""
    message = (f"{source}: {where}no customer number, business id or name column: a source "
               f"needs at least one of them (headers such as {examples}); row {header_row} "
               f"holds {shown}")
    keyed = {h: a for h, a in suggestions.items() if lookup.get(header_key(a)) in KEY_FIELDS}
    if keyed:
        return message + "; did you mean " + ", ".join(
            f"{a!r} for {h!r}" for h, a in keyed.items()) + "?"
    def field_of(cell: str) -> str | None:
        fits = _lost_letter_fits(cell, forms)
        return lookup.get(header_key(cell)) or (next(iter(fits)) if len(fits) == 1 else None)

    forms = _alias_forms(rules)
    found = _header_in(head, field_of, skip=header_row)
    if found is not None:
        number, known = found
        return (message + f"; row {number} looks like the header ({known}): "
                f"pass --header-row {number}")
    if not isinstance(head, SheetHead):
        return message + "; check the header row (--header-row) and the delimiter (--delimiter)"
    others = head.other_sheets()
    for name, rows in others:
        found = _header_in(rows, field_of)
        if found is not None:
            number, known = found
            flags = f"--sheet {shlex.quote(name)}" + (
                f" --header-row {number}" if number != 1 else "")
            return (message + f"; sheet {name!r} has one (row {number}: {known}): "
                    f"pass {flags}")
    if others:
        names = ", ".join(repr(name) for name, _ in others)
        return (message + "; check the header row (--header-row), or name the sheet that "
                f"holds the customers with --sheet (the other sheets: {names})")
    return message + "; check the header row (--header-row)"


def _header_in(rows: Sequence[tuple[int, Sequence[str]]],
               field_of: Callable[[str], str | None],
               skip: int | None = None) -> tuple[int, str] | None:
    """The first of `rows` (but row `skip`) with a header that maps to a key field (what
    map_headers needs; `field_of` gives a cell's field), as (row number, its known
    headers shown), or None."""
    for number, cells in rows:
        if number != skip and any(field_of(cell) in KEY_FIELDS for cell in cells):
            return number, ", ".join(repr(c.strip()) for c in cells if field_of(c))
    return None
