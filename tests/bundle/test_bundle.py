"""A bundle verifies; any tampering, missing or extra file, or unsafe zip is caught and named."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
import pypdf
import pytest

from evidence_api.bundle.builder import BundleBuildError, build_bundle
from evidence_api.bundle.signing import KeyStore, SigningKey
from evidence_api.bundle.spec import BundleSpec, ExhibitSource, WorkingFile
from evidence_api.bundle.verify import verify_bundle
from evidence_api.previews import make_preview
from tipwatch.person_finder import ssd_person_finder

MakeCase = Callable[..., BundleSpec]


@pytest.fixture
def bundle(tmp_path: Path, make_case: MakeCase, signer: SigningKey) -> Path:
    out = tmp_path / "case.zip"
    build_bundle(make_case(), signer, out)
    return out


def opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return np.asarray(image, np.uint8)


def read_pdf(data: bytes) -> pypdf.PdfReader:
    """Parse a PDF strictly, as a viewer would (a broken cross-reference table or object fails here)."""
    return pypdf.PdfReader(io.BytesIO(data), strict=True)


def read_manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("manifest.json"))


def test_exported_bundle_verifies_and_carries_masters_byte_for_byte(bundle: Path, media: Any) -> None:
    report = verify_bundle(bundle)
    assert report.ok, report.render()
    manifest = read_manifest(bundle)
    refs = [ex["reference"] for ex in manifest["exhibits"]]
    assert refs == [f"SG/{i}" for i in range(1, 7)]
    by_role = {(ex["event_id"][-1], ex["role"]): ex for ex in manifest["exhibits"]}
    act = by_role[("1", "act")]
    with zipfile.ZipFile(bundle) as zf:
        assert zf.read(act["master"]) == media.bus.read_bytes()
        assert zf.read(by_role[("1", "clip")]["master"]) == media.clip.read_bytes()
        assert zf.getinfo(act["master"]).compress_type == zipfile.ZIP_STORED
        names = set(zf.namelist())
    # capture time in UTC and London local (BST in July)
    assert act["captured_at_utc"] == "2026-07-14T21:05:40+00:00"
    assert act["captured_at_local"].startswith("2026-07-14 22:05:40 BST")
    assert act["model_sha256"] and act["rule_version"] == "rules/1" and act["camera_id"] == "cam-1"
    assert {wc["label"].split(" ")[0] for wc in act["working_copies"]} == {"annotated", "cropped"}
    assert [s["stage"] for s in act["custody"]] == ["capture", "upload", "storage", "review", "export"]
    assert manifest["continuity"]["head_hash"] == report.head_hash
    assert manifest["review_decisions"][0]["decision"] == "confirmed"
    for doc in ("exhibit_list.pdf", "exhibit_list.html", "statement_s9.pdf", "statement_s9.html"):
        assert f"documents/{doc}" in names
    assert {"SHA256SUMS", "signing/public_key.pem", "signing/fingerprint.txt", "manifest.sig"} <= names
    assert report.exhibits == 6 and report.audit_entries == 14  # 3 ingests, 7 files, 3 reviews, 1 export


def test_documents_show_the_stills_and_the_s9_declaration(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        html = zf.read("documents/exhibit_list.html").decode()
        statement = zf.read("documents/statement_s9.html").decode()
        pdf = zf.read("documents/exhibit_list.pdf")
        s9_pdf = zf.read("documents/statement_s9.pdf")
    assert '<img src="../exhibits/masters/SG-3_act.jpg"' in html
    assert "SG/6" in html and "BST" in html
    assert "Criminal Justice Act 1967, s.9" in statement and "wilfully stated" in statement
    assert "NTP" in statement
    # the clock is stated per exhibit, as each was timed (the fixture times one event by the box's clock)
    by_source: dict[str, list[str]] = {}
    for ex in read_manifest(bundle)["exhibits"]:
        by_source.setdefault(ex["clock_source"], []).append(ex["reference"])
    assert set(by_source) == {"stream", "receive"}
    assert f"{', '.join(by_source['receive'])} were timed by the edge box" in statement or (
        len(by_source["receive"]) == 1 and f"{by_source['receive'][0]} was timed by the edge box" in statement
    )
    assert "timed by the camera" in statement
    # read as a viewer reads them (pypdf, strict): every still printed, every page numbered
    exhibit_list = read_pdf(pdf)
    text = "\n".join(page.extract_text() for page in exhibit_list.pages)
    stills = [ex for ex in read_manifest(bundle)["exhibits"] if ex["media_type"] == "image/jpeg"]
    assert sum(len(page.images) for page in exhibit_list.pages) == len(stills) == 5
    for ex in stills:
        assert ex["reference"] in text and ex["sha256"] in text
    n = len(exhibit_list.pages)
    assert all(f"Page {i} of {n}" in page.extract_text() for i, page in enumerate(exhibit_list.pages, 1))
    assert exhibit_list.metadata is not None and exhibit_list.metadata.title.startswith("Exhibit list")
    statement = read_pdf(s9_pdf)
    pages = len(statement.pages)
    first = statement.pages[0].extract_text()
    assert f"consisting of {pages} page(s)" in first.replace("\n", " ")
    assert "Statement of: Sam Green\nAge if under 18: Over 18" in first  # line breaks kept, not '?'


def test_unauthorised_exhibit_is_left_out_and_named(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    assert [x["role"] for x in manifest["excluded_exhibits"]] == ["vehicle"]
    assert all(ex["event_id"][-1] != "3" for ex in manifest["exhibits"])
    assert {a["authorisation_id"] for a in manifest["authorisations"]} == {"auth-1", "auth-2"}


def test_legal_override_brings_the_exhibit_in_with_its_reasons(
    tmp_path: Path, make_case: MakeCase, signer: SigningKey
) -> None:
    out = tmp_path / "override.zip"
    result = build_bundle(make_case(with_override=True), signer, out)
    assert verify_bundle(out).ok
    assert len(result.exhibit_references) == 7 and not result.excluded
    manifest = read_manifest(out)
    overridden = [ex for ex in manifest["exhibits"] if ex["override_id"]]
    assert len(overridden) == 1 and overridden[0]["authorisation_id"] is None
    with zipfile.ZipFile(out) as zf:
        overrides = json.loads(zf.read("authorisations/overrides.json"))
    assert overrides[0]["override_id"] == "ovr-1" and "CPIA" in overrides[0]["reasons"]


def test_ripa_authorisation_counts_only_once_a_magistrate_approved_it(
    tmp_path: Path, make_case: MakeCase, signer: SigningKey
) -> None:
    result = build_bundle(make_case(ripa_approved=False), signer, tmp_path / "b.zip")
    assert {x["role"] for x in result.excluded} == {"act", "after", "vehicle"}


def test_master_altered_since_ingest_stops_the_export(
    tmp_path: Path, media: Any, make_case: MakeCase, signer: SigningKey
) -> None:
    spec = make_case()
    damaged = tmp_path / "damaged.jpg"
    data = bytearray(media.bus.read_bytes())
    data[5000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    first = spec.exhibits[1]
    assert first.role == "act"
    spec.exhibits[1] = ExhibitSource(
        **{**{f: getattr(first, f) for f in first.__dataclass_fields__}, "open": lambda: damaged.open("rb")}
    )
    out = tmp_path / "out.zip"
    with pytest.raises(BundleBuildError, match="no longer matches the hash"):
        build_bundle(spec, signer, out)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


# -- tampering -------------------------------------------------------------------------------------
Mutation = Callable[[dict[str, bytes], dict], None]


def flip_byte(data: bytes, at: int = 1000) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)


def tamper_still(files: dict[str, bytes], manifest: dict) -> None:
    path = manifest["exhibits"][0]["master"]
    files[path] = flip_byte(files[path])


def tamper_manifest(files: dict[str, bytes], manifest: dict) -> None:
    files["manifest.json"] = files["manifest.json"].replace(b'"SG/1"', b'"SG/9"', 1)


def tamper_signature(files: dict[str, bytes], manifest: dict) -> None:
    files["manifest.sig"] = flip_byte(files["manifest.sig"], 10)


def tamper_audit(files: dict[str, bytes], manifest: dict) -> None:
    name = "continuity/audit_extract.jsonl"
    files[name] = files[name].replace(b"officer:sgreen", b"officer:someone", 1)


def add_file(files: dict[str, bytes], manifest: dict) -> None:
    files["exhibits/masters/SG-99_act.jpg"] = b"\xff\xd8\xff" + b"0" * 100


def remove_file(files: dict[str, bytes], manifest: dict) -> None:
    del files[manifest["exhibits"][2]["master"]]


def resign_after_edit(files: dict[str, bytes], manifest: dict) -> None:
    """Swap in an attacker's key and a re-signed manifest: caught only by pinning the council's key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evidence_api.bundle.format import canonical_json
    from evidence_api.bundle.verify import public_key_fingerprint

    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    files["signing/public_key.pem"] = pem
    import hashlib

    for f in manifest["files"]:
        if f["path"] == "signing/public_key.pem":
            f["sha256"], f["size"] = hashlib.sha256(pem).hexdigest(), len(pem)
    manifest["signing"]["fingerprint"] = public_key_fingerprint(key.public_key())
    files["SHA256SUMS"] = "".join(
        f"{f['sha256']}  {f['path']}\n" for f in manifest["files"] if f["path"] != "SHA256SUMS"
    ).encode()
    for f in manifest["files"]:
        if f["path"] == "SHA256SUMS":
            f["sha256"], f["size"] = hashlib.sha256(files["SHA256SUMS"]).hexdigest(), len(files["SHA256SUMS"])
    files["manifest.json"] = canonical_json(manifest)
    files["manifest.sig"] = key.sign(files["manifest.json"])


