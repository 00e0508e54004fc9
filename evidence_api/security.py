"""Passwords (scrypt, per-user salt), opaque bearer tokens stored as keyed hashes, roles."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets

logger = logging.getLogger(__name__)

# scrypt cost: OWASP's Password Storage Cheat Sheet gives N=2^17, r=8, p=1 (128 MiB and about a
# second of one core per hash here).  Hashes made at a lower cost are upgraded at the next login
# (:func:`needs_rehash`).  ``TIPWATCH_PASSWORD_SCRYPT_LOG2_N`` lowers it only outside production, for
# test suites that create hundreds of users; production refuses anything under the default.
DEFAULT_SCRYPT_LOG2_N = 17
MIN_SCRYPT_LOG2_N = 10
SCRYPT_R, SCRYPT_P = 8, 1
COST_VARIABLE = "TIPWATCH_PASSWORD_SCRYPT_LOG2_N"


def scrypt_n() -> int:
    """The scrypt N new hashes are made with: 2**17 unless ``TIPWATCH_PASSWORD_SCRYPT_LOG2_N`` says
    otherwise (ignored, with a warning, when ``TIPWATCH_ENV=production`` and it is lower)."""
    text = os.environ.get(COST_VARIABLE, "").strip()
    if not text:
        return 2**DEFAULT_SCRYPT_LOG2_N
    try:
        log2_n = int(text)
    except ValueError:
        raise ValueError(f"{COST_VARIABLE} must be a whole number (log2 of N), got {text!r}") from None
    if not MIN_SCRYPT_LOG2_N <= log2_n <= 20:
        raise ValueError(f"{COST_VARIABLE} must be between {MIN_SCRYPT_LOG2_N} and 20, got {log2_n}")
    if log2_n < DEFAULT_SCRYPT_LOG2_N and os.environ.get("TIPWATCH_ENV") == "production":
        logger.warning(
            "%s=%d ignored in production: passwords use N=2^%d", COST_VARIABLE, log2_n, DEFAULT_SCRYPT_LOG2_N
        )
        return 2**DEFAULT_SCRYPT_LOG2_N
    return 2**log2_n


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # hashlib's default memory cap (32 MiB) is below what N=2^17, r=8 needs (128 MiB): allow twice that.
    maxmem = 256 * n * r + (1 << 20)
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=maxmem)


def hash_password(password: str) -> str:
    """A salted scrypt hash, ``scrypt$N$r$p$salt$key`` (base64).  ValueError under 8 characters."""
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    salt = secrets.token_bytes(16)
    n = scrypt_n()
    dk = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(dk).decode()}"


def _parts(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt_b64, dk_b64 = stored.split("$")
        if scheme != "scrypt":
            return None
        return int(n), int(r), int(p), base64.b64decode(salt_b64), base64.b64decode(dk_b64)
    except ValueError:
        return None


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (a :func:`hash_password` string, at whatever cost it
    was made); False for anything that is not such a string."""
    parts = _parts(stored)
    if parts is None:
        return False
    n, r, p, salt, key = parts
    if not (1 < n <= 2**20 and n & (n - 1) == 0 and 0 < r <= 32 and 0 < p <= 16):
        return False  # not a cost this system makes: refuse rather than spend memory on it
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), key)


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made at a lower cost than new hashes are (upgrade it at login)."""
    parts = _parts(stored)
    return parts is None or parts[0] < scrypt_n() or parts[1:3] != (SCRYPT_R, SCRYPT_P)


def new_token() -> str:
    return "tw_" + secrets.token_urlsafe(32)


def hash_token(token: str, *, pepper: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    return secrets.token_urlsafe(24)
