"""The ``tipwatch`` command line: one table of subcommands, argument parsing and console logging.

Each subcommand lives in a ``commands`` module exposing ``add_arguments(parser)`` and
``run(args, **keywords) -> int``; modules are imported only when their command runs, so the edge box
never imports the API stack and ``tipwatch --help`` stays fast.

This table is the one place where the edge (``detector``) and the API (``evidence_api``) meet: a row
can hand its command keyword arguments taken from the other side, such as the person finder that the
bundle export uses to blur people (the detector's SSD, reached through :mod:`tipwatch.person_finder`).

Console logging is per command: a command prints what its user asked for, and its log shows only
warnings and errors unless the command's log lines *are* its output (``detect``, a long-running
worker whose INFO lines are the operator's record).  ``-v`` shows DEBUG lines for every command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CAMERA_THREAD_PREFIX = "camera-"  # detector.worker names each camera's thread camera-<id>


class CameraLogFormatter(logging.Formatter):
    """:data:`LOG_FORMAT`, with the camera a line came from when an edge box runs several cameras in
    one process (``tipwatch detect --all-cameras``): the rules and the scene model log without
    knowing their camera, but each camera runs in a thread named after it."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        thread = record.threadName or ""
        if not thread.startswith(CAMERA_THREAD_PREFIX):
            return super().format(record)
        camera = thread.removeprefix(CAMERA_THREAD_PREFIX)
        line = super().format(record)
        head, sep, message = line.partition(f"{record.name}: ")
        return f"{head}{record.name}: [camera {camera}] {message}" if sep else line


#: the package whose absence means "installed from the wheel, not a source checkout"
DEV_PACKAGE = "tipwatch.dev"

#: ``module:attribute`` of the factory the bundle export calls to find people to blur
PERSON_FINDER_FACTORY = "tipwatch.person_finder:ssd_person_finder"


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand.

    ``module``: dotted name of a module with ``add_arguments(parser)`` and ``run(args, **keywords)``.
    ``help``: the one line ``tipwatch --help`` shows.
    ``console_level``: the lowest level of log line shown on the console without ``-v``.
    ``keywords``: keyword argument name -> ``"module:attribute"`` of a callable handed to ``run``;
    the module is imported only when the callable is first called (see :func:`deferred`).
    """

    module: str
    help: str
    console_level: int = logging.WARNING
    keywords: Mapping[str, str] = field(default_factory=dict)


COMMANDS: dict[str, Command] = {
    "demo": Command(
        "tipwatch.commands.demo",
        "run the whole chain on sample clips: detect, upload, review page, bundle",
    ),
    "samples": Command(
        "tipwatch.dev.commands.samples", "render the synthetic sample clips and their ground truth"
    ),
    "detect": Command(
        "detector.commands.detect",
        "run the detection worker on a file, folder or stream for one site",
        console_level=logging.INFO,
    ),
    "upload": Command(
        "detector.commands.upload",
        "send a spool's pending events to the evidence API, without processing footage",
    ),
    "eval": Command(
        "tipwatch.dev.commands.eval", "score the detector against clips that have NAME.truth.json files"
    ),
    "bench": Command(
        "tipwatch.dev.commands.bench",
        "measure speed, memory and plate reads (detector, api, bundles, plates) and print JSON",
    ),
    "serve": Command(
        "evidence_api.commands.serve",
        "run the evidence API and review pages",
        keywords={"person_finder_factory": PERSON_FINDER_FACTORY},
    ),
    "admin": Command(
        "evidence_api.commands.admin",
        "users, devices, tokens, sites, cameras, signing keys, audit check",
    ),
    "bundle": Command(
        "evidence_api.commands.bundle",
        "export and verify evidence bundles (verify needs no database)",
        keywords={"person_finder_factory": PERSON_FINDER_FACTORY},
    ),
}


class SourceCheckoutNeeded(RuntimeError):
    """A command needs the dev tooling (``tipwatch/dev``), which the wheel does not carry."""


def deferred(target: str) -> Callable[..., Any]:
    """A callable standing for ``module:attribute`` that imports the module on its first call.

    ``bundle verify`` must stay light (standard library + cryptography): handing it the person
    finder factory must not load OpenCV and the model just in case an export asks to blur people.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"not a module:attribute target: {target!r}")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), attribute)(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    call.__doc__ = f"Imports {module_name} and calls its {attribute}."
    return call


def _is_dev_tooling(name: str | None) -> bool:
    return name is not None and (name == DEV_PACKAGE or name.startswith(DEV_PACKAGE + "."))


def _checkout_message(command: str, missing: str) -> str:
    return (
        f"`tipwatch {command}` needs a source checkout: {missing} (sample clips, eval and bench "
        "tooling) is not installed with the wheel; run it from a clone set up with `bash deploy/dev.sh` "
        "or `pip install -e .`"
    )


def _import_command(name: str) -> Any:
    try:
        return importlib.import_module(COMMANDS[name].module)
    except ModuleNotFoundError as exc:
        if _is_dev_tooling(exc.name):
            raise SourceCheckoutNeeded(_checkout_message(name, str(exc.name))) from exc
        raise


def build_parser(load: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The whole parser; the arguments of the commands named in ``load`` are filled in (their
    modules imported), the others only list their one line of help."""
    parser = argparse.ArgumentParser(prog="tipwatch", description="Tipwatch fly-tipping evidence service")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        sp = sub.add_parser(name, help=command.help, description=command.help)
        if name in load:
            _import_command(name).add_arguments(sp)
    return parser


class ConsoleHandler(logging.Handler):
    """Log lines to stderr, written above any progress bar on screen rather than through it."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging's own convention: report on stderr, never break the caller
            self.handleError(record)


@contextmanager
def console_logging(level: int) -> Iterator[logging.Handler]:
    """Log lines at ``level`` and above to stderr for the duration of a command.

    The handler and the root level are put back afterwards, so a command run in-process (tests
    run any command this way) leaves logging as it found it.  The root level is only ever
    lowered, so handlers added by the command itself (the demo's log file) get their lines.
    """
    root = logging.getLogger()
    handler = ConsoleHandler()
    handler.setFormatter(CameraLogFormatter())
    handler.setLevel(level)
    previous = root.level
    root.addHandler(handler)
    root.setLevel(min(previous, level) if previous else level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    chosen = next((a for a in argv if a in COMMANDS), None)
    return build_parser(load=[chosen] if chosen else []).parse_args(argv)


def dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command with its table keywords; logging is the caller's business.

    Raises :class:`SourceCheckoutNeeded` when the command (or what it runs) needs ``tipwatch.dev``.
    """
    command = COMMANDS[args.command]
    module = _import_command(args.command)
    keywords = {key: deferred(target) for key, target in command.keywords.items()}
    logger.debug("tipwatch %s: %s.run(keywords=%s)", args.command, command.module, sorted(keywords))
    try:
        return int(module.run(args, **keywords) or 0)
    except ModuleNotFoundError as exc:
        if _is_dev_tooling(exc.name):
            raise SourceCheckoutNeeded(_checkout_message(args.command, str(exc.name))) from exc
        raise


def run_command(argv: Sequence[str]) -> int:
    """Parse and run one command inside another (the demo runs ``detect``), leaving logging alone."""
    return dispatch(_parse(list(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parse(argv)
        level = logging.DEBUG if args.verbose else COMMANDS[args.command].console_level
        with console_logging(level):
            return dispatch(args)
    except SourceCheckoutNeeded as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
