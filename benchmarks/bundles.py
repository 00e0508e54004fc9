"""The bundles benchmark as a script (also ``tipwatch bench bundles``)::

    python benchmarks/bundles.py [--json] [--stills 1000] [--clips 20] [--small 100]

The runner is :mod:`tipwatch.dev.bench.bundles`; its docstring says what it measures and
the one JSON object it prints (the last line).
"""

import sys
from pathlib import Path

# Run as a script, this folder is first on sys.path (where detector.py would shadow the detector
# package): put the repository root there instead, so the checkout's own packages are the ones used.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tipwatch.dev.bench.bundles import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