def rewrite(src: Path, dst: Path, mutate: Mutation) -> None:
    with zipfile.ZipFile(src) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    mutate(files, json.loads(files["manifest.json"]))
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


@pytest.mark.parametrize(
    ("mutate", "expected", "pin"),
    [
        (tamper_still, "hash mismatch: exhibits/masters/SG-1_arrival.jpg", False),
        (tamper_manifest, "signature in manifest.sig does not match", False),
        (tamper_signature, "signature in manifest.sig does not match", False),
        (tamper_audit, "does not hash to its recorded hash", False),
        (add_file, "extra file: exhibits/masters/SG-99_act.jpg", False),
        (remove_file, "missing file: exhibits/masters/SG-3_act.jpg", False),
        (resign_after_edit, "not the expected", True),
    ],
    ids=[
        "still-byte",
        "manifest-byte",
        "signature-byte",
        "audit-extract",
        "added-file",
        "removed-file",
        "re-signed",
    ],
)
def test_tampering_is_caught_and_named(
    tmp_path: Path, bundle: Path, signer: SigningKey, mutate: Mutation, expected: str, pin: bool
) -> None:
    untouched = tmp_path / "untouched.zip"
    rewrite(bundle, untouched, lambda files, manifest: None)
    assert verify_bundle(untouched, fingerprint=signer.fingerprint).ok  # the rewrite itself changes nothing
    tampered = tmp_path / "tampered.zip"
    rewrite(bundle, tampered, mutate)
    report = verify_bundle(tampered, fingerprint=signer.fingerprint if pin else None)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


