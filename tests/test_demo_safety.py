"""`tipwatch demo --data DIR` empties DIR only when an earlier demo made it: never real data or `/`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tipwatch.demo import MARKER, DemoError, _clear_demo_folder

REPO = Path(__file__).resolve().parents[1]


def test_a_folder_the_demo_did_not_make_is_refused_and_kept(tmp_path: Path) -> None:
    (tmp_path / "tipwatch.db").write_bytes(b"real evidence")
    with pytest.raises(DemoError, match="refusing to empty"):
        _clear_demo_folder(tmp_path)
    assert (tmp_path / "tipwatch.db").read_bytes() == b"real evidence"


def test_an_earlier_demo_folder_is_emptied_and_an_empty_one_is_used(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / MARKER).write_text("demo")
    (old / "demo.log").write_text("log")
    _clear_demo_folder(old)
    assert not old.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    _clear_demo_folder(empty)
    assert empty.is_dir()


def test_the_command_refuses_before_touching_anything(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keys.pem").write_text("signing key")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tipwatch",
            "demo",
            "--data",
            str(precious),
            "--clips",
            str(tmp_path / "clips"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "refusing to empty" in proc.stderr
    assert (precious / "keys.pem").read_text() == "signing key"
    assert not (tmp_path / "clips").exists()  # it stopped before rendering anything
