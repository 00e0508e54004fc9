"""Tipwatch detection worker: camera frames in, vehicle-visit and dumping events out."""

from detector._offline import configure_offline

configure_offline()

__version__ = "0.1.0"
