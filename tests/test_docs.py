"""Every document the repository names exists: README, docs, deploy files and module docstrings point
readers somewhere real (a module map once pointed to files that were never there)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ("detector", "evidence_api", "tipwatch", "benchmarks")
# a path or file name ending in .md, not part of a longer word or path
DOCUMENT = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.md)\b")


def _sources() -> list[Path]:
    texts = [ROOT / "README.md", *ROOT.glob("*/README.md"), *ROOT.glob("docs/*.md"), *ROOT.glob("deploy/*")]
    for package in CODE:
        texts.extend((ROOT / package).rglob("*.py"))
    return sorted(p for p in texts if p.is_file())


def missing_documents(paths: list[Path], root: Path = ROOT) -> list[str]:
    """``file:line: name`` for each named document found neither from the repository root, next to
    the file that names it, nor in ``docs/``."""
    missing = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for name in DOCUMENT.findall(line):
                if not any(p.is_file() for p in (root / name, path.parent / name, root / "docs" / name)):
                    missing.append(f"{path.relative_to(root)}:{number}: {name}")
    return missing


def test_every_named_document_exists() -> None:
    missing = missing_documents(_sources())
    assert not missing, "references to documents that are not in the repository:\n" + "\n".join(missing)


def test_the_check_finds_a_missing_document(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "bundles.md").write_text("# Bundles\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "See `docs/bundles.md`, bundles.md and [the map](docs/architecture.md).\nAlso ARCHITECTURE.md\n"
    )
    assert missing_documents([readme], tmp_path) == [
        "README.md:1: docs/architecture.md",
        "README.md:2: ARCHITECTURE.md",
    ]
