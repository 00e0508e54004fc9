"""The one `tipwatch` command fronts everything, with one line of help per subcommand."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tipwatch.cli import COMMANDS, build_parser

EXPECTED = {"demo", "samples", "detect", "eval", "bench", "serve", "admin", "bundle"}


def test_help_lists_every_subcommand_with_one_line_of_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tipwatch", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert EXPECTED <= set(COMMANDS)
    for name, (_module, help_text) in COMMANDS.items():
        assert name in out
        assert "\n" not in help_text and help_text
        assert help_text.split()[0] in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_module_builds_its_arguments(name: str) -> None:
    parser = build_parser(load=[name])
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([name, "--help"])
    assert exc.value.code == 0


def test_unknown_subcommand_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tipwatch", "fly-tip"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
