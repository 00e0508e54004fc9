"""The plate reading benchmark as a script (also ``tipwatch bench plates``)::

    python benchmarks/plates.py [--json] [--vehicles N] [--seed S] [--views K]

The runner is :mod:`tipwatch.dev.bench.plates`; its docstring says what it measures and the one
JSON object it prints (the last line).
"""

import sys
from pathlib import Path

# Run as a script, this folder is first on sys.path: put the repository root there instead, so the
# checkout's own packages are the ones used.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tipwatch.dev.bench.plates import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
