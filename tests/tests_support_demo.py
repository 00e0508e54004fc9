"""One run of ``tipwatch demo`` under the offline guard, shared by every test that reads what it left.

The demo takes minutes (it renders the sample clips and runs the detector over all of them), so the suite
runs it once (the session fixture ``demo_run`` in ``conftest.py``) and each test asserts on its own part:
``test_demo.py`` on what it printed and stored, ``test_demo_browser.py`` on its clip in a browser.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO_TIMEOUT_S = 900  # the whole demo on a busy 2-core machine takes several minutes


@dataclass(frozen=True)
class DemoRun:
    """What one ``tipwatch demo`` run left: its data directory, exit status and console output."""

    data: Path
    violations: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def officer_password(self) -> str:
        """The password the demo gave its users, from ``demo-credentials.txt``
        (``users admin, officer, legal; password SECRET``)."""
        text = (self.data / "demo-credentials.txt").read_text(encoding="utf-8")
        users, _, password = text.strip().partition("; password ")
        if "officer" not in users or not password:
            raise ValueError(f"no officer password in {self.data / 'demo-credentials.txt'}: {text!r}")
        return password


def run_demo(workdir: Path) -> DemoRun:
    """``tipwatch demo`` on the repository's sample clips into ``workdir/demo``, refusing any
    non-loopback socket (``tests_support_netguard.py``); attempts are listed in ``workdir/violations.txt``."""
    violations = workdir / "violations.txt"
    data = workdir / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "tests_support_netguard.py"),
            str(violations),
            "--",
            "demo",
            "--clips",
            str(HERE.parent / "sample_clips"),
            "--data",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        cwd=workdir,
        check=False,
    )
    return DemoRun(data, violations, proc.returncode, proc.stdout, proc.stderr)