def test_raw_byte_flip_inside_the_zip_is_caught(tmp_path: Path, bundle: Path) -> None:
    manifest = read_manifest(bundle)
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo(manifest["exhibits"][2]["master"])
    raw = bytearray(bundle.read_bytes())
    raw[info.header_offset + 200] ^= 0x40  # inside the stored JPEG bytes
    tampered = tmp_path / "raw.zip"
    tampered.write_bytes(bytes(raw))
    report = verify_bundle(tampered)
    assert not report.ok and any(
        "corrupt file: exhibits/masters/SG-3_act.jpg" in p for p in report.problems
    ), report.problems


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../evil.txt", "path traversal"),
        ("exhibits/../../evil.txt", "path traversal"),
        ("/etc/passwd", "absolute path"),
        ("C:/windows/evil.txt", "absolute path"),
        ("exhibits\\evil.txt", "backslash"),
        ("manifest.json", "duplicate name"),
    ],
)
def test_unsafe_zip_names_are_refused(tmp_path: Path, bundle: Path, name: str, expected: str) -> None:
    bad = tmp_path / "bad.zip"
    shutil.copy(bundle, bad)
    with (
        pytest.warns(UserWarning) if name == "manifest.json" else _no_warning(),
        zipfile.ZipFile(bad, "a") as zf,
    ):
        zf.writestr(name, b"x")
    report = verify_bundle(bad)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems
    assert report.files_checked == 0  # refused before any member is read


