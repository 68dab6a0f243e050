"""Every command as a new user meets it in `--help`: `--library` and `--json` everywhere,
flags without a type label, arguments by a name in capitals."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from videolearn.cli.main import app

COMMANDS = [
    ["index"],
    ["status"],
    ["show"],
    ["title"],
    ["forget"],
    ["doctor"],
    ["search"],
    ["sound-alike"],
    ["similar"],
    ["themes"],
    ["duplicates", "decide"],
    ["duplicates", "families"],
    ["transcribe"],
    ["hash"],
    ["match"],
    ["learn"],
    ["learn-eval"],
    ["bank", "create"],
    ["bank", "add"],
    ["bank", "import"],
    ["bank", "export"],
    ["bank", "list"],
    ["bank", "entries"],
    ["bank", "disable"],
    ["bank", "enable"],
    ["moderate"],
    ["review", "list"],
    ["review", "decide"],
    ["audit", "verify"],
    ["serve"],
    ["token", "create"],
    ["token", "list"],
    ["token", "revoke"],
]


def test_the_list_covers_every_command() -> None:
    root = get_command(app)
    names = set()
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        names |= {f"{name} {sub}" for sub in subs} if subs else {name}
    assert names == {" ".join(c) for c in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_names_library_and_json_and_labels_no_flag(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "--library" in text and "DIR" in text
    assert "--json" in text
    labelled = [line for line in text.splitlines() if "<bool>" in line]
    assert all("--help" in line for line in labelled), labelled
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert not re.search(r"\{[a-z_]+\}", usage), usage  # arguments by a name in capitals
