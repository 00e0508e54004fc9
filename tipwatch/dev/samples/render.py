"""Render scenarios frame by frame into ``NAME.mp4`` + ``NAME.truth.json``, keeping up-to-date clips."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from detector.clips import SAMPLE_ENCODER_OPTIONS, write_h264
from tipwatch.dev.samples.scenarios import SCENARIOS, Actor, Scenario
from tipwatch.dev.samples.scene import FPS, HEIGHT, WIDTH, Scene, build_scene, cloud_gain

logger = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]

#: written into every truth file; bump it whenever a scene's pixels or timings change,
#: so that cached clips are rendered again
GENERATOR = "tipwatch-samples/2"  # 2: H.264 with per-frame timestamps (was MPEG-4 Part 2)


class SampleError(RuntimeError):
    """A sample clip cannot be made (unknown scene name, unwritable directory, no mp4 encoder)."""


def _paste(frame: U8, bgr: U8, alpha: npt.NDArray[np.float32], x_center: float, y_bottom: float) -> None:
    """Alpha-composite a sprite whose bottom centre sits at (x_center, y_bottom), clipped to the frame."""
    h, w = alpha.shape
    x0, y0 = round(x_center - w / 2), round(y_bottom - h)
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(WIDTH, x0 + w), min(HEIGHT, y0 + h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    a = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
    src = bgr[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0].astype(np.float32)
    roi = frame[fy0:fy1, fx0:fx1]
    roi[:] = (src * a + roi.astype(np.float32) * (1.0 - a) + 0.5).astype(np.uint8)


def _shadow(frame: U8, x: float, y: float, width: float, height: float, strength: float) -> None:
    """Darken a soft ellipse on the ground under an actor."""
    w, h = max(int(width), 4), max(int(height), 2)
    pad = h * 2
    yy, xx = np.mgrid[-pad : h + pad, -pad : w + pad].astype(np.float32)
    d2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    a = (strength * np.exp(-d2 * 1.2)).astype(np.float32)
    black = np.zeros((*a.shape, 3), np.uint8)
    _paste(frame, black, a, x, y + h / 2 + pad)


def _bob(actor: Actor, t: float, moving: bool) -> float:
    """People bob a little as they walk (two steps a second)."""
    if actor.kind != "person" or not moving:
        return 0.0
    return -2.5 * abs(float(np.sin(2 * np.pi * 1.0 * t)))


def render_frame(scenario: Scenario, scene: Scene, index: int) -> U8:
    """Frame ``index`` (at 10 fps) of a scenario: backdrop, shadows, actors by depth, light, noise."""
    t = index / FPS
    frame = scene.frame(t)
    placed = []
    for actor in scenario.actors:
        pose = actor.motion.at(t)
        if pose is not None:
            placed.append((pose.depth, actor, pose))
    placed.sort(key=lambda p: p[0])
    for _, actor, pose in placed:
        if actor.kind == "item":
            continue
        height = actor.height * pose.scale
        sprite = actor.sprite()
        width = sprite.width * height / sprite.height
        if actor.kind == "vehicle":
            _shadow(frame, pose.x, pose.y - 4, width * 0.95, 16 * pose.scale, 0.55)
        else:
            _shadow(frame, pose.x + 6, pose.y - 3, width * 0.9, 9 * pose.scale, 0.4)
    for _, actor, pose in placed:
        sprite = actor.sprite()
        height = round(actor.height * pose.scale)
        bgr, alpha = sprite.at_height(height)
        if actor.kind == "item" and not pose.moving:
            _shadow(frame, pose.x + 3, pose.y - 2, bgr.shape[1] * 0.95, 6 * pose.scale, 0.45)
        _paste(frame, bgr, alpha, pose.x, pose.y + _bob(actor, t, pose.moving))
    cloud = cloud_gain(t, *scenario.cloud) if scenario.cloud else None
    gain = scenario.gain(t)
    if cloud is not None:
        lit = frame.astype(np.float32) * (cloud * gain)[..., None]
        frame = np.clip(lit, 0, 255).astype(np.uint8)
    else:
        frame = np.asarray(cv2.convertScaleAbs(frame, alpha=gain), np.uint8)
    scene.add_noise(frame, index)
    return frame


def frames(scenario: Scenario, *, end_s: float | None = None) -> Iterator[U8]:
    """Every frame of a scenario in order (up to ``end_s`` seconds when given)."""
    scene = build_scene(scenario.backdrop)
    duration = scenario.duration_s if end_s is None else min(end_s, scenario.duration_s)
    for index in range(round(duration * FPS)):
        yield render_frame(scenario, scene, index)


def frame_at(name: str, t: float) -> U8:
    """One frame of a named scene at ``t`` seconds, exactly as it is in the clip (before encoding)."""
    scenario = _scenario(name)
    return render_frame(scenario, build_scene(scenario.backdrop), round(t * FPS))


def truth_document(scenario: Scenario, *, end_s: float | None = None) -> dict[str, object]:
    """The ground truth file's content (docs/architecture.md format, plus the generator and clip length)."""
    return {
        "events": [e.as_json() for e in scenario.events],
        "site": None,
        "generator": GENERATOR,
        "duration_s": _length(scenario, end_s),
    }