class _no_warning:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_pinning_the_signer(tmp_path: Path, bundle: Path, signer: SigningKey) -> None:
    pem = signer.public_pem()
    assert verify_bundle(bundle, public_key_pem=pem, fingerprint=signer.fingerprint.upper()).ok
    other = KeyStore(tmp_path / "other")
    other.generate()
    other_key = other.load_active()
    report = verify_bundle(bundle, public_key_pem=other_key.public_pem())
    assert not report.ok and any("signature" in p for p in report.problems)
    report = verify_bundle(bundle, fingerprint=other_key.fingerprint)
    assert not report.ok and any("not the expected" in p for p in report.problems)


def test_private_key_never_enters_the_bundle(bundle: Path, signer: SigningKey) -> None:
    from cryptography.hazmat.primitives import serialization

    raw = signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    data = bundle.read_bytes()
    assert raw not in data and b"PRIVATE KEY" not in data


def test_people_are_really_blurred_in_the_disclosure_copy(
    tmp_path: Path, make_case: MakeCase, signer: SigningKey
) -> None:
    out = tmp_path / "blur.zip"
    result = build_bundle(make_case(blur_people=True), signer, out, person_finder=ssd_person_finder())
    assert verify_bundle(out).ok
    assert result.blurred_regions >= 3  # bus.jpg and zidane.jpg have several people
    manifest = read_manifest(out)
    act = next(ex for ex in manifest["exhibits"] if ex["master"].endswith("SG-5_act.jpg"))  # zidane.jpg
    blurred_path = next(wc["path"] for wc in act["working_copies"] if "blurred" in wc["path"])
    with zipfile.ZipFile(out) as zf:
        original = decode(zf.read(act["master"]))
        blurred = decode(zf.read(blurred_path))
    people = ssd_person_finder()(original)
    assert len(people) >= 2  # the two men in zidane.jpg
    for x1, y1, x2, y2 in people:
        box = (slice(max(0, y1), y2), slice(max(0, x1), x2))
        sharp = cv2.Laplacian(cv2.cvtColor(original[box], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
        soft = cv2.Laplacian(cv2.cvtColor(blurred[box], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
        assert soft < sharp * 0.1, (sharp, soft)  # fine detail (faces, clothing texture) is gone
    outside = (slice(0, 140), slice(0, 690))  # top-left background, no person there: untouched
    assert np.abs(original[outside].astype(int) - blurred[outside].astype(int)).mean() < 3


def test_blurring_people_without_a_person_finder_is_refused_and_nothing_is_written(
    tmp_path: Path, make_case: MakeCase, signer: SigningKey
) -> None:
    out = tmp_path / "blur.zip"
    with pytest.raises(BundleBuildError, match="no person finder was given"):
        build_bundle(make_case(blur_people=True), signer, out)
    assert list(tmp_path.iterdir()) == [tmp_path / "data"]  # no bundle, no partial file


def test_vehicle_crop_working_copy(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    act = next(ex for ex in manifest["exhibits"] if ex["role"] == "act" and ex["event_id"].endswith("1"))
    crop_path = next(wc["path"] for wc in act["working_copies"] if "crop" in wc["path"])
    with zipfile.ZipFile(bundle) as zf:
        crop = decode(zf.read(crop_path))
    # union box (50,230)-(800,750) plus 15% margin (112, 78 px), clipped to the 810x1080 frame
    assert crop.shape[:2] == (828 - 152, 810)


def test_hand_check_with_sha256sum_and_openssl(tmp_path: Path, bundle: Path) -> None:
    """The clerk's manual route in docs/bundles.md works with stock tools."""
    if shutil.which("sha256sum") is None or shutil.which("openssl") is None:
        pytest.fail("sha256sum and openssl are expected on the test machine (coreutils, openssl)")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    sums = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=folder, capture_output=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    sig = subprocess.run(
        [
            "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing/public_key.pem",
            "-rawin", "-in", "manifest.json", "-sigfile", "manifest.sig",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert sig.returncode == 0 and "Signature Verified Successfully" in sig.stdout, sig.stdout + sig.stderr
    fp = subprocess.run(
        "openssl pkey -pubin -in signing/public_key.pem -outform DER | tail -c 32 | sha256sum",
        shell=True,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert fp.stdout.split()[0] == read_manifest(bundle)["signing"]["fingerprint"]


def _verifier_import_roots() -> set[str]:
    """The top-level packages the verifier imports, counting those of the bundle-format modules it
    shares with the builder (``evidence_api.bundle.format``, ``.manifest``) as its own."""
    import ast

    bundle = Path(__file__).parents[2] / "evidence_api" / "bundle"
    roots: set[str] = set()
    todo, done = ["verify"], set()
    while todo:
        name = todo.pop()
        done.add(name)
        for node in ast.walk(ast.parse((bundle / f"{name}.py").read_text())):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("evidence_api.bundle."):
                    shared = node.module.removeprefix("evidence_api.bundle.")
                    if shared not in done:
                        todo.append(shared)
                else:
                    roots.add(node.module.split(".")[0])
    return roots


def test_verifier_imports_only_stdlib_and_cryptography() -> None:
    roots = _verifier_import_roots()
    assert roots - set(sys.stdlib_module_names) == {"cryptography"}
    code = (
        "import sys, evidence_api.commands.bundle; "
        "heavy = ('fastapi', 'sqlalchemy', 'pydantic', 'cv2', 'fpdf'); "
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_large_case_prints_the_exhibit_list_in_volumes(
    tmp_path: Path, make_case: MakeCase, signer: SigningKey
) -> None:
    import dataclasses

    spec = make_case()
    template = next(ex for ex in spec.exhibits if ex.role == "arrival")
    rng = np.random.default_rng(7)
    for i in range(205):
        path = tmp_path / f"extra{i:03d}.jpg"
        cv2.imwrite(str(path), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        data = path.read_bytes()
        spec.exhibits.append(
            dataclasses.replace(
                template,
                role="after",
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                open=opener(path),
                annotated=None,
                vehicle=None,
            )
        )
    out = tmp_path / "large.zip"
    result = build_bundle(spec, signer, out)
    assert len(result.exhibit_references) == 211
    report = verify_bundle(out)
    assert report.ok, report.problems
    manifest = read_manifest(out)
    assert manifest["documents"]["exhibit_list_pdf"] == [
        f"documents/exhibit_list_vol{i:02d}_of_03.pdf" for i in (1, 2, 3)
    ]
    with zipfile.ZipFile(out) as zf:
        last = zf.read("documents/exhibit_list_vol03_of_03.pdf")
    assert last.count(b"/Subtype /Image") == 10  # its 11 exhibits: 10 stills, each embedded once, 1 clip


# -- print copies ----------------------------------------------------------------------------------
def _printed_images(bundle: Path) -> dict[str, bytes]:
    """Exhibit reference -> the JPEG bytes embedded beside it in the printed exhibit list."""
    with zipfile.ZipFile(bundle) as zf:
        reader = read_pdf(zf.read("documents/exhibit_list.pdf"))
    printed = {}
    stills = [ex for ex in read_manifest(bundle)["exhibits"] if ex["media_type"] == "image/jpeg"]
    images = [
        xobject.get_object().get_data()
        for page in reader.pages
        for xobject in page["/Resources"]["/XObject"].values()
    ]
    assert len(images) == len(stills)
    for ex, data in zip(stills, images, strict=True):  # printed in exhibit order
        printed[ex["reference"]] = data
    return printed


def test_the_exhibit_list_prints_the_print_copy_made_at_ingest(
    tmp_path: Path, make_case: MakeCase, signer: SigningKey
) -> None:
    import dataclasses

    spec = make_case()
    copies: dict[str, bytes] = {}
    for i, ex in enumerate(spec.exhibits):
        if ex.is_still:
            with ex.open() as fh:
                made_now = make_preview(fh.read()).jpeg.data
            # stored at another quality, so the test can tell the stored copy from one made at export
            image = cv2.imdecode(np.frombuffer(made_now, np.uint8), cv2.IMREAD_COLOR)
            copy = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 40])[1].tobytes()
            assert copy != made_now
            path = tmp_path / f"print{i}.jpg"
            path.write_bytes(copy)
            copies[ex.sha256] = copy
            preview = WorkingFile(hashlib.sha256(copy).hexdigest(), len(copy), opener(path))
            spec.exhibits[i] = dataclasses.replace(ex, preview=preview)
    out = tmp_path / "out.zip"
    build_bundle(spec, signer, out)
    assert verify_bundle(out).ok
    by_ref = {ex["reference"]: ex["sha256"] for ex in read_manifest(out)["exhibits"]}
    printed = _printed_images(out)
    assert printed and all(data == copies[by_ref[ref]] for ref, data in printed.items())


def test_a_missing_or_damaged_print_copy_is_made_again_from_the_master(
    tmp_path: Path, make_case: MakeCase, signer: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    import dataclasses

    spec = make_case()
    wrong = tmp_path / "someone-else.jpg"
    wrong.write_bytes(cv2.imencode(".jpg", np.zeros((30, 40, 3), np.uint8))[1].tobytes())
    first = next(i for i, ex in enumerate(spec.exhibits) if ex.is_still)
    # recorded under one hash, but the stored bytes are another picture
    spec.exhibits[first] = dataclasses.replace(
        spec.exhibits[first], preview=WorkingFile("0" * 64, wrong.stat().st_size, opener(wrong))
    )
    out = tmp_path / "out.zip"
    build_bundle(spec, signer, out)
    assert verify_bundle(out).ok
    assert "does not match its hash; making a new one" in caplog.text
    masters = {}
    for ex in spec.exhibits:
        with ex.open() as fh:
            masters[ex.sha256] = fh.read()
    by_ref = {ex["reference"]: ex["sha256"] for ex in read_manifest(out)["exhibits"]}
    for ref, data in _printed_images(out).items():  # the damaged one and those never made alike
        assert data == make_preview(masters[by_ref[ref]]).jpeg.data


def test_qpdf_finds_nothing_wrong_with_the_documents(tmp_path: Path, bundle: Path) -> None:
    """A second, independent PDF implementation checks every PDF in the bundle (Debian's qpdf)."""
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        pytest.fail("qpdf is not installed: `bash deploy/dev.sh test` installs Debian's qpdf")
    with zipfile.ZipFile(bundle) as zf:
        names = [n for n in zf.namelist() if n.endswith(".pdf")]
        assert len(names) == 2
        for name in names:
            path = tmp_path / Path(name).name
            path.write_bytes(zf.read(name))
            check = subprocess.run([qpdf, "--check", str(path)], capture_output=True, text=True, timeout=60)
            assert check.returncode == 0, check.stdout + check.stderr
            assert "No syntax or stream encoding errors found" in check.stdout
