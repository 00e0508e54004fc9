"""Run a Python entry point with a socket audit hook that refuses any non-loopback connection.

Used by the offline test: ``python tests/tests_support_netguard.py VIOLATIONS_FILE -- tipwatch-args...``.
The hook raises *before* the connect/sendto syscall, so a violation never sends a packet; each
attempt is appended to VIOLATIONS_FILE so the test can name it even if the caller swallows the error.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any


def is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname other than localhost would need DNS: not offline


class NetGuard:
    def __init__(self, log: Path) -> None:
        self.log = log
        self.violations: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg") and len(args) >= 2:
            address = args[1]
        elif event == "socket.getaddrinfo" and args:
            address = (args[0],)
            if args[0] is None:
                return
            if isinstance(args[0], bytes):
                address = (args[0].decode(),)
        else:
            return
        if is_loopback(address):
            return
        message = f"{event} {address!r}"
        self.violations.append(message)
        with self.log.open("a") as fh:
            fh.write(message + "\n")
        raise PermissionError(f"tipwatch offline guard: refused non-loopback network access: {message}")


def main() -> int:
    # Run as a script, this file's folder (tests/) would be first on sys.path and tests/evidence_api/
    # would shadow the real package: put the repository root there instead.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    log = Path(sys.argv[1])
    assert sys.argv[2] == "--"
    sys.addaudithook(NetGuard(log))
    socket.setdefaulttimeout(30)
    from tipwatch.cli import main as tipwatch_main

    return tipwatch_main(sys.argv[3:])


if __name__ == "__main__":
    raise SystemExit(main())
