"""Every command a user can run is documented in the README."""

from __future__ import annotations

import click
import pytest

from sync.cli import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


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
