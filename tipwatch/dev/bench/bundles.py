"""Bundle export speed and memory, against the physical floor measured in the same run.

A case of N stills (real CCTV frames from OpenCV's vtest.avi, each a distinct JPEG) and M mp4 clips is
exported with the real builder; the floor is SHA-256 over the same bytes plus writing them into a zip
(ZIP_STORED) and syncing it to disk, nothing else (the export syncs too; the floor without the sync is
reported beside it).  Each still has the reduced print copy the API makes when the still is received
(``evidence_api.previews``); making them is timed separately, per still, as ingest work, and one export
without them shows what a case of stills stored before print copies existed costs.  Peak RSS is measured
in fresh worker processes for a small and a large case, so memory growth with the number of exhibits
shows directly.  Prints one JSON object.

    python benchmarks/bundles.py [--stills 1000] [--clips 20] [--small 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from evidence_api.bundle.builder import build_bundle
from evidence_api.bundle.format import GENESIS_HASH, audit_entry_hash
from evidence_api.bundle.signing import KeyStore
from evidence_api.bundle.spec import (
    AuditExtract,
    AuditRecord,
    Authorisation,
    AuthorisationKind,
    BundleSpec,
    CaseInfo,
    CustodyStep,
    EventRecord,
    ExhibitSource,
    Producer,
    RedactionOptions,
    ReviewDecision,
    WorkingFile,
)
from evidence_api.bundle.verify import verify_bundle
from evidence_api.previews import make_preview

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
SCHEME = "tipwatch-audit/1"
STILLS_PER_EVENT = 5
CHUNK = 1 << 20


def make_previews(stills: list[Path]) -> float:
    """Each still's print copy, as ingest makes it (``NAME.preview.jpg`` beside it); seconds per still."""
    start = time.perf_counter()
    for path in stills:
        path.with_suffix(".preview.jpg").write_bytes(make_preview(path.read_bytes()).jpeg.data)
    return (time.perf_counter() - start) / max(1, len(stills))


