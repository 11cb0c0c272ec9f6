"""A reader's advice, which names `regsync preview`'s options, as a job's settings.

"pass --encoding cp850" helps at a terminal; in a job the operator sets `encoding` in
`[source]` instead (`regsync run` has no such option).
"""

from __future__ import annotations

import codecs
import json
import re
import shlex

_FLAGS = "encoding|delimiter|sheet|header-row"
# A word, or a shell-quoted one: quoted parts side by side, as shlex.quote writes a name
# with an apostrophe ('Kim'"'"'s'). Not "-": the next flag.
_VALUE = r"(?:'[^']*'|\"[^\"]*\")+|[^\s,;()'\"-][^\s,;()'\"]*"
_ONE = re.compile(rf"--(?P<flag>{_FLAGS})(?: (?P<value>{_VALUE}))?")
_RUN = re.compile(rf"(?P<verb>pass (?P<another>another )?)?--(?:{_FLAGS})(?: (?:{_VALUE}))?"
                  rf"(?: --(?:{_FLAGS})(?: (?:{_VALUE}))?)*")
_LEAVE_OUT = re.compile(r"leave --(encoding|delimiter|sheet|header-row) out")
# The CLI's advice in an encoding doubt.
_DOUBT = re.compile(r"pass --encoding (\S+) if that is right")


def _setting(flag: str, value: str | None) -> tuple[str, str | None]:
    """The [source] key of `flag`, and `value` as TOML (None if it is no value of it:
    "no single --encoding reads it" has the word after the flag)."""
    key = flag.replace("-", "_")
    if value is None:
        return key, None
    plain = shlex.split(value)[0] if value[0] in "'\"" else value
    if key == "header_row":
        return key, plain if plain.isdigit() else None
    if key == "encoding":
        try:
            codecs.lookup(plain)
        except LookupError:
            return key, None
    elif key == "delimiter" and value[0] not in "'\"":
        return key, None
    return key, json.dumps(plain, ensure_ascii=False)


def _rewrite(match: re.Match[str]) -> str:
    settings, rest = [], ""
    for one in _ONE.finditer(match.group(0)):
        key, value = _setting(one.group("flag"), one.group("value"))
        if value is None and one.group("value"):
            rest = " " + one.group("value")  # a word of the sentence, not a value
        settings.append((key, value))
    if match.group("verb") is None:
        said = " ".join(f"{k} = {v}" if v is not None else f"[source] {k}"
                        for k, v in settings)
        return said + rest
    if match.group("another"):
        return f"set another {settings[0][0]} in [source]" + rest
    said = " and ".join(f"{k} = {v}" if v is not None else k for k, v in settings)
    return f"set {said} in [source]" + rest


def job_advice(message: str) -> str:
    """`message` with each `--encoding`, `--delimiter`, `--sheet` and `--header-row` it
    advises said as the job file's setting in `[source]`."""
    message = _LEAVE_OUT.sub(lambda m: f"leave {m.group(1).replace('-', '_')} out of "
                                       "[source]", message)
    return _RUN.sub(_rewrite, message)


def doubt_advice(doubt: str, read_as: str | None) -> str:
    """An encoding doubt's line, "... pass --encoding cp1250 if that is right", as the
    job's: set `encoding` in [source] to the code page the files are written in."""
    return "encoding doubt: " + _DOUBT.sub(
        f'set encoding in [source] to the code page the files are written in: '
        f'"{read_as}" as read now, or "\\1"', doubt)