def _length(scenario: Scenario, end_s: float | None) -> float:
    return round(scenario.duration_s if end_s is None else min(end_s, scenario.duration_s), 3)


def _scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]()
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise SampleError(f"unknown sample scene {name!r}; the scenes are: {known}") from None


def is_current(video: Path, truth: Path, duration_s: float) -> bool:
    """True when both files exist and the truth file was written by this generator, at this length."""
    if not video.is_file() or video.stat().st_size == 0 or not truth.is_file():
        return False
    try:
        doc = json.loads(truth.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("re-rendering: cannot read %s (%s)", truth, exc)
        return False
    return isinstance(doc, dict) and doc.get("generator") == GENERATOR and doc.get("duration_s") == duration_s


#: called once per rendered frame (a progress bar's ``update``)
OnFrame = Callable[[], object]


def write_clip(
    scenario: Scenario, out_dir: Path, *, end_s: float | None = None, on_frame: OnFrame | None = None
) -> Path:
    """Render a scenario to ``out_dir/NAME.mp4`` and ``NAME.truth.json`` (each written atomically);
    ``on_frame`` is called after each frame is written."""
    video = out_dir / f"{scenario.name}.mp4"
    truth = out_dir / f"{scenario.name}.truth.json"
    partial = out_dir / f".{scenario.name}.partial.mp4"
    started = time.perf_counter()
    count = 0

    def timed() -> Iterator[tuple[float, U8]]:
        nonlocal count
        for frame in frames(scenario, end_s=end_s):
            yield count / FPS, frame
            count += 1
            if on_frame is not None:
                on_frame()

    # H.264 with a timestamp per frame, as a camera sends it (so the demo exercises the remuxed
    # master and the browser working copy of its clips, not a transcode of MPEG-4 Part 2).
    try:
        write_h264(timed(), partial, options=SAMPLE_ENCODER_OPTIONS)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise SampleError(f"cannot write H.264 video to {partial}: {exc}") from exc
    os.replace(partial, video)
    tmp = truth.with_name(f".{truth.name}.tmp")
    tmp.write_text(json.dumps(truth_document(scenario, end_s=end_s), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, truth)
    logger.info(
        "rendered %s: %d frames in %.1f s (%.1f MB)",
        video,
        count,
        time.perf_counter() - started,
        video.stat().st_size / 1e6,
    )
    return video


def _stale(
    out_dir: Path, scenarios: Sequence[Scenario], *, force: bool, end_s: float | None
) -> list[Scenario]:
    return [
        s
        for s in scenarios
        if force
        or not is_current(out_dir / f"{s.name}.mp4", out_dir / f"{s.name}.truth.json", _length(s, end_s))
    ]


def frames_to_render(
    out_dir: Path, *, force: bool = False, only: Sequence[str] | None = None, end_s: float | None = None
) -> int:
    """How many frames :func:`make_samples` with the same arguments would render (0: all up to date);
    the total of a progress bar.  Raises :class:`SampleError` for an unknown scene name."""
    stale = _stale(out_dir, _scenarios(only), force=force, end_s=end_s)
    return sum(round(_length(s, end_s) * FPS) for s in stale)


def _scenarios(only: Sequence[str] | None) -> list[Scenario]:
    names = list(SCENARIOS) if only is None else list(only)
    return [_scenario(n) for n in names]


def make_samples(
    out_dir: Path,
    *,
    force: bool = False,
    only: Sequence[str] | None = None,
    end_s: float | None = None,
    on_frame: OnFrame | None = None,
) -> list[Path]:
    """Render the sample clips into ``out_dir`` (created if needed) and return their mp4 paths.

    A clip whose mp4 and truth file exist and whose truth records this generator version (and
    length) is kept as it is unless ``force``.  ``only`` limits the work to the named scenes.
    ``end_s`` cuts every clip short (for tests); the truth file records the length, so a short
    clip is never taken for the full one.  ``on_frame`` is called after each rendered frame
    (:func:`frames_to_render` gives the total).
    """
    scenarios = _scenarios(only)  # reject an unknown name before rendering anything
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SampleError(f"cannot create the sample directory {out_dir}: {exc}") from exc
    stale = {s.name for s in _stale(out_dir, scenarios, force=force, end_s=end_s)}
    paths = []
    for scenario in scenarios:
        video = out_dir / f"{scenario.name}.mp4"
        if scenario.name in stale:
            write_clip(scenario, out_dir, end_s=end_s, on_frame=on_frame)
        else:
            logger.debug("%s is up to date", video)
        paths.append(video)
    return paths
