"""The ``tipwatch`` command line: argument parsing only.

Each subcommand lives in a ``commands`` module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so the edge box
never imports the API stack and ``tipwatch --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "tipwatch.commands.demo",
        "run the whole chain on sample clips: detect, upload, review page, bundle",
    ),
    "samples": ("tipwatch.dev.commands.samples", "render the synthetic sample clips and their ground truth"),
    "detect": (
        "detector.commands.detect",
        "run the detection worker on a file, folder or stream for one site",
    ),
    "eval": (
        "tipwatch.dev.commands.eval",
        "score the detector against clips that have NAME.truth.json files",
    ),
    "bench": (
        "tipwatch.dev.commands.bench",
        "measure speed and memory (detector, api, bundles) and print JSON",
    ),
    "serve": ("evidence_api.commands.serve", "run the evidence API and review pages"),
    "admin": (
        "evidence_api.commands.admin",
        "users, devices, tokens, sites, cameras, signing keys, audit check",
    ),
    "bundle": (
        "evidence_api.commands.bundle",
        "export and verify evidence bundles (verify needs no database)",
    ),
}


def build_parser(load: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tipwatch", description="Tipwatch fly-tipping evidence service")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name in load:
            importlib.import_module(module_name).add_arguments(sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(load=[chosen] if chosen else [])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
