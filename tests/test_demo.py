"""`tipwatch demo` runs the whole chain and never touches the network beyond loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests_support_netguard import NetGuard, is_loopback

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    ("event", "args", "refused"),
    [
        ("socket.connect", (None, ("127.0.0.1", 8000)), False),
        ("socket.connect", (None, ("::1", 8000, 0, 0)), False),
        ("socket.connect", (None, "/run/postgresql/.s.PGSQL.5432"), False),
        ("socket.connect", (None, ("192.0.2.1", 443)), True),
        ("socket.sendto", (None, b"x", ("8.8.8.8", 53)), True),
        ("socket.getaddrinfo", ("pypi.org", 443, 0, 0, 0), True),
        ("socket.getaddrinfo", ("localhost", 8000, 0, 0, 0), False),
    ],
)
def test_the_guard_refuses_exactly_non_loopback_access(
    tmp_path: Path, event: str, args: tuple[object, ...], refused: bool
) -> None:
    # The hook is called directly: no packet is ever sent to a non-loopback address.
    guard = NetGuard(tmp_path / "violations.txt")
    if event == "socket.sendto":
        args = (args[0], args[2])
    if refused:
        with pytest.raises(PermissionError, match="non-loopback"):
            guard(event, args)
        assert guard.violations
    else:
        guard(event, args)
        assert not guard.violations
    assert is_loopback(("127.0.0.1", 1)) and not is_loopback((socket.gethostname() + ".example", 1))


@pytest.mark.slow
def test_demo_runs_end_to_end_offline(tmp_path: Path) -> None:
    violations = tmp_path / "violations.txt"
    data = tmp_path / "demo"
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
        timeout=900,
        cwd=tmp_path,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert not violations.exists(), f"network access outside loopback: {violations.read_text()}"
    assert proc.returncode == 0, out[-4000:]
    assert "RESULT: OK" in proc.stdout
    for clip in ("dumping_layby", "drive_through", "park_and_leave", "cloud_shadow", "dumping_no_vehicle"):
        assert clip in proc.stdout
    assert list(data.glob("bundle-*.zip"))
    # nothing left unsent or refused in any clip's spool
    assert not list(data.glob("spool/*/pending/*")) and not list(data.glob("spool/*/dead/*"))
