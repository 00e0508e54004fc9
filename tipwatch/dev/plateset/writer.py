"""The plate test set on disk: ``vNNNN-K.jpg`` (view K of vehicle NNNN, the JPEG exactly as the
reader saw it) with ``vNNNN-K.truth.json`` beside it, and ``plates.json`` listing every vehicle."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from detector.storage import write_atomic
from tipwatch.dev.plateset.render import VIEWS_PER_VEHICLE, draw_vehicle, render_views

logger = logging.getLogger(__name__)


def write_plate_set(
    directory: Path, *, vehicles: int, seed: int, views: int = VIEWS_PER_VEHICLE
) -> list[Path]:
    """Render ``vehicles`` vehicles of the set seeded ``seed`` into ``directory``; the image paths.

    Each view is written as the JPEG bytes it was rendered to (at its own quality): the file is
    exactly what the benchmark reads.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    index = []
    for i in range(vehicles):
        vehicle = draw_vehicle(seed, i)
        truth = vehicle.truth()
        index.append(truth)
        for k, view in enumerate(render_views(vehicle, views)):
            image = directory / f"v{i:04d}-{k}.jpg"
            write_atomic(image, view.jpeg)
            record = {**truth, "view": k, **view.truth()}
            write_atomic(image.with_suffix(".truth.json"), json.dumps(record, indent=1).encode())
            paths.append(image)
    listing = {"seed": seed, "views_per_vehicle": views, "vehicles": index}
    write_atomic(directory / "plates.json", json.dumps(listing, indent=1).encode())
    logger.info("%d views of %d vehicles written to %s", len(paths), vehicles, directory)
    return paths
