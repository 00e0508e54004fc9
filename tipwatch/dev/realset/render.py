"""Render the real-footage scenes and write each as an H.264 clip with its ``NAME.truth.json``.

Per output frame: the street frame → waste, people and vehicles composited in depth order (feet
lower in the picture are nearer) → the scene's effects in order → the stream faults (lost frames
leave gaps in the timestamps; a frozen picture repeats with fresh timestamps).  Clips are H.264
(libx264 through PyAV, whose wheels bundle FFmpeg) in MP4, or in MPEG-TS for a resolution change
mid-stream, which MP4 cannot carry in one track; timestamps are in 1/10 s, so a file's own clock
says when every frame was captured.  Clips are cached: a clip is rendered again only when its
scene's script (or this renderer's version) changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from tipwatch.dev.realset.catalogue import scene, scenes
from tipwatch.dev.realset.conditions import StreamFaults
from tipwatch.dev.realset.footage import VTEST_FPS, person_height, size_at, street_frame
from tipwatch.dev.realset.scenes import Deposit, Item, RealScene
from tipwatch.dev.samples import sprites

logger = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
RENDERER_VERSION = "realset/1"
VEHICLE_METRES = 2.6  # the minibus's height


def _paste(frame: U8, bgr: U8, alpha: F32, x_centre: float, y_bottom: float) -> None:
    """Alpha-blend a cut-out with its bottom centre at (x, y); parts outside the frame are cut."""
    h, w = alpha.shape
    x1, y1 = round(x_centre - w / 2), round(y_bottom - h)
    fx1, fy1 = max(0, x1), max(0, y1)
    fx2, fy2 = min(frame.shape[1], x1 + w), min(frame.shape[0], y1 + h)
    if fx2 <= fx1 or fy2 <= fy1:
        return
    sx1, sy1 = fx1 - x1, fy1 - y1
    a = alpha[sy1 : sy1 + fy2 - fy1, sx1 : sx1 + fx2 - fx1, None]
    src = bgr[sy1 : sy1 + fy2 - fy1, sx1 : sx1 + fx2 - fx1].astype(np.float32)
    roi = frame[fy1:fy2, fx1:fx2].astype(np.float32)
    frame[fy1:fy2, fx1:fx2] = np.clip(roi * (1 - a) + src * a, 0, 255).astype(np.uint8)


def _contact_shadow(frame: U8, x: float, y: float, width: float) -> None:
    """A soft darkening under something standing on the ground."""
    h, w = frame.shape[:2]
    rx, ry = max(3, int(width * 0.55)), max(2, int(width * 0.12))
    x1, y1, x2, y2 = int(x - 2 * rx), int(y - 2 * ry), int(x + 2 * rx), int(y + 2 * ry)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 <= x1 or y2 <= y1:
        return
    mask = np.zeros((y2 - y1, x2 - x1), np.float32)
    cv2.ellipse(mask, (int(x) - x1, int(y) - y1), (rx, ry), 0, 0, 360, 0.35, -1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, ry / 2))
    frame[y1:y2, x1:x2] = (frame[y1:y2, x1:x2].astype(np.float32) * (1 - mask[..., None])).astype(np.uint8)


@dataclass(frozen=True)
class _Draw:
    """One thing to composite, bottom centre at (x, y); drawn far to near by ``depth``."""

    depth: float
    kind: str  # "item", "person" or "vehicle"
    x: float
    y: float
    item: Item | None = None
    who: str = "a"
    occluder: tuple[int, int, int, int] | None = None
    mirrored: bool = False

    def sprite(self) -> tuple[U8, F32]:
        if self.kind == "item":
            assert self.item is not None
            return self.item.sprite().at_height(int(size_at(self.y, self.item.metres)))
        if self.kind == "person":
            person = sprites.person_a() if self.who == "a" else sprites.person_b()
            return person.at_height(int(person_height(self.y)))
        vehicle = sprites.vehicle().mirrored() if self.mirrored else sprites.vehicle()
        return vehicle.at_height(int(size_at(self.y, VEHICLE_METRES)))

    def draw(self, frame: U8, base: U8) -> None:
        bgr, alpha = self.sprite()
        shadow = {"item": 1.0, "person": 0.8, "vehicle": 0.9}[self.kind]
        _contact_shadow(frame, self.x, self.y, alpha.shape[1] * shadow)
        _paste(frame, bgr, alpha, self.x, self.y)
        if self.occluder is not None:  # a post stands in front: put its pixels back
            x1, y1, x2, y2 = self.occluder
            frame[y1:y2, x1:x2] = base[y1:y2, x1:x2]


def _deposit_draws(d: Deposit, t: float) -> list[_Draw]:
    """A deposit's items at ``t``: resting where they were left, or in the bringer's hand."""
    if d.visible(t):
        return [
            _Draw(
                d.spot[1] + it.offset[1],
                "item",
                d.spot[0] + it.offset[0],
                d.spot[1] + it.offset[1],
                it,
                occluder=d.occluder,
            )
            for it in d.items
        ]
    if d.bringer is not None and t < d.appear_s and (pos := d.bringer.at(t)) is not None:
        ph = person_height(pos[1])
        # what one person can carry is shown in the hand; the rest is put down with it
        return [_Draw(pos[1] + 0.5, "item", pos[0] + 0.3 * ph, pos[1] - 0.25 * ph, it) for it in d.items[:2]]
    return []


def render_frame(sc: RealScene, index: int) -> U8:
    """Output frame ``index`` (t = index / 10 s) of a scene before stream faults: BGR uint8."""
    t = index / VTEST_FPS
    base = street_frame(index)
    frame = base.copy()
    draws: list[_Draw] = []
    walks = list(sc.people) + [d.bringer for d in sc.deposits if d.bringer is not None]
    drives = list(sc.vehicles) + [d.vehicle for d in sc.deposits if d.vehicle is not None]
    for d in sc.deposits:
        draws += _deposit_draws(d, t)
    for walk in walks:
        if (pos := walk.at(t)) is not None:
            draws.append(_Draw(pos[1], "person", pos[0], pos[1], who=walk.who))
    for drive in drives:
        if (pos := drive.at(t)) is not None:
            draws.append(_Draw(pos[1] - 30.0, "vehicle", pos[0], pos[1], mirrored=drive.mirrored))
    for draw in sorted(draws, key=lambda d: d.depth):
        draw.draw(frame, base)
    for effect in sc.effects:
        frame = effect.apply(frame, t, index)
    return frame


def stamp(sc: RealScene) -> str:
    """A digest of everything that decides a scene's pixels: its script and this renderer."""
    return hashlib.sha256(f"{RENDERER_VERSION}|{sc!r}".encode()).hexdigest()[:16]


