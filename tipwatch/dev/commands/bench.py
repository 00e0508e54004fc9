"""``tipwatch bench TARGET [--json]``: run a benchmark and print its JSON.

Targets are a table of importable modules: to add one, write ``tipwatch/dev/bench/<name>.py``
exposing ``add_arguments(parser)`` and ``run(args) -> int``, add a row to :data:`TARGETS`, and (if
it should also run as a script) a three-line ``benchmarks/<name>.py`` that calls its ``main``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from dataclasses import dataclass
from types import ModuleType

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    """One benchmark: the module that runs it and one line of help."""

    module: str
    help: str


TARGETS: dict[str, Target] = {
    "detector": Target(
        "tipwatch.dev.bench.detector", "decode floor, naive vs gated, eight 720p cameras on one box, memory"
    ),
    "api": Target(
        "tipwatch.dev.bench.api",
        "ingest throughput and p95 latency, SQLite and PostgreSQL vs hash+write+fsync",
    ),
    "bundles": Target(
        "tipwatch.dev.bench.bundles", "evidence bundle export vs sha256+zip floor, memory 100 vs 1,000 stills"
    ),
    "plates": Target(
        "tipwatch.dev.bench.plates",
        "plate reads on the plate test set: exact single and voted, wrong-but-confident, ms per vehicle",
    ),
}


def load(target: str) -> ModuleType:
    """Import the module of a benchmark target (a ``KeyError`` for an unknown target)."""
    return importlib.import_module(TARGETS[target].module)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, target in TARGETS.items():
        sp = sub.add_parser(name, help=target.help, description=target.help)
        load(name).add_arguments(sp)


def run(args: argparse.Namespace) -> int:
    return int(load(args.target).run(args) or 0)
