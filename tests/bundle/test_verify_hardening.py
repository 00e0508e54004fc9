"""What ``tipwatch bundle verify`` must not be fooled by: a bundle re-signed with someone else's key
(reported as not pinned, never as the council's), a zip bomb (refused before it is inflated), and an
audit extract that disagrees with the signed checkpoint the bundle carries."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence_api.bundle.builder import BundleBuildError, build_bundle
from evidence_api.bundle.checkpoint import sign_checkpoint
from evidence_api.bundle.format import canonical_json
from evidence_api.bundle.signing import KeyStore, SigningKey
from evidence_api.bundle.spec import BundleSpec, BundleSpecError
from evidence_api.bundle.verify import format_fingerprint, public_key_fingerprint, verify_bundle
from tipwatch.cli import main as tipwatch

MakeCase = Callable[..., BundleSpec]
ROOT = Path(__file__).resolve().parents[2]
Edit = Callable[[dict[str, bytes], dict], None]


def checkpointed(spec: BundleSpec, signer: SigningKey, index: int = 3) -> BundleSpec:
    """The spec with a checkpoint of its extract's head, as an export makes it."""
    head = spec.audit.entries[-1]
    checkpoint = sign_checkpoint(
        index=index,
        tree_size=head.seq,
        head_hash=head.entry_hash,
        hash_scheme=spec.audit.hash_scheme,
        signer=signer,
        at=spec.exported_at,
    )
    return dataclasses.replace(spec, checkpoint=checkpoint)


@pytest.fixture
def bundle(tmp_path: Path, make_case: MakeCase, signer: SigningKey) -> Path:
    out = tmp_path / "case.zip"
    build_bundle(checkpointed(make_case(), signer), signer, out)
    return out


@pytest.fixture
def attacker(tmp_path: Path) -> SigningKey:
    store = KeyStore(tmp_path / "attacker")
    store.generate(comment="not the council")
    return store.load_active()


def repack(src: Path, dst: Path, key: SigningKey, edit: Edit, *, resign_checkpoint: bool = False) -> None:
    """Edit a bundle, then make it consistent again and sign it with ``key`` (its audit checkpoint too,
    with ``resign_checkpoint``), as a forger would."""
    with zipfile.ZipFile(src) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files["manifest.json"])
    edit(files, manifest)
    if resign_checkpoint:
        manifest["continuity"]["checkpoint"] = _resigned(manifest["continuity"]["checkpoint"], key)
    files["signing/public_key.pem"] = key.public_pem()
    manifest["signing"].update(key_id=key.key_id, fingerprint=key.fingerprint)
    for f in manifest["files"]:
        if f["path"] != "SHA256SUMS":
            f["sha256"], f["size"] = hashlib.sha256(files[f["path"]]).hexdigest(), len(files[f["path"]])
    files["SHA256SUMS"] = "".join(
        f"{f['sha256']}  {f['path']}\n" for f in manifest["files"] if f["path"] != "SHA256SUMS"
    ).encode()
    for f in manifest["files"]:
        if f["path"] == "SHA256SUMS":
            f["sha256"], f["size"] = hashlib.sha256(files["SHA256SUMS"]).hexdigest(), len(files["SHA256SUMS"])
    files["manifest.json"] = canonical_json(manifest)
    files["manifest.sig"] = key.sign(files["manifest.json"])
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


# -- the signer: pinned, or only self-consistent -------------------------------------------------------
def doctor_title(files: dict[str, bytes], manifest: dict) -> None:
    manifest["case"]["title"] = "Nothing to see here"