def paths(sc: RealScene, out_dir: Path) -> tuple[Path, Path]:
    return out_dir / f"{sc.name}.{sc.container}", out_dir / f"{sc.name}.truth.json"


def is_current(sc: RealScene, out_dir: Path) -> bool:
    video, truth = paths(sc, out_dir)
    if not (video.is_file() and truth.is_file()):
        return False
    try:
        return json.loads(truth.read_text(encoding="utf-8")).get("generator") == stamp(sc)
    except (OSError, ValueError):
        return False


class _Encoder:
    """One libx264 stream; a new encoder (same stream, same clock) when the picture size changes."""

    def __init__(self, container: av.container.OutputContainer, faults: StreamFaults | None = None) -> None:
        self.container = container
        self.faults = faults
        self._damaged: set[int] = set()
        self.stream = container.add_stream("libx264", rate=int(VTEST_FPS))
        self.stream.codec_context.time_base = Fraction(1, int(VTEST_FPS))
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "20", "preset": "veryfast"}
        self.context: av.video.codeccontext.VideoCodecContext | None = None

    def _open(self, width: int, height: int) -> av.video.codeccontext.VideoCodecContext:
        if self.context is None:
            self.stream.width, self.stream.height = width, height
            self.context = self.stream.codec_context
        elif (self.context.width, self.context.height) != (width, height):
            self._flush()
            ctx = av.CodecContext.create("libx264", "w")
            ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
            ctx.time_base = Fraction(1, int(VTEST_FPS))
            ctx.options = {"crf": "20", "preset": "veryfast", "repeat-headers": "1"}
            self.context = ctx
        return self.context

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if self.faults is not None and self.faults.bitstream_damage and packet.pts is not None:
                t = float(packet.pts) / VTEST_FPS
                payload = bytes(packet)
                damaged = self.faults.damage(payload, t, packet.is_keyframe, self._damaged)
                if damaged != payload:
                    replacement = av.Packet(damaged)
                    replacement.pts, replacement.dts = packet.pts, packet.dts
                    replacement.time_base = packet.time_base
                    packet = replacement
            packet.stream = self.stream
            self.container.mux(packet)

    def _flush(self) -> None:
        if self.context is not None:
            self._mux(self.context.encode(None))

    def write(self, image: U8, pts: int) -> None:
        ctx = self._open(image.shape[1], image.shape[0])
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = pts
        frame.time_base = Fraction(1, int(VTEST_FPS))
        self._mux(ctx.encode(frame))

    def close(self) -> None:
        self._flush()


def write_scene(sc: RealScene, out_dir: Path) -> Path:
    """Render ``sc`` into ``out_dir`` (clip + truth); returns the clip's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    video, truth = paths(sc, out_dir)
    tmp = video.with_name(f".{video.name}.part")
    n = round(sc.duration_s * VTEST_FPS)
    options = {"movflags": "+faststart"} if sc.container == "mp4" else {}
    with av.open(str(tmp), "w", format="mp4" if sc.container == "mp4" else "mpegts", options=options) as out:
        enc = _Encoder(out, sc.faults)
        frozen: tuple[float, U8] | None = None
        for index in range(n):
            t = index / VTEST_FPS
            if sc.faults.dropped(index):
                continue
            hold = sc.faults.frozen_at(t)
            if hold is None:
                image, frozen = render_frame(sc, index), None
            else:
                if frozen is None or frozen[0] != hold:
                    frozen = (hold, render_frame(sc, round(hold * VTEST_FPS)))
                image = frozen[1]
            enc.write(image, index)
        enc.close()
    os.replace(tmp, video)
    tags = sorted({*sc.conditions, *(e.tag for e in sc.effects), *sc.faults.tags})
    doc = {"events": sc.truth(), "conditions": tags, "summary": sc.summary, "generator": stamp(sc)}
    truth.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return video


def _write_named(name: str, out_dir: str) -> str:
    return str(write_scene(scene(name), Path(out_dir)))


def make_real_set(out_dir: Path, *, only: list[str] | None = None, jobs: int | None = None) -> list[Path]:
    """Render every scene not already current in ``out_dir``; returns all the set's clip paths."""
    todo = [sc for sc in scenes() if (only is None or sc.name in only) and not is_current(sc, out_dir)]
    if todo:
        logger.info("rendering %d real-footage clip(s) into %s", len(todo), out_dir)
        jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
        if jobs == 1:
            for sc in todo:
                write_scene(sc, out_dir)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                list(pool.map(_write_named, [sc.name for sc in todo], [str(out_dir)] * len(todo)))
    return [paths(sc, out_dir)[0] for sc in scenes() if only is None or sc.name in only]
