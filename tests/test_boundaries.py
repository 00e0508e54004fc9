"""The import boundaries hold: the edge and the API never import each other, model libraries stay in
``detector/backends/``, and the domain services know nothing of HTTP.

An AST walk over every ``.py`` file of the code that ships or runs it (``detector``, ``evidence_api``,
``tipwatch``, ``benchmarks``; not the tests, which may reach past any boundary).  It sees what a
reader would count as an import: ``import x`` and ``from x import y`` anywhere in a module (the
lazy imports inside functions that keep ``tipwatch --help`` fast are imports too), relative imports
resolved against their package, and ``importlib.import_module("x")`` / ``__import__("x")`` with a
literal name, the way a loop between packages was once hidden.  Each finding names its file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("detector", "evidence_api", "tipwatch", "benchmarks")

MODEL_LIBRARIES = frozenset({"ultralytics", "torch", "torchvision", "onnxruntime", "rapidocr", "tensorflow"})
WEB_FRAMEWORKS = frozenset({"fastapi", "starlette"})
DYNAMIC_IMPORTS = frozenset({"import_module", "__import__"})


@dataclass(frozen=True, slots=True, order=True)
class Import:
    """``path`` (relative to the root, POSIX) imports the absolute module ``module`` at ``line``."""

    path: str
    line: int
    module: str

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """Dotted module name of a file under ``root`` and whether it is a package's ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, root: Path) -> Iterator[Import]:
    """Every module ``path`` imports, statically or by a literal dynamic import."""
    module, is_package = _module_name(path, root)
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(rel, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            yield Import(rel, node.lineno, _resolve(node, module, is_package))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if name in DYNAMIC_IMPORTS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield Import(rel, node.lineno, first.value)


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def _edge_and_api_apart(imp: Import) -> str | None:
    if _inside(imp.path, "detector") and imp.top in ("evidence_api", "tipwatch"):
        return "the edge (detector) imports " + imp.module
    if _inside(imp.path, "evidence_api") and imp.top in ("detector", "tipwatch"):
        return "the API (evidence_api) imports " + imp.module
    return None


def _model_libraries_in_backends(imp: Import) -> str | None:
    if imp.top in MODEL_LIBRARIES and not _inside(imp.path, "detector/backends"):
        return f"model library {imp.module} imported outside detector/backends/"
    return None


def _services_know_no_http(imp: Import) -> str | None:
    if imp.top in WEB_FRAMEWORKS and _inside(imp.path, "evidence_api/services"):
        return f"web framework {imp.module} imported by a domain service"
    return None


RULES: tuple[Callable[[Import], str | None], ...] = (
    _edge_and_api_apart,
    _model_libraries_in_backends,
    _services_know_no_http,
)


def violations(root: Path, packages: tuple[str, ...] = CHECKED) -> list[str]:
    """``path:line: why`` for every import that crosses a boundary, sorted."""
    found: list[tuple[Import, str]] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            for imp in imports_of(path, root):
                found.extend((imp, why) for rule in RULES if (why := rule(imp)))
    return [f"{imp.path}:{imp.line}: {why}" for imp, why in sorted(found)]


def test_the_boundaries_hold() -> None:
    problems = violations(ROOT)
    assert not problems, "import boundaries crossed:\n" + "\n".join(problems)


def _plant(root: Path, files: dict[str, str]) -> None:
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


def test_the_checker_catches_planted_violations(tmp_path: Path) -> None:
    _plant(
        tmp_path,
        {
            "detector/__init__.py": "",
            "detector/backends/__init__.py": "",
            "detector/backends/yolo.py": "import torch\nfrom ultralytics import YOLO\n",  # allowed
            "detector/tracker.py": "from ultralytics.trackers import BYTETracker\n",
            "detector/lazy.py": "def f():\n    from evidence_api.bundle import verify\n",
            "detector/hidden.py": "import importlib\nm = importlib.import_module('evidence_api.main')\n",
            "evidence_api/__init__.py": "",
            "evidence_api/bundle/__init__.py": "",
            "evidence_api/bundle/redact.py": "def g():\n    import detector.types\n",
            "evidence_api/bundle/local.py": "from . import redact\nfrom ..services import x\n",  # allowed
            "evidence_api/routes/events.py": "from fastapi import APIRouter\n",  # allowed
            "evidence_api/services/__init__.py": "",
            "evidence_api/services/cases.py": "from starlette.concurrency import run_in_threadpool\n",
            "evidence_api/services/ok.py": "from ..bundle import local\nimport fastapi_like\n",  # allowed
            "tipwatch/__init__.py": "",
            "tipwatch/cli.py": "import detector\nimport evidence_api\n",  # allowed: the joining package
            "tipwatch/person.py": "__import__('onnxruntime')\n",
        },
    )
    assert violations(tmp_path, ("detector", "evidence_api", "tipwatch")) == [
        "detector/hidden.py:2: the edge (detector) imports evidence_api.main",
        "detector/lazy.py:2: the edge (detector) imports evidence_api.bundle",
        "detector/tracker.py:1: model library ultralytics.trackers imported outside detector/backends/",
        "evidence_api/bundle/redact.py:2: the API (evidence_api) imports detector.types",
        "evidence_api/services/cases.py:1: web framework starlette.concurrency imported by a domain service",
        "tipwatch/person.py:1: model library onnxruntime imported outside detector/backends/",
    ]


@pytest.mark.parametrize(
    ("rel", "source", "expected"),
    [
        ("evidence_api/bundle/builder.py", "from .spec import X", "evidence_api.bundle.spec"),
        ("evidence_api/bundle/__init__.py", "from .spec import X", "evidence_api.bundle.spec"),
        ("evidence_api/bundle/builder.py", "from .. import db", "evidence_api"),
        ("detector/sinks/spool.py", "from ..contract import C", "detector.contract"),
    ],
)
def test_relative_imports_resolve_against_their_package(
    tmp_path: Path, rel: str, source: str, expected: str
) -> None:
    _plant(tmp_path, {rel: source + "\n"})
    (imp,) = imports_of(tmp_path / rel, tmp_path)
    assert imp.module == expected