def make_media(folder: Path, stills: int, clips: int) -> tuple[list[Path], list[Path]]:
    """Distinct real-footage JPEGs (~100 kB, 768x576) and short mp4 clips."""
    cap = cv2.VideoCapture(str(VTEST))
    frames: list[np.ndarray] = []
    while len(frames) < 200:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise SystemExit(f"cannot read {VTEST}: install Debian's opencv-doc")
    still_paths = []
    for i in range(stills):
        image = frames[i % len(frames)].copy()
        cv2.putText(image, f"{i:05d}", (10, 560), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        path = folder / f"still{i:05d}.master.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        still_paths.append(path)
    clip_paths = []
    h, w = frames[0].shape[:2]
    for c in range(clips):
        path = folder / f"clip{c:03d}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10, (w, h))
        for k in range(50):
            image = frames[(c * 7 + k) % len(frames)].copy()
            cv2.putText(image, f"clip {c} {k}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
            writer.write(image)
        writer.release()
        clip_paths.append(path)
    return still_paths, clip_paths


def sha256_path(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def make_spec(stills: list[Path], clips: list[Path], *, previews: bool = True) -> BundleSpec:
    t0 = datetime(2026, 7, 14, 20, 0, tzinfo=UTC)
    entries: list[AuditRecord] = []

    def audit(at: datetime, action: str, subject: str) -> int:
        seq = len(entries) + 1
        prev = entries[-1].entry_hash if entries else GENESIS_HASH
        fields = {"at": at.isoformat(), "actor": "bench", "action": action, "subject": subject}
        entries.append(AuditRecord(seq, prev, audit_entry_hash(SCHEME, seq, prev, fields), fields))
        return seq

    groups = [stills[i : i + STILLS_PER_EVENT] for i in range(0, len(stills), STILLS_PER_EVENT)]
    events, decisions, pending = [], [], []
    for g, group in enumerate(groups):
        start = t0 + timedelta(minutes=10 * g)
        event_id = f"0190f5c2-0000-7000-8000-{g:012d}"
        files = [*group, *([clips[g]] if g < len(clips) else [])]
        events.append(
            EventRecord(
                event_id=event_id,
                type="dumping",
                site_id="lay-by-a123",
                site_name="A123 lay-by",
                camera_id="cam-1",
                started_at=start,
                ended_at=start + timedelta(minutes=2),
                clock_source="stream",
                model_name="ssd_mobilenet_v2_coco_2018_03_29",
                model_sha256="0" * 64,
                rule_version="rules/1",
            )
        )
        received = start + timedelta(minutes=3)
        ingest = audit(received, "event.ingested", event_id)
        stored = [audit(received, "file.stored", p.name) for p in files]
        review = audit(received + timedelta(hours=1), "event.confirmed", event_id)
        decisions.append(ReviewDecision(event_id, "confirmed", "bench", received + timedelta(hours=1)))
        for k, (path, seq) in enumerate(zip(files, stored, strict=True)):
            is_clip = path.suffix == ".mp4"
            pending.append(
                (event_id, path, start + timedelta(seconds=k), is_clip, received, ingest, seq, review)
            )
    exported = t0 + timedelta(days=30)
    export_seq = audit(exported, "bundle.export.started", "case-bench")
    exhibits = [
        ExhibitSource(
            event_id=event_id,
            role="clip" if is_clip else ("arrival", "vehicle", "plate", "act", "departure")[i % 5],
            media_type="video/mp4" if is_clip else "image/jpeg",
            sha256=sha256_path(path),
            size=path.stat().st_size,
            captured_at=captured,
            camera_id="cam-1",
            site_id="lay-by-a123",
            model_name="ssd_mobilenet_v2_coco_2018_03_29",
            model_sha256="0" * 64,
            rule_version="rules/1",
            open=lambda p=path: p.open("rb"),  # type: ignore[misc]
            preview=working_file(path.with_suffix(".preview.jpg")) if previews and not is_clip else None,
            received_at=received,
            custody=(
                CustodyStep("upload", received, "device", "received", ingest),
                CustodyStep("storage", received, "device", "stored", stored_seq),
                CustodyStep("review", received, "officer", "confirmed", review),
                CustodyStep("export", exported, "legal", "exported", export_seq),
            ),
        )
        for i, (event_id, path, captured, is_clip, received, ingest, stored_seq, review) in enumerate(pending)
    ]
    return BundleSpec(
        case=CaseInfo("case-bench", "FT/BENCH/1", "Benchmark case", "s.33 EPA 1990", "Sam Green", "SG", t0),
        events=events,
        decisions=decisions,
        exhibits=exhibits,
        authorisations=[
            Authorisation(
                "auth-1",
                AuthorisationKind.OVERT_DPIA,
                "DPIA-1",
                ("lay-by-a123",),
                t0 - timedelta(days=30),
                t0 + timedelta(days=365),
                "DPO",
            )
        ],
        overrides=[],
        audit=AuditExtract(tuple(entries), entries[-1].entry_hash, SCHEME),
        producer=Producer(
            "Sam Green", "Enforcement Officer", "Anytown DC", "Tipwatch.", "NTP.", "Write-once."
        ),
        exported_by="bench",
        exported_at=exported,
        redaction=RedactionOptions(crop_vehicle=False, blur_people=False),
    )


def working_file(path: Path) -> WorkingFile:
    return WorkingFile(sha256_path(path), path.stat().st_size, lambda: path.open("rb"))


def floor(paths: list[Path], out: Path) -> tuple[float, float]:
    """SHA-256 over the same bytes while writing them into a stored zip, then fsync: the physical floor.
    Returns the seconds with and without the final sync."""
    start = time.perf_counter()
    with open(out, "wb") as fh:
        with zipfile.ZipFile(fh, "w") as zf:
            for path in paths:
                digest = hashlib.sha256()
                with path.open("rb") as src, zf.open(path.name, "w") as dst:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
        fh.flush()
        written = time.perf_counter() - start
        os.fsync(fh.fileno())
    return time.perf_counter() - start, written


def proc_status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM, so the peak measured is the export's own."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def worker(folder: Path, stills: int, clips: int) -> dict[str, float]:
    """One export in this (fresh) process over media already on disk; peak RSS against the baseline."""
    still_paths = sorted(folder.glob("still*.master.jpg"))[:stills]
    clip_paths = sorted(folder.glob("clip*.mp4"))[:clips]
    spec = make_spec(still_paths, clip_paths)
    store = KeyStore(folder / f"data-{stills}")
    store.generate()
    key = store.load_active()
    baseline = proc_status_mb("VmRSS")
    reset = reset_peak_rss()
    start = time.perf_counter()
    build_bundle(spec, key, folder / f"case-{stills}.zip", compute_bundle_sha256=False)
    elapsed = time.perf_counter() - start
    peak = proc_status_mb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (folder / f"case-{stills}.zip").unlink()
    return {"export_s": elapsed, "baseline_rss_mb": baseline, "peak_rss_mb": peak}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--stills", type=int, default=1000)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument(
        "--small", type=int, default=100, help="stills in the small case for the memory comparison"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of floor and export (best of)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # media folder, internal


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    if args.worker:
        print(json.dumps(worker(args.worker, args.stills, args.clips)))
        return 0
    result = measure(args)
    if not args.json:
        for key, value in result.items():
            print(f"{key:>42}: {value}", file=sys.stderr)
    print(json.dumps(result))
    return 0


def measure(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tipwatch-bench-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        stills, clips = make_media(folder, args.stills, args.clips)
        media_s = time.perf_counter() - t
        preview_s_per_still = make_previews(stills)
        total_bytes = sum(p.stat().st_size for p in [*stills, *clips])
        spec = make_spec(stills, clips)
        store = KeyStore(folder / "data")
        store.generate()
        key = store.load_active()
        floors, floors_unsynced, exports, with_sha, no_print = [], [], [], [], []
        result = None
        outputs = [folder / name for name in ("floor.zip", "case.zip", "case-noprint.zip")]
        for _ in range(args.repeat):  # interleaved, so background load hits both alike
            for path in outputs:  # each run writes a new file, as every real export does
                path.unlink(missing_ok=True)
            synced, unsynced = floor([*stills, *clips], folder / "floor.zip")
            floors.append(synced)
            floors_unsynced.append(unsynced)
            t = time.perf_counter()
            result = build_bundle(spec, key, folder / "case.zip", compute_bundle_sha256=False)
            exports.append(time.perf_counter() - t)
            (folder / "case.zip").unlink()
            t = time.perf_counter()
            build_bundle(spec, key, folder / "case.zip", compute_bundle_sha256=True)
            with_sha.append(time.perf_counter() - t)
            spec.print_stills = False
            t = time.perf_counter()
            build_bundle(spec, key, folder / "case-noprint.zip", compute_bundle_sha256=False)
            no_print.append(time.perf_counter() - t)
            spec.print_stills = True
        assert result is not None
        t = time.perf_counter()  # once: stills stored before print copies existed get them made now
        build_bundle(make_spec(stills, clips, previews=False), key, folder / "case-old.zip")
        no_previews_s = time.perf_counter() - t
        t = time.perf_counter()
        report = verify_bundle(folder / "case.zip")
        verify_s = time.perf_counter() - t
        if not report.ok:
            raise SystemExit("the benchmark bundle does not verify: " + "; ".join(report.problems))
        bundle_bytes = (folder / "case.zip").stat().st_size
        for name in ("case.zip", "floor.zip", "case-noprint.zip", "case-old.zip"):
            (folder / name).unlink()

        memory = {}
        for n in (args.small, args.stills):
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",  # by module name, never by file path: a fresh process, the same code
                    "tipwatch.dev.bench.bundles",
                    "--worker",
                    str(folder),
                    "--stills",
                    str(n),
                    "--clips",
                    str(args.clips),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            memory[str(n)] = json.loads(proc.stdout.strip().splitlines()[-1])
    small, large = memory[str(args.small)], memory[str(args.stills)]
    growth_small = small["peak_rss_mb"] - small["baseline_rss_mb"]
    growth_large = large["peak_rss_mb"] - large["baseline_rss_mb"]
    out = {
        "benchmark": "bundles",
        "stills": args.stills,
        "clips": args.clips,
        "exhibit_bytes": total_bytes,
        "bundle_bytes": bundle_bytes,
        "files_in_bundle": result.files,
        "media_generation_s": round(media_s, 2),
        "floor_s": round(min(floors), 3),
        "floor_without_fsync_s": round(min(floors_unsynced), 3),
        "export_s": round(min(exports), 3),
        "export_with_bundle_sha256_s": round(min(with_sha), 3),
        "export_over_floor": round(min(exports) / min(floors), 2),
        "export_over_floor_without_fsync": round(min(exports) / min(floors_unsynced), 2),
        "export_without_stills_in_pdf_s": round(min(no_print), 3),
        "export_without_stills_in_pdf_over_floor": round(min(no_print) / min(floors), 2),
        "export_with_bundle_sha256_over_floor": round(min(with_sha) / min(floors), 2),
        "target_over_floor": 2.0,
        "print_copy_ms_per_still_at_ingest": round(preview_s_per_still * 1000, 2),
        "export_without_stored_print_copies_s": round(no_previews_s, 3),
        "floor_mb_per_s": round(total_bytes / min(floors) / 1e6, 1),
        "export_mb_per_s": round(total_bytes / min(exports) / 1e6, 1),
        "verify_s": round(verify_s, 3),
        "runs": {
            "floor_s": [round(x, 3) for x in floors],
            "floor_without_fsync_s": [round(x, 3) for x in floors_unsynced],
            "export_s": [round(x, 3) for x in exports],
            "export_without_stills_in_pdf_s": [round(x, 3) for x in no_print],
        },
        "memory": {
            f"peak_rss_mb_{args.small}_stills": round(small["peak_rss_mb"], 1),
            f"peak_rss_mb_{args.stills}_stills": round(large["peak_rss_mb"], 1),
            f"export_rss_growth_mb_{args.small}_stills": round(growth_small, 1),
            f"export_rss_growth_mb_{args.stills}_stills": round(growth_large, 1),
            f"export_s_{args.small}_stills": round(small["export_s"], 3),
        },
    }
    return out


if __name__ == "__main__":
    raise SystemExit(main())
