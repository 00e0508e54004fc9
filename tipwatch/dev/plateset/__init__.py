"""The plate test set: UK registration marks of every format, drawn to the DVLA's layout and fixed
onto real vehicle photographs under a broad range of conditions, with the truth beside each image
(``tipwatch samples plates DIR``; measured by ``tipwatch bench plates``, see ``docs/plates.md``).

It is an evaluation set: its conditions are drawn to cover what a roadside camera sees, not tuned
to what the reader gets right.
"""

from tipwatch.dev.plateset.marks import FORMAT_WEIGHTS, MARKS_SEEN_ON, Mark, draw_mark
from tipwatch.dev.plateset.photos import PHOTOS, PhotoMissing
from tipwatch.dev.plateset.render import (
    VIEWS_PER_VEHICLE,
    PlateConditions,
    PlateVehicle,
    PlateView,
    draw_vehicle,
    render_views,
)
from tipwatch.dev.plateset.typeface import FONT_LICENCE, FONT_NAME, FONT_PACKAGE, FontMissing
from tipwatch.dev.plateset.writer import write_plate_set

__all__ = [
    "FONT_LICENCE",
    "FONT_NAME",
    "FONT_PACKAGE",
    "FORMAT_WEIGHTS",
    "MARKS_SEEN_ON",
    "PHOTOS",
    "VIEWS_PER_VEHICLE",
    "FontMissing",
    "Mark",
    "PhotoMissing",
    "PlateConditions",
    "PlateVehicle",
    "PlateView",
    "draw_mark",
    "draw_vehicle",
    "render_views",
    "write_plate_set",
]
