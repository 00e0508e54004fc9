"""The real-footage evaluation set: deposits, people, vehicles, lighting, camera and stream faults
composited onto real CCTV (Debian's opencv-doc ``vtest.avi``), each clip with its ground truth."""

from tipwatch.dev.realset.footage import FootageError
from tipwatch.dev.realset.render import make_real_set

__all__ = ["FootageError", "make_real_set"]
