"""``tipwatch bench TARGET [--json]``: run a benchmark from ``benchmarks/`` and print its JSON.

Targets are a table: to add one, write ``benchmarks/<name>.py`` exposing ``add_arguments(parser)``
and ``run(args) -> int`` and add a row to :data:`TARGETS`.  The modules are loaded from the
repository's ``benchmarks/`` folder by path (it is not an installed package).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"

# target -> (file under benchmarks/, one-line help)
TARGETS: dict[str, tuple[str, str]] = {
    "detector": ("detector.py", "decode floor, naive vs gated pipeline, four 720p cameras, memory"),
    "api": ("api.py", "ingest throughput and p95 latency, SQLite and PostgreSQL vs hash+write+fsync"),
    "bundles": ("bundles.py", "evidence bundle export vs sha256+zip floor, memory 100 vs 1,000 stills"),
}


def _load(target: str) -> ModuleType:
    filename = TARGETS[target][0]
    path = BENCHMARKS / filename
    if not path.is_file():
        raise FileNotFoundError(f"benchmark {target!r} needs {path} (run from a source checkout)")
    name = f"tipwatch_bench_{target}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, (_file, help_text) in TARGETS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        try:
            _load(name).add_arguments(sp)
        except (FileNotFoundError, ImportError) as exc:
            logger.warning("benchmark %s unavailable: %s", name, exc)


def run(args: argparse.Namespace) -> int:
    try:
        module = _load(args.target)
    except (FileNotFoundError, ImportError) as exc:
        logger.error("%s", exc)
        return 2
    return int(module.run(args) or 0)
