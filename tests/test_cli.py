"""The one `tipwatch` command fronts everything, with one line of help per subcommand; a command
prints what its user asked for, and the table is the one place where the edge and the API meet."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
import setuptools

from tipwatch import cli
from tipwatch.cli import COMMANDS, Command, build_parser

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"demo", "samples", "detect", "eval", "bench", "serve", "admin", "bundle"}


def test_help_lists_every_subcommand_with_one_line_of_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tipwatch", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert EXPECTED <= set(COMMANDS)
    for name, command in COMMANDS.items():
        help_text = command.help
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


def test_the_edge_command_never_loads_the_api_stack() -> None:
    code = (
        "import sys; from tipwatch.cli import build_parser; build_parser(load=['detect']); "
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'evidence_api', 'fastapi', 'sqlalchemy'}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_admin_prints_only_what_was_asked_and_v_shows_the_log(tmp_path: Path) -> None:
    db = f"sqlite+pysqlite:///{tmp_path / 'tipwatch.db'}"
    base = [sys.executable, "-m", "tipwatch"]
    args = ["admin", "--db", db, "--data", str(tmp_path), "audit", "verify"]
    quiet = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120, check=False)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith('{"ok": true')
    assert quiet.stderr == ""  # Alembic's plugin and migration INFO lines are not the user's business
    loud = subprocess.run([*base, "-v", *args], capture_output=True, text=True, timeout=120, check=False)
    assert loud.returncode == 0, loud.stderr
    assert loud.stdout == quiet.stdout
    assert " DEBUG " in loud.stderr or " INFO alembic" in loud.stderr, loud.stderr[-2000:]


def test_console_level_per_command_and_logging_left_as_found(capsys: pytest.CaptureFixture[str]) -> None:
    assert COMMANDS["detect"].console_level == logging.INFO  # a worker's INFO lines are its record
    for name in ("admin", "bundle", "serve", "demo", "eval", "samples", "bench"):
        assert COMMANDS[name].console_level == logging.WARNING
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with cli.console_logging(logging.WARNING):
        logging.getLogger("tipwatch.test").info("not shown")
        logging.getLogger("tipwatch.test").warning("shown")
    assert root.handlers == handlers and root.level == level
    err = capsys.readouterr().err
    assert "shown" in err and "not shown" not in err


def _fake_modules(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A command module that records its keywords and a person-finder module that counts imports."""
    seen: dict[str, object] = {}

    command = types.ModuleType("fake_tipwatch_command")
    command.add_arguments = lambda parser: parser.add_argument("--x", default="1")  # type: ignore[attr-defined]

    def run(args: argparse.Namespace, *, person_finder_factory: object = None) -> int:
        seen["factory"] = person_finder_factory
        return 0

    command.run = run  # type: ignore[attr-defined]
    finder = types.ModuleType("fake_tipwatch_person_finder")
    finder.ssd_person_finder = lambda: "a person finder"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, command.__name__, command)
    monkeypatch.setitem(sys.modules, finder.__name__, finder)
    monkeypatch.setitem(
        COMMANDS,
        "fake",
        Command(
            command.__name__,
            "a command that joins the two sides",
            keywords={"person_finder_factory": f"{finder.__name__}:ssd_person_finder"},
        ),
    )
    return seen


def test_a_table_row_hands_its_command_keyword_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _fake_modules(monkeypatch)
    assert cli.main(["fake"]) == 0
    factory = seen["factory"]
    assert callable(factory) and factory() == "a person finder"


def test_keywords_are_imported_only_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = cli.deferred("fake_tipwatch_late_module:make")  # the module does not exist yet
    late = types.ModuleType("fake_tipwatch_late_module")
    late.make = lambda size: f"made {size}"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, late.__name__, late)
    assert factory(3) == "made 3"
    with pytest.raises(ValueError, match="module:attribute"):
        cli.deferred("no_colon")


def test_serve_and_bundle_get_the_person_finder_from_the_detector() -> None:
    for name in ("serve", "bundle"):
        assert COMMANDS[name].keywords == {
            "person_finder_factory": "tipwatch.person_finder:ssd_person_finder"
        }
    for name in COMMANDS.keys() - {"serve", "bundle"}:
        assert not COMMANDS[name].keywords


@pytest.mark.parametrize(
    "argv",
    [["eval", "sample_clips"], ["samples", "make"], ["bench", "detector"], ["demo", "--data", "DATA"]],
)
def test_dev_commands_without_a_source_checkout_say_so(tmp_path: Path, argv: list[str]) -> None:
    # An install from the wheel has no tipwatch.dev: the import system refuses it the same way here.
    argv = [str(tmp_path / "demo") if a == "DATA" else a for a in argv]
    code = (
        "import sys; sys.modules['tipwatch.dev'] = None; from tipwatch.cli import main; "
        f"sys.exit(main({argv!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"`tipwatch {argv[0]}` needs a source checkout" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_wheel_leaves_the_dev_tooling_out() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = set(setuptools.find_packages(str(ROOT), include=find["include"], exclude=find["exclude"]))
    assert {"tipwatch", "tipwatch.commands", "detector", "detector.commands", "evidence_api"} <= packages
    assert not {p for p in packages if p.startswith("tipwatch.dev")}
    assert not {p for p in packages if p.split(".")[0] in ("tests", "benchmarks")}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"tipwatch": "tipwatch.cli:main"}


def test_log_lines_from_a_camera_thread_name_their_camera() -> None:
    """`tipwatch detect --all-cameras` runs each camera in a thread named camera-<id>; the rules log
    without knowing their camera, so the console line says which camera it was."""
    import logging
    import threading

    from tipwatch.cli import CameraLogFormatter

    formatter = CameraLogFormatter()
    lines: list[str] = []

    def log_one() -> None:
        record = logging.LogRecord(
            "detector.rules", logging.INFO, __file__, 1, "visit %d: vehicle gone", (3,), None
        )
        lines.append(formatter.format(record))

    for name in ("camera-lay-by-2", "MainThread"):
        thread = threading.Thread(target=log_one, name=name)
        thread.start()
        thread.join()
    assert lines[0].endswith("INFO detector.rules: [camera lay-by-2] visit 3: vehicle gone")
    assert lines[1].endswith("INFO detector.rules: visit 3: vehicle gone")