def test_a_bundle_re_signed_by_someone_else_is_never_reported_as_the_councils(
    tmp_path: Path, bundle: Path, signer: SigningKey, attacker: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    naive = tmp_path / "naive.zip"
    repack(bundle, naive, attacker, doctor_title)
    assert any("not by the key that signed the bundle" in p for p in verify_bundle(naive).problems)

    forged = tmp_path / "forged.zip"  # the checkpoint re-signed too: only pinning tells
    repack(bundle, forged, attacker, doctor_title, resign_checkpoint=True)

    report = verify_bundle(forged)
    text = report.render()
    assert report.ok and not report.signer_pinned  # intact as its own key signed it: that is all
    assert "signature valid" not in text and "pinned key" not in text
    assert "Signer: NOT PINNED" in text and "not who signed it" in text
    assert "RESULT: OK, SIGNER NOT PINNED" in text and "does not show the council signed it" in text
    assert format_fingerprint(attacker.fingerprint) in text  # printed, to compare by hand

    assert tipwatch(["bundle", "verify", str(forged)]) == 0  # not a failure, but said plainly
    assert "NOT PINNED" in capsys.readouterr().out
    assert tipwatch(["bundle", "verify", str(forged), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["signer_pinned"] is False and body["fingerprint"] == attacker.fingerprint

    assert (
        tipwatch(["bundle", "verify", str(forged), "--fingerprint", signer.record.fingerprint_display]) == 1
    )
    assert "not the expected" in capsys.readouterr().out
    council_pem = tmp_path / "council.pem"
    council_pem.write_bytes(signer.public_pem())
    assert tipwatch(["bundle", "verify", str(forged), "--public-key", str(council_pem)]) == 1
    assert "RESULT: FAILED" in capsys.readouterr().out


def test_the_genuine_bundle_pinned_says_so(bundle: Path, signer: SigningKey) -> None:
    report = verify_bundle(bundle, fingerprint=signer.fingerprint)
    text = report.render()
    assert report.ok and report.signer_pinned
    assert "Signer: PINNED" in text and "NOT PINNED" not in text
    assert "RESULT: OK - every hash matches, nothing missing or extra, signed by the pinned key" in text


# -- zip bombs and lying sizes ---------------------------------------------------------------------
def with_member(src: Path, dst: Path, name: str, write: Callable[[zipfile.ZipFile], None]) -> None:
    """``src`` with member ``name`` written by ``write`` instead."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename != name:
                zout.writestr(info, zin.read(info))
        write(zout)


def inflating(name: str, mib: int) -> Callable[[zipfile.ZipFile], None]:
    """A member of ``mib`` MiB of spaces (honestly declared), deflated to a few hundred kB, written in
    chunks so the test itself never holds it."""

    def write(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            fh.write(b'{"pad":"')
            for _ in range(mib):
                fh.write(b" " * (1 << 20))

    return write


def verify_in_fresh_process(path: Path) -> tuple[list[str], int]:
    """The problems verify names, and its peak memory (max RSS, MiB) in a process of its own."""
    # VmHWM, not getrusage's ru_maxrss: Linux carries the latter over from the forking pytest process
    code = (
        "import json, re, sys\n"
        "from evidence_api.bundle.verify import verify_bundle\n"
        "report = verify_bundle(sys.argv[1])\n"
        "status = open('/proc/self/status').read()\n"
        "rss = int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) // 1024\n"
        "print(json.dumps({'problems': report.problems, 'rss_mib': rss}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    return out["problems"], out["rss_mib"]


BOMBS = {
    "manifest-512MiB": ("manifest.json", 512, "declares 536,870,920 bytes unpacked, more than 16,777,216"),
    "public-key": ("signing/public_key.pem", 64, "more than 65,536, the most a public key may hold"),
    "signature": ("manifest.sig", 64, "more than 1,024, the most a signature may hold"),
    "audit-extract": ("continuity/audit_extract.jsonl", 64, "has a line longer than 1,048,576 bytes"),
    "checksums": ("SHA256SUMS", 64, "SHA256SUMS does not agree with the manifest's file list"),
}


@pytest.mark.parametrize(("name", "mib", "expected"), BOMBS.values(), ids=BOMBS.keys())
def test_a_zip_bomb_is_refused_before_it_is_inflated(
    tmp_path: Path, bundle: Path, name: str, mib: int, expected: str
) -> None:
    bomb = tmp_path / "bomb.zip"
    with_member(bundle, bomb, name, inflating(name, mib))
    assert bomb.stat().st_size < bundle.stat().st_size + 3_000_000  # a small file ...
    problems, rss_mib = verify_in_fresh_process(bomb)
    assert any(expected in p for p in problems), problems
    assert rss_mib < 120, f"verify used {rss_mib} MiB on a {mib} MiB bomb"  # ... that stays small in memory


def _patch_declared_size(path: Path, name: str, size: int) -> None:
    """Make the zip entry ``name`` declare ``size`` bytes unpacked, in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        offset = zf.getinfo(name).header_offset
    assert data[offset : offset + 4] == b"PK\x03\x04"
    data[offset + 22 : offset + 26] = size.to_bytes(4, "little")
    central = 0
    while (central := data.find(b"PK\x01\x02", central + 1)) != -1:
        name_len = int.from_bytes(data[central + 28 : central + 30], "little")
        if data[central + 46 : central + 46 + name_len] == name.encode():
            data[central + 24 : central + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_a_member_that_inflates_past_its_declared_size_is_refused(tmp_path: Path, bundle: Path) -> None:
    lying = tmp_path / "lying.zip"

    def write(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo("manifest.json")
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, b'{"pad":"' + b" " * (64 << 20) + b'"}')

    with_member(bundle, lying, "manifest.json", write)
    _patch_declared_size(lying, "manifest.json", 1000)
    problems, rss_mib = verify_in_fresh_process(lying)
    assert any(
        "manifest.json is corrupt, or unpacks to more than the 1,000 bytes its zip entry declares" in p
        for p in problems
    ), problems
    assert rss_mib < 120


def test_a_manifest_of_tiny_values_is_refused_before_parsing(tmp_path: Path, bundle: Path) -> None:
    dense = tmp_path / "dense.zip"
    with_member(
        bundle,
        dense,
        "manifest.json",
        lambda zf: zf.writestr("manifest.json", b"[" + b"{}," * 3_000_000 + b"{}]"),
    )
    report = verify_bundle(dense)
    assert any("too dense" in p for p in report.problems), report.problems


# -- the signed checkpoint of the audit log ----------------------------------------------------------
def test_the_bundle_carries_its_checkpoint_and_the_extract_agrees(bundle: Path, signer: SigningKey) -> None:
    with zipfile.ZipFile(bundle) as zf:
        continuity = json.loads(zf.read("manifest.json"))["continuity"]
    assert continuity["checkpoint"]["checkpoint"]["tree_size"] == continuity["head_seq"]
    report = verify_bundle(bundle, fingerprint=signer.fingerprint)
    assert report.ok, report.problems
    assert report.checkpoint.startswith("signed checkpoint #3 of 2026-07-19 21:05:00 UTC (")
    assert "the extract agrees with it" in report.render()


def test_the_builder_refuses_a_checkpoint_that_does_not_fit(
    tmp_path: Path, make_case: MakeCase, signer: SigningKey, attacker: SigningKey
) -> None:
    spec = checkpointed(make_case(), signer)
    assert spec.checkpoint is not None
    other = dataclasses.replace(spec.checkpoint, head_hash=secrets.token_hex(32))
    with pytest.raises(BundleSpecError, match="does not agree with signed checkpoint #3"):
        dataclasses.replace(spec, checkpoint=other)
    with pytest.raises(BundleBuildError, match="not by"):
        build_bundle(checkpointed(make_case(), attacker), signer, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def _resigned(checkpoint: dict, key: SigningKey, **changes: object) -> dict:
    body = {**checkpoint["checkpoint"], **changes, "key_fingerprint": key.fingerprint}
    return {"checkpoint": body, "signature": key.sign(canonical_json(body)).hex()}


def beyond_the_extract(signer: SigningKey) -> Edit:
    def edit(files: dict[str, bytes], manifest: dict) -> None:
        cp = manifest["continuity"]["checkpoint"]
        manifest["continuity"]["checkpoint"] = _resigned(
            cp, signer, tree_size=cp["checkpoint"]["tree_size"] + 2
        )

    return edit


def other_head(signer: SigningKey) -> Edit:
    def edit(files: dict[str, bytes], manifest: dict) -> None:
        cp = manifest["continuity"]["checkpoint"]
        manifest["continuity"]["checkpoint"] = _resigned(cp, signer, head_hash=secrets.token_hex(32))

    return edit


def unsigned_edit(signer: SigningKey) -> Edit:
    def edit(files: dict[str, bytes], manifest: dict) -> None:
        manifest["continuity"]["checkpoint"]["checkpoint"]["tree_size"] -= 1

    return edit


def stranger_signed(signer: SigningKey) -> Edit:
    """A checkpoint signed by another key than the bundle's."""
    private = Ed25519PrivateKey.generate()

    def edit(files: dict[str, bytes], manifest: dict) -> None:
        body = {
            **manifest["continuity"]["checkpoint"]["checkpoint"],
            "key_fingerprint": public_key_fingerprint(private.public_key()),
        }
        manifest["continuity"]["checkpoint"] = {
            "checkpoint": body,
            "signature": private.sign(canonical_json(body)).hex(),
        }

    return edit


@pytest.mark.parametrize(
    ("make_edit", "expected"),
    [
        (beyond_the_extract, "the extract is shorter than the signed checkpoint"),
        (other_head, "the extract disagrees with the signed checkpoint"),
        (unsigned_edit, "the audit checkpoint's signature does not verify"),
        (stranger_signed, "not by the key that signed the bundle"),
    ],
    ids=["extract-shorter", "head-differs", "edited-unsigned", "other-key"],
)
def test_an_extract_that_disagrees_with_its_checkpoint_fails(
    tmp_path: Path, bundle: Path, signer: SigningKey, make_edit: Callable[[SigningKey], Edit], expected: str
) -> None:
    """Even re-signed with the council's own key (an insider, a builder bug), the extract is held to the
    checkpoint."""
    bad = tmp_path / "bad.zip"
    repack(bundle, bad, signer, make_edit(signer))
    report = verify_bundle(bad, fingerprint=signer.fingerprint)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems
