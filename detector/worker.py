"""The edge worker's composition root: one camera's source, detector, pipeline and event sinks.

Everything the worker runs is built here, from the site configuration and a few options
(:class:`WorkerOptions`, which ``tipwatch detect`` fills from its arguments):

- the **frame source** (file, image folder or reconnecting stream) and the **detector backend**;
- the **spool**, locked for this process and recovered at start (:func:`open_spool`: a worker
  killed mid-write leaves ``tmp/`` entries and staged events, which are finished, re-spooled or
  kept, never lost), a **staging directory** inside it for evidence being written
  (``detector.sinks.staging``), the **evidence writer** over it, and ``health.json``
  (``detector.sinks.health``);
- the **footage identity** (``detector.identity``), from which event ids are derived, so the same
  footage processed again cannot store an incident twice;
- the **sinks**, in order: the spool (which frees an event's staging once it holds its files),
  then the uploader when an API is given (woken by each event).  A new output (MQTT, a webhook)
  is one sink module and one line in :func:`build_sinks`;
- the **pipeline**, publishing to the sinks through a :class:`~detector.sinks.base.Dispatcher`.

:meth:`Worker.run` runs the pipeline over the source until it ends (a file) or is interrupted (a
stream), then closes the source and the sinks (the uploader makes a last round), settles its staging
directory (spools or keeps what is left, then removes it) and releases the spool.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.backends import ObjectDetector, create_detector, create_shared_detector
from detector.backends.registry import ModelNotFoundError
from detector.config import CameraConfig, SiteConfig
from detector.evidence import EvidenceWriter
from detector.evidence_policy import EvidencePolicy
from detector.identity import footage_identity
from detector.packet_ring import PacketRing
from detector.pipeline import CameraPipeline, PipelineMetrics, configure_threads
from detector.sinks.base import Dispatcher, EventSink
from detector.sinks.health import SpoolHealth
from detector.sinks.spool import Spool, SpoolBusy
from detector.sinks.spool_sink import SpoolSink
from detector.sinks.staging import StagingArea, recover_staging
from detector.sources import FileSource, ImageFolderSource, SourceError, StreamGap, StreamSource, open_source
from detector.types import Frame

if TYPE_CHECKING:
    from detector.plates import PlateReader

logger = logging.getLogger(__name__)


class WorkerError(Exception):
    """The worker cannot start as asked (no source, a source that will not open, missing model
    weights); the message says what to fix."""


def default_spool_dir() -> Path:
    """``$XDG_DATA_HOME/tipwatch/spool`` (``~/.local/share/tipwatch/spool`` by default)."""
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "tipwatch" / "spool"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What a run of the worker needs beyond the site file."""

    source: str | None = None  # file, image folder or stream URL; None: the camera's own source
    camera_id: str | None = None  # camera of the site file; None: the first
    spool_dir: Path | None = None  # None: default_spool_dir()
    api_url: str | None = None  # evidence API base URL: starts the uploader
    token: str | None = None  # device token for api_url
    start_time: datetime | None = None  # capture time of a file's first frame (timezone-aware)
    fps: float | None = None  # the operator's frame rate: an image folder, or a file without timestamps
    read_plates: bool = True  # OCR the plate on the best view of each visiting vehicle
    status_every_s: float = 60.0  # seconds between status lines for a live stream
    progress: bool = True  # a progress bar for files


def open_spool(root: Path, camera_id: str | None = None) -> tuple[Spool, SpoolHealth]:
    """The spool at ``root`` (created if missing), locked for this process, with what a killed worker
    left finished: complete ``tmp/`` entries promoted, half-written ones removed (their staged copy
    remains), staged events re-spooled, staged evidence no event holds kept in ``incomplete/``; and
    its ``health.json``, written.

    Raises :class:`WorkerError` when another running process holds the spool.
    """
    root.mkdir(parents=True, exist_ok=True)
    spool = Spool(root)
    try:
        spool.lock()
    except SpoolBusy as exc:
        raise WorkerError(str(exc)) from exc
    recovered = spool.recover()
    if recovered.promoted or recovered.removed or recovered.stray_files:
        logger.warning(
            "spool recovery: %d complete event(s) promoted, %d half-written removed, %d stray file(s)",
            len(recovered.promoted),
            len(recovered.removed),
            recovered.stray_files,
        )
    health = SpoolHealth(spool, camera_id=camera_id)
    for event_id, reason in recover_staging(spool).waiting.items():
        health.not_spooled(event_id, reason)
    health.write()
    return spool, health


def build_sinks(
    spool: Spool, staging: EvidenceWriter, options: WorkerOptions, health: SpoolHealth | None = None
) -> list[EventSink]:
    """The worker's sinks, in publishing order: the spool first, so evidence is durable before
    anything else hears of the event."""
    sinks: list[EventSink] = [SpoolSink(spool, staging=staging, health=health)]
    if options.api_url:
        from detector.sinks.uploader import Uploader

        uploader = Uploader(spool, options.api_url, options.token or "")
        uploader.start()
        sinks.append(uploader)
    return sinks


class Worker:
    """One camera's source, pipeline and sinks, built by :func:`build_worker`."""

    def __init__(
        self,
        *,
        camera: CameraConfig,
        source: FileSource | StreamSource | ImageFolderSource,
        pipeline: CameraPipeline,
        sinks: Dispatcher,
        staging: StagingArea,
        health: SpoolHealth,
        gaps: list[StreamGap],
        options: WorkerOptions,
    ) -> None:
        self.camera = camera
        self.source = source
        self.pipeline = pipeline
        self.sinks = sinks
        self.staging = staging
        self.health = health
        self.gaps = gaps
        self.options = options
        self._last_status = time.monotonic()

    def _status(self, _frame: Frame) -> None:
        if time.monotonic() - self._last_status < self.options.status_every_s:
            return
        self._last_status = time.monotonic()
        logger.info(
            "status camera %s: %s, gaps %d (%.0f s)",
            self.camera.id,
            self.pipeline.metrics.as_dict(),
            len(self.gaps),
            sum(g.seconds for g in self.gaps),
        )

    def run(self, stop: threading.Event | None = None) -> PipelineMetrics:
        """Process the whole source (or until Ctrl-C, or until ``stop`` is set by the box running
        several cameras), then close everything; returns the metrics."""
        bar: Any = None
        progress: Callable[[Frame], None] | None = None
        if not self.source.is_live and self.options.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.source.frame_count, unit="frame", desc=self.camera.id)

            def progress(_frame: Frame) -> None:
                bar.update(1)

        elif self.source.is_live:
            progress = self._status
        metrics = self.pipeline.metrics

        def on_frame(frame: Frame) -> None:
            # The health file's heartbeat and the picture's shifts (it rewrites itself only when due).
            self.health.frames_seen(
                frame.captured_at, view_moves=metrics.view_moves, view_moved_at=metrics.last_view_move_at
            )
            if progress is not None:
                progress(frame)

        try:
            for frame in self.source.frames():
                if stop is not None and stop.is_set():
                    break
                self.pipeline.process(frame)
                on_frame(frame)
            stopped = stop is not None and stop.is_set()
            if stopped:
                logger.info("stopping: closing visits, reporting deposits that were still waiting")
            self.pipeline.finish(stopped=stopped)
        except KeyboardInterrupt:
            logger.info("interrupted: closing visits, reporting deposits that were still waiting, stopping")
            self.pipeline.finish(stopped=True)
        finally:
            self.source.close()
            if bar is not None:
                bar.close()
            self.sinks.close()
            self.release()
        logger.info("done: %s", self.pipeline.metrics.as_dict())
        return self.pipeline.metrics

    def release(self) -> None:
        """Settle the staging directory (what could not be spooled is spooled now or kept), write
        the health file and release the spool for the next process."""
        try:
            self.staging.close()
            self.health.write()
        finally:
            self.staging.spool.unlock()


def build_worker(site: SiteConfig, options: WorkerOptions) -> Worker:
    """Build the worker for one camera of ``site``.

    Raises :class:`~detector.config.SiteConfigError` for an unknown camera and :class:`WorkerError`
    when there is no source, it does not open, or the detector's weights are missing.
    """
    camera = site.camera(options.camera_id)
    source, packets, gaps, spec = _open_camera_source(site, camera, options)
    configure_threads()
    try:
        detector = create_detector(site.detector)
    except ModelNotFoundError as exc:
        source.close()
        raise WorkerError(str(exc)) from exc
    return _camera_worker(site, camera, options, detector, (source, packets, gaps, spec))


