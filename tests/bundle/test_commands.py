"""``tipwatch bundle verify`` and ``tipwatch admin keys`` as a clerk and an administrator use them."""

from __future__ import annotations

import argparse
import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_api.bundle.builder import build_bundle
from evidence_api.bundle.signing import KeyStore, SigningKeyError
from evidence_api.bundle.spec import BundleSpec
from evidence_api.bundle.verify import verify_bundle
from evidence_api.commands import admin_keys
from tipwatch.cli import main as tipwatch


def keys(data: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    admin_keys.add_arguments(parser)
    return admin_keys.run(parser.parse_args(["--data", str(data), *argv]))


def test_generate_rotate_list_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert keys(data, "generate", "--comment", "first key") == 0
    store = KeyStore(data)
    first = store.active()
    private = data / "keys" / f"{first.key_id}.key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "keys" / "keys.json").stat().st_mode) == 0o600
    assert keys(data, "generate") == 1  # one active key at a time: rotate instead
    assert "already active" in capsys.readouterr().err

    assert keys(data, "rotate") == 0
    second = store.active()
    assert second.key_id != first.key_id
    assert not private.exists()  # retired private key destroyed
    assert (data / "keys" / f"{first.key_id}.pub.pem").exists()  # public half kept for old bundles
    capsys.readouterr()

    assert keys(data, "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["key_id"], k["active"]) for k in listed] == [(first.key_id, False), (second.key_id, True)]
    assert keys(data, "show", first.fingerprint) == 0
    shown = capsys.readouterr().out
    assert "BEGIN PUBLIC KEY" in shown and "PRIVATE" not in shown and first.key_id in shown


def test_loose_private_key_permissions_are_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    record = store.generate()
    (tmp_path / "keys" / f"{record.key_id}.key.pem").chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        store.load_active()


def test_old_bundle_still_verifies_after_rotation(
    tmp_path: Path, make_case: Callable[..., BundleSpec], capsys: pytest.CaptureFixture[str]
) -> None:
    store = KeyStore(tmp_path / "data")
    store.generate()
    old = store.load_active()
    out = tmp_path / "old.zip"
    build_bundle(make_case(), old, out)
    store.rotate()
    assert store.active().fingerprint != old.fingerprint
    retired_pem = tmp_path / "retired.pem"
    retired_pem.write_bytes(store.public_pem(store.get(old.key_id)))
    assert tipwatch(["bundle", "verify", str(out), "--public-key", str(retired_pem)]) == 0
    report = capsys.readouterr().out
    assert "RESULT: OK" in report and old.key_id in report and "FT/2026/0142" in report


def test_verify_command_exit_codes_and_json(
    tmp_path: Path, make_case: Callable[..., BundleSpec], capsys: pytest.CaptureFixture[str]
) -> None:
    store = KeyStore(tmp_path / "data")
    store.generate()
    key = store.load_active()
    out = tmp_path / "case.zip"
    build_bundle(make_case(), key, out)
    assert tipwatch(["bundle", "verify", str(out), "--fingerprint", key.record.fingerprint_display]) == 0
    capsys.readouterr()
    assert tipwatch(["bundle", "verify", str(out), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] and body["exhibits"] == 6 and body["fingerprint"] == key.fingerprint

    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            if info.filename != "signing/fingerprint.txt":
                dst.writestr(info.filename, src.read(info))
    assert tipwatch(["bundle", "verify", str(broken)]) == 1
    text = capsys.readouterr().out
    assert "RESULT: FAILED" in text and "missing file: signing/fingerprint.txt" in text
    assert not verify_bundle(broken).ok


def test_verify_names_a_file_that_is_not_a_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    assert tipwatch(["bundle", "verify", str(junk)]) == 1
    assert "cannot open as a zip file" in capsys.readouterr().out
