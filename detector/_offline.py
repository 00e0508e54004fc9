"""Keep third-party model libraries offline.

ultralytics reads these variables at import time; they are set here, inside the package,
so that no user shell setup is needed and nothing ever reaches for a model hub.
"""

from __future__ import annotations

import os
from pathlib import Path


def configure_offline() -> None:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "YOLO_CONFIG_DIR" not in os.environ:
        config_home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
        config_dir = config_home / "tipwatch" / "ultralytics"
        config_dir.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