def build_box(site: SiteConfig, options: WorkerOptions) -> list[Worker]:
    """Every camera of ``site`` in this process (an edge box): each its own source (``cameras[].source``),
    pipeline, spool (``<spool>/<camera id>``) and uploader, all sharing one detector pool
    (:func:`~detector.backends.create_shared_detector`: an instance per core, not per camera).

    Raises :class:`WorkerError` when the site has no cameras, a camera has no source or it does not
    open, or the detector's weights are missing; nothing is left open then.
    """
    if not site.cameras:
        raise WorkerError(f"site '{site.site_id}' lists no cameras: add cameras[] with a source each")
    missing = [c.id for c in site.cameras if not c.source]
    if missing:
        cams = ", ".join(missing)
        raise WorkerError(f"no source for camera(s) {cams}: set cameras[].source in the site file")
    root = options.spool_dir or default_spool_dir()
    opened: list[tuple[CameraConfig, WorkerOptions, _Opened]] = []
    try:
        for camera in site.cameras:
            camera_options = replace(
                options, camera_id=camera.id, source=None, spool_dir=root / camera.id, progress=False
            )
            opened.append((camera, camera_options, _open_camera_source(site, camera, camera_options)))
        # Cameras run in threads of this process: one OpenCV thread each, or they oversubscribe the cores.
        configure_threads(1)
        detector = create_shared_detector(site.detector, len(site.cameras))
        plates = None
        if options.read_plates:
            from detector.plates import PlateReader

            plates = PlateReader()  # thread-safe: one OCR model for every camera
    except (WorkerError, ModelNotFoundError) as exc:
        for _camera, _options, (source, *_rest) in opened:
            source.close()
        raise WorkerError(str(exc)) from exc
    return [_camera_worker(site, camera, o, detector, parts, plates) for camera, o, parts in opened]


def run_box(workers: list[Worker]) -> dict[str, PipelineMetrics]:
    """Run the box's cameras concurrently (a thread each) until every source ends, or until Ctrl-C
    stops them all (each closes its visits, source and sinks); returns each camera's metrics.
    A camera whose pipeline fails is logged and the others carry on."""
    stop = threading.Event()
    results: dict[str, PipelineMetrics] = {}

    def one(worker: Worker) -> None:
        try:
            results[worker.camera.id] = worker.run(stop=stop)
        except Exception:
            logger.exception("camera %s stopped with an error; the other cameras carry on", worker.camera.id)

    threads = [threading.Thread(target=one, args=(w,), name=f"camera-{w.camera.id}") for w in workers]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.5)
    except KeyboardInterrupt:
        logger.info("interrupted: stopping every camera")
        stop.set()
        for thread in threads:
            thread.join()
    return results


_Opened = tuple["FileSource | StreamSource | ImageFolderSource", PacketRing, list[StreamGap], str]


def _open_camera_source(site: SiteConfig, camera: CameraConfig, options: WorkerOptions) -> _Opened:
    spec = options.source or camera.source
    if not spec:
        raise WorkerError("no source: pass --source or set cameras[].source in the site file")
    gaps: list[StreamGap] = []
    packets = PacketRing(EvidencePolicy.ring_seconds(site.performance, site.thresholds))
    try:
        source = open_source(
            spec,
            camera.id,
            start_time=options.start_time,
            fps=options.fps,
            on_gap=gaps.append,
            packet_ring=packets,
        )
    except SourceError as exc:
        raise WorkerError(f"camera {camera.id}: {exc}") from exc
    return source, packets, gaps, spec


def _camera_worker(
    site: SiteConfig,
    camera: CameraConfig,
    options: WorkerOptions,
    detector: ObjectDetector,
    opened: _Opened,
    plates: PlateReader | None = None,
) -> Worker:
    source, packets, gaps, spec = opened
    try:
        footage = footage_identity(spec, stream=isinstance(source, StreamSource))
    except OSError as exc:
        source.close()
        raise WorkerError(f"camera {camera.id}: cannot read {spec} to identify it: {exc}") from exc
    try:
        spool, health = open_spool(options.spool_dir or default_spool_dir(), camera.id)
    except WorkerError:
        source.close()
        raise
    staging = StagingArea(spool)
    writer = EvidenceWriter(staging.path, display_timezone=site.display_timezone)
    sinks = Dispatcher(build_sinks(spool, writer, options, health))
    pipeline = CameraPipeline(
        site,
        camera,
        detector,
        evidence_writer=writer,
        sink=sinks,
        read_plates=options.read_plates,
        plate_reader=plates,
        packets=packets if not isinstance(source, ImageFolderSource) else None,
        clock_details=source.clock.as_details(),
        footage_id=footage,
    )
    logger.info(
        "site %s camera %s (%s): source %s, model %s sha256 %s",
        site.site_id,
        camera.id,
        camera.mode,
        spec,
        detector.model.name,
        detector.model.sha256,
    )
    return Worker(
        camera=camera,
        source=source,
        pipeline=pipeline,
        sinks=sinks,
        staging=staging,
        health=health,
        gaps=gaps,
        options=options,
    )
