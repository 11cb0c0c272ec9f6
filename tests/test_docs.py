"""Every command a user can run is documented in the README, and every relative link of
the README and docs/ finds its file and heading."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import click
import pytest

from sync.cli import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?)(?: +#+)? *$", re.MULTILINE)


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix}{name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix}{name} "))
    return names


@pytest.mark.parametrize("command", _commands(cli))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"regsync {command}" in README


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, spaces to `-`, punctuation other than
    `-` and `_` taken out (`Sources: CSV, XLSX` -> `sources-csv-xlsx`)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """The anchors of a file's headings; GitHub numbers a repeated one `-1`, `-2`, ..."""
    seen: Counter[str] = Counter()
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        anchor = _anchor(heading)
        anchors.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
        seen[anchor] += 1
    return anchors


def _relative_links(path: Path) -> list[str]:
    """The targets of a file's markdown links that are not URLs (code left out)."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))
    return [target for target in _LINK.findall(prose)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_every_relative_link_finds_its_file_and_heading() -> None:
    broken, count = [], 0
    for doc in DOCS:
        for target in _relative_links(doc):
            count += 1
            name, _, anchor = target.partition("#")
            linked = (doc.parent / name).resolve() if name else doc
            where = f"{doc.relative_to(ROOT)}: ({target})"
            if not linked.is_file():
                broken.append(f"{where}: no file {linked}")
            elif anchor and anchor not in _anchors(linked):
                broken.append(f"{where}: no heading #{anchor} in {linked.name}")
    assert count > 0
    assert broken == []


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Sources: CSV, XLSX, Parquet", "sources-csv-xlsx-parquet"),
    ("Exit codes of `run`, for an alert", "exit-codes-of-run-for-an-alert"),
    ("`init`, and register files", "init-and-register-files"),
    ("Schema versions: `regsync migrate`", "schema-versions-regsync-migrate"),
    ("Kept: the register's value", "kept-the-registers-value"),
    ("snake_case and a-dash", "snake_case-and-a-dash"),
])
def test_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert _anchor(heading) == anchor
