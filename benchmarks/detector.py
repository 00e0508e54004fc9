"""The detector benchmark as a script (also ``tipwatch bench detector``)::

    python benchmarks/detector.py [--json] [--frames N] [--skip-720p]

The runner is :mod:`tipwatch.dev.bench.detector`; its docstring says what it measures and
the one JSON object it prints (the last line).
"""

import sys
from pathlib import Path

# Run as a script, this folder is first on sys.path (where detector.py would shadow the detector
# package): put the repository root there instead, so the checkout's own packages are the ones used.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tipwatch.dev.bench.detector import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
