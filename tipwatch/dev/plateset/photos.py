"""The real photographs the test plates are fixed onto, from packages this project installs.

- ``bus``: ``ultralytics/assets/bus.jpg`` (the Python package, a dependency): a real minibus in a
  Madrid street, people in front of it, "cero emisiones" paintwork (text that is not a plate).
- ``zidane``: ``ultralytics/assets/zidane.jpg``: two people in front of a dark backdrop with logos;
  no vehicle, used as real clutter behind a "vehicle" box the size of a car.
- ``civic``: Debian opencv-doc's ``licenseplate_motion.jpg``: the rear of a real car, motion
  blurred; the test plate is fixed over the car's own (foreign, unreadable) plate.

Each comes with the vehicle's box (what the object detector would give the plate reader), the
rectangle where the plate's centre may sit, and the vehicle's real width (so a plate of a given
size in pixels sits on a vehicle of the right size in pixels).  Nothing is downloaded: a missing
file raises :class:`PhotoMissing` naming its package.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


class PhotoMissing(RuntimeError):
    """A photograph the plate test set is built on is not installed."""


@dataclass(frozen=True, slots=True)
class VehiclePhoto:
    """A real photograph with a vehicle in it (pixel coordinates of the original file)."""

    name: str
    package: str  # where it comes from, for the error message
    vehicle_box: Box  # xyxy
    plate_centres: Box  # xyxy: where the plate's centre may be
    vehicle_width_mm: float

    def path(self) -> Path:
        if self.package == "ultralytics":
            spec = importlib.util.find_spec("ultralytics")
            if spec is None or spec.origin is None:
                raise PhotoMissing("the ultralytics package is not installed (pip install -e '.[dev]')")
            return Path(spec.origin).parent / "assets" / f"{self.name}.jpg"
        return OPENCV_DATA / "licenseplate_motion.jpg"


PHOTOS: dict[str, VehiclePhoto] = {
    p.name: p
    for p in (
        VehiclePhoto("bus", "ultralytics", (10, 230, 800, 720), (220, 590, 600, 680), 2300),
        VehiclePhoto("zidane", "ultralytics", (120, 90, 1160, 720), (380, 470, 900, 620), 1800),
        VehiclePhoto("civic", "opencv-doc", (0, 20, 600, 440), (286, 255, 300, 265), 1750),
    )
}


@functools.cache
def load_photo(name: str) -> U8:
    """The photograph ``name`` as BGR ``(H, W, 3)`` uint8."""
    photo = PHOTOS[name]
    path = photo.path()
    if not path.is_file():
        raise PhotoMissing(
            f"{path} is missing: install the {photo.package} package "
            "(deploy/dev.sh installs both ultralytics and Debian's opencv-doc)"
        )
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PhotoMissing(f"{path} could not be decoded")
    image.setflags(write=False)
    return np.asarray(image, np.uint8)
