"""Scene model: finds regions that are new (not in the long-term background) and have stayed still.

How it stays honest on real CCTV (the known pitfalls of the scene model are in docs/architecture.md):

- **Illumination-invariant comparison.**  The current frame is compared with the long-term
  background by local normalised cross-correlation (NCC) where there is texture (a cloud shadow
  scales texture, NCC ignores gain and offset), by a texture-ratio test where only one side is
  textured (a smooth black bin bag on grass), and by a brightness ratio against a *local gain
  map* (heavily blurred current / background) where both are flat.  No shadow detector, so a
  black bag is never explained away as shadow.
- **Static, not moving.**  A short-term background (a few seconds) must agree with the current
  sample; moving things and swaying vegetation never settle.
- **Masks.**  Tracked people and vehicles (with a margin) and the motion mask are excluded from
  candidates and from background learning, so a parked car or a person standing still is never a
  deposit and never leaks into the background.
- **Selective learning.**  The long-term background learns slowly, and never where something new
  is, so a deposit is not absorbed before it is decided; pixels hidden at start-up stay
  "unknown" until first seen, so a van present at start leaves no ghost when it drives off.
- **Ghosts and before/now.**  A region that stood out from its surroundings in the background but
  blends in with them now is a ghost (something that was in the background left) and is learnt
  away; a blob must be seen for a few samples before it is a candidate, and a candidate is only
  confirmed if its saved "before" patch still differs from "now" at decision time.
- **Registered.**  Each sample is aligned to the background first (``detector.registration``:
  ECC over the pixels nothing stands in front of), so a camera knocked by a few pixels is
  registered, not a picture full of "new" edges; the move is recorded for the camera's health.
- **Candidates hold still.**  While a region waits for its decision the background does not learn
  under it (no slow erosion of a small or dark deposit), and a region that the blob step misses
  in one sample is still "seen" if its box still differs from the background.
- **Sampled.**  The pipeline calls :meth:`SceneModel.update` a few times a second, not per frame.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detector.geometry import iou
from detector.registration import CameraMove, Registration, offset_of

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]


# Ghost test (see SceneModel._looks_like_ghost): the box stood out from its ring in the background
# this many times more than it does now, and by at least this much (Bhattacharyya distance).
GHOST_BINS = 32
# How long (seconds of video) a background patch replaced by a ghost test is remembered, and how many:
# long enough to span a keyframe interval (damage lasts until the next one; cameras send one every
# 1-10 s, some smart codecs every 25-60 s), few enough to cost nothing.
REPLACED_MEMORY_S = 120.0
REPLACED_KEPT = 32
GHOST_RATIO = 1.5
GHOST_MARGIN = 0.15


@dataclass(frozen=True, slots=True)
class SceneSettings:
    width: int = 320  # working resolution (the frame is downscaled to this width)
    window: int = 7  # NCC window, working pixels
    texture_var: float = 12.0  # local variance above which a window counts as textured
    ncc_threshold: float = 0.45  # textured windows correlating less than this differ
    texture_ratio: float = 3.5  # one side this many times more textured than the other: differs
    flat_ratio: float = 0.22  # flat windows: relative brightness change (after local gain) that differs
    gain_kernel_frac: float = 0.2  # size of the local gain map blur, as a fraction of the width
    short_alpha: float = 0.35  # short-term background rate per sample
    long_alpha: float = 0.01  # long-term background rate per sample (≈ 50 s at 2 samples/s)
    static_diff: float = 14.0  # grey levels: current within this of the short-term model is "still"
    global_change_frac: float = 0.35  # more of the frame than this differing at once: relearn
    min_static_samples: int = 3  # samples a pixel must be new and still before it counts
    confirm_samples: int = 3  # consecutive samples a blob must be seen before it is a region
    missing_samples: int = 4  # samples a candidate may be unseen (and not occluded) before it is gone
    min_area_frac: float = 0.0006
    max_area_frac: float = 0.15
    confirm_fraction: float = 0.18  # share of a candidate's box that must still differ from "before"
    # Blown-out pixels (auto-exposure overshooting) sit on a broad plateau at the picture's top
    # level — 255, or 235 for a camera sending limited-range luma.  A plateau is pixels within
    # blown_margin grey levels of the sample's maximum, in patches at least 5 working pixels
    # across, covering at least blown_min_frac of it, when that maximum is at least blown_floor;
    # nothing there can be compared, so nothing there is new.
    # The first background is the per-pixel median of this many samples, not one frame: an insect
    # at the lamp or a bird passing on the first sample would otherwise be "background" and the
    # ground it hid a deposit once it has gone.
    warmup_samples: int = 3
    blown_margin: float = 2.0
    blown_min_frac: float = 0.002
    blown_floor: float = 200.0
    # Where the light brightened or dimmed (the local gain differs from 1 by more than tone_change),
    # a camera's tone curve squeezes the levels near its top: a pale wall brightened by auto-exposure
    # clips towards white, and its texture goes with it.  In a window where at least
    # clipped_window_frac of the pixels lie within clip_margin grey levels of either sample's top
    # level (when that reaches blown_floor), texture is no evidence either way; only the brightness,
    # after the local gain, is compared there.  Only the top: the bottom is where black sacks lie,
    # and their texture against the ground is what finds them (measured: suspending it near the
    # bottom too lost a sack after a ×0.7−20 exposure step).
    tone_change: float = 0.12
    clip_margin: float = 24.0
    clipped_window_frac: float = 0.25


@dataclass(slots=True)
class StaticRegion:
    """A candidate deposit: a new region that has stayed still."""

    region_id: int
    box: Box  # full-frame pixels
    small_box: Box  # working-resolution pixels
    area_frac: float
    first_seen_s: float
    last_seen_s: float
    before: F32  # long-term background patch (working resolution) from before it appeared
    missing: int = 0
    occluded: bool = False
    history: list[float] = field(default_factory=list)


class SceneModel:
    """Dual background model over sampled frames; reports new-and-static regions."""

    def __init__(self, settings: SceneSettings | None = None) -> None:
        self.s = settings or SceneSettings()
        self._long: F32 | None = None
        self._warm: list[tuple[F32, npt.NDArray[np.bool_]]] = []  # samples for the first background
        self._short: F32 | None = None
        self._known: npt.NDArray[np.bool_] | None = None
        self._age: npt.NDArray[np.uint8] = np.zeros((1, 1), np.uint8)
        self._scale = (1.0, 1.0)
        self._next_id = 1
        self.regions: dict[int, StaticRegion] = {}
        self._pending: list[tuple[Box, int, float]] = []  # (box, samples seen, first seen) of young blobs
        # Background patches a ghost test replaced with one sample: (box, the patch it replaced, when).
        # Should the picture go back to that patch, nothing arrived (see :meth:`_returned_to_before`).
        self._replaced: list[tuple[Box, F32, float]] = []
        self.last_diff: npt.NDArray[np.bool_] | None = None
        self.relearns = 0
        self.registration = Registration()
        self.moves: list[CameraMove] = []  # every recorded camera move, oldest first
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))

    # -- working images -------------------------------------------------------------------------
    def prepare(self, image: U8) -> F32:
        """The working image: ``image`` (grey ``(H, W)``, or BGR) shrunk to the working width, blurred."""
        h, w = image.shape[:2]
        sh = max(1, round(h * self.s.width / w))
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        grey = cv2.resize(grey, (self.s.width, sh), interpolation=cv2.INTER_AREA)
        self._scale = (w / self.s.width, h / sh)
        return np.asarray(cv2.GaussianBlur(grey, (3, 3), 0), np.float32)

    def working_shape(self, image: U8) -> tuple[int, int]:
        """(height, width) of the working image for frames like ``image``; sets the scale."""
        h, w = image.shape[:2]
        sh = max(1, round(h * self.s.width / w))
        self._scale = (w / self.s.width, h / sh)
        return (sh, self.s.width)

    def to_small(self, box: tuple[float, float, float, float]) -> Box:
        sx, sy = self._scale
        return (int(box[0] / sx), int(box[1] / sy), int(np.ceil(box[2] / sx)), int(np.ceil(box[3] / sy)))

    def to_full(self, box: Box) -> Box:
        sx, sy = self._scale
        return (int(box[0] * sx), int(box[1] * sy), int(np.ceil(box[2] * sx)), int(np.ceil(box[3] * sy)))

    @property
    def shape(self) -> tuple[int, int] | None:
        return None if self._long is None else (int(self._long.shape[0]), int(self._long.shape[1]))

    # -- comparison -----------------------------------------------------------------------------
    def dissimilar(self, cur: F32, ref: F32) -> npt.NDArray[np.bool_]:
        """Per-pixel 'differs from ref in a way lighting cannot explain'."""
        k = (self.s.window, self.s.window)
        mc = cv2.boxFilter(cur, -1, k)
        mr = cv2.boxFilter(ref, -1, k)
        vc = np.maximum(cv2.boxFilter(cur * cur, -1, k) - mc * mc, 0.0)
        vr = np.maximum(cv2.boxFilter(ref * ref, -1, k) - mr * mr, 0.0)
        cov = cv2.boxFilter(cur * ref, -1, k) - mc * mr
        ncc = cov / np.sqrt(vc * vr + 1e-3)
        tex_c = vc > self.s.texture_var
        tex_r = vr > self.s.texture_var
        gk = int(self.s.gain_kernel_frac * cur.shape[1]) | 1
        gain = cv2.blur(cur, (gk, gk)) / np.maximum(cv2.blur(ref, (gk, gk)), 1.0)
        rel = np.abs(mc - gain * mr) / (gain * mr + 12.0)
        # texture is evidence only where no change of light can have clipped it (see SceneSettings)
        texture_ok = ~self._tone_squeezed(cur, ref, gain, k)
        both = tex_c & tex_r & texture_ok
        ratio = (vc + 1.0) / (vr * gain * gain + 1.0)
        one_sided = (
            texture_ok
            & (tex_c | tex_r)
            & ~both
            & ((ratio > self.s.texture_ratio**2) | (ratio < self.s.texture_ratio**-2))
        )
        diff = np.where(both, ncc < self.s.ncc_threshold, rel > self.s.flat_ratio)
        blown = self._blown(cur) | self._blown(ref)
        if blown.any():  # any blown pixel spoils its window
            blown = cv2.dilate(blown.astype(np.uint8), np.ones(k, np.uint8)).astype(bool)
        return np.asarray((diff | one_sided) & ~blown, bool)

    def _tone_squeezed(
        self, cur: F32, ref: F32, gain: npt.NDArray[np.floating[Any]], k: tuple[int, int]
    ) -> npt.NDArray[np.bool_]:
        """Windows whose texture a change of light may have clipped: the local gain moved by more than
        ``tone_change`` and enough of the window lies near either image's top level."""
        changed = np.abs(gain - 1.0) > self.s.tone_change
        if not changed.any():
            return np.zeros(cur.shape, bool)
        near = self._near_top(cur) | self._near_top(ref)
        if not near.any():
            return np.zeros(cur.shape, bool)
        crowded = cv2.boxFilter(near.astype(np.float32), -1, k) >= self.s.clipped_window_frac
        return np.asarray(changed & crowded, bool)

    def _near_top(self, img: F32) -> npt.NDArray[np.bool_]:
        """Pixels within ``clip_margin`` of the sample's top level, when it reaches ``blown_floor``."""
        top = float(img.max())
        if top < self.s.blown_floor:
            return np.zeros(img.shape, bool)
        return np.asarray(img >= top - self.s.clip_margin, bool)

    def _blown(self, img: F32) -> npt.NDArray[np.bool_]:
        """The blown-out plateau of a working image (see ``SceneSettings.blown_margin``)."""
        top = float(img.max())
        if top < self.s.blown_floor:
            return np.zeros(img.shape, bool)
        top_level = (img >= top - self.s.blown_margin).astype(np.uint8)
        # Blown-out exposure is broad; snowflakes, lamps and glints at the top level are specks,
        # which the opening removes (they must not blind the comparison around every flake).
        plateau = np.asarray(cv2.morphologyEx(top_level, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)), bool)
        if plateau.mean() < self.s.blown_min_frac:
            return np.zeros(img.shape, bool)
        return plateau

    def registered(self, image: U8) -> F32:
        """The working image of ``image``, aligned to the background (see :meth:`update`)."""
        return self.registration.to_reference(self.prepare(image))

    def registration_offset(self) -> tuple[float, float]:
        """The current registration's shift (working pixels; rotation adds its arc at the picture's
        corners), to tell a camera move between two samples."""
        dx, dy, deg = offset_of(self.registration.warp)
        arc = math.radians(deg) * 0.5 * self.s.width
        return (dx + arc, dy + arc)

    def has_young_candidates(self, t: float, within_s: float) -> bool:
        """Whether something new is forming (a blob not yet a region) or a region appeared within
        ``within_s`` seconds of video time ``t``: then who is at it matters."""
        return bool(self._pending) or any(t - r.first_seen_s <= within_s for r in self.regions.values())

    @property
    def ready(self) -> bool:
        """Whether the first background has been learnt (``warmup_samples`` samples seen)."""
        return self._long is not None

    def _warm_up(self, raw: F32, excl: npt.NDArray[np.bool_]) -> None:
        """Collect samples for the first background (again after a change of picture size)."""
        if self._warm and self._warm[0][0].shape != raw.shape:
            self._warm = []
        self._long = None
        self._warm.append((raw, excl))
        if len(self._warm) < max(1, self.s.warmup_samples):
            return
        median = np.median(np.stack([w for w, _ in self._warm]), axis=0).astype(np.float32)
        hidden = np.logical_or.reduce([e for _, e in self._warm])
        self._warm = []
        self._start(median, hidden)

    def _start(self, cur: F32, excl: npt.NDArray[np.bool_]) -> None:
        self._long = cur.copy()
        self._short = cur.copy()
        self._known = ~excl
        self._age = np.zeros(cur.shape, np.uint8)
        self._pending = []
        self._replaced = []
        self.regions.clear()
        self.registration.reset()

    # -- main entry -----------------------------------------------------------------------------
    def update(
        self, image: U8, t: float, exclusion: U8 | None = None, *, still_camera: bool = False
    ) -> list[StaticRegion]:
        """Feed one sampled frame (``exclusion``: 0/255 mask at working resolution of tracked objects
        and motion, already dilated by the caller's margin).  Returns the current candidates, their
        ``box`` where they now appear in the frame.

        ``still_camera``: the caller saw no motion at all since the previous sample, so the camera
        cannot have moved (a knock moves the whole picture): the last registration is kept rather
        than estimated again.
        """
        raw = self.prepare(image)
        raw_excl = np.zeros(raw.shape, bool) if exclusion is None else exclusion.astype(bool)
        if self._long is None or self._long.shape != raw.shape:
            self._warm_up(raw, raw_excl)
            return []
        assert self._short is not None and self._known is not None
        if not still_camera and not self.registration.estimate(raw, self._long, ~raw_excl):
            logger.warning("scene: the view moved too far to register at t=%.1f s: background relearnt", t)
            self.moves.append(CameraMove(t, float("nan"), float("nan"), float("nan")))
            self.relearns += 1
            self._start(raw, raw_excl)
            return []
        move = self.registration.moved(t, self._scale)
        if move is not None:
            self.moves.append(move)
        cur = self.registration.to_reference(raw)
        excl = self.registration.mask_to_reference(raw_excl, margin=self.s.window)
        still = np.abs(cur - self._short) < self.s.static_diff
        cv2.accumulateWeighted(cur, self._short, self.s.short_alpha)
        diff = self.dissimilar(cur, self._long) & self._known
        self.last_diff = diff
        known_px = max(int(np.count_nonzero(self._known & ~excl)), 1)
        changed = int(np.count_nonzero(diff & ~excl)) / known_px
        if changed > self.s.global_change_frac:
            self._relearn(cur, still & ~excl)
            return list(self.regions.values())
        # Pixels hidden so far (by objects present at start) become known when first seen still.
        reveal = ~self._known & ~excl & still
        self._long[reveal] = cur[reveal]
        self._known |= reveal
        # A pixel must be new and still for several samples in a row: this drops fragments that
        # look "still" by chance while the short-term model is still catching up.
        steady = diff & still & ~excl
        self._age = np.where(steady, np.minimum(self._age + 1, 250), 0).astype(np.uint8)
        steady_long = (self._age >= self.s.min_static_samples).astype(np.uint8) * 255
        opened = cv2.morphologyEx(steady_long, cv2.MORPH_OPEN, self._open)
        cand = np.asarray(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, self._close), np.uint8)
        blobs = self._blobs(cand)
        self._associate(blobs, cur, excl, diff, t)
        # Learn the background slowly, only where nothing new or excluded is, and never under a
        # candidate waiting for its decision.
        learn = ~diff & ~excl & still & ~self._held()
        blend = self._long + self.s.long_alpha * (cur - self._long)
        self._long[learn] = blend[learn]
        for region in self.regions.values():
            region.box = self.to_full(self.registration.box_to_sample(region.small_box))
        return list(self.regions.values())

    def _held(self) -> npt.NDArray[np.bool_]:
        """Candidate regions and young blobs, with a small margin: the background must not learn there."""
        assert self._long is not None
        held = np.zeros(self._long.shape, bool)
        h, w = int(self._long.shape[0]), int(self._long.shape[1])
        m = 3
        boxes: list[Box] = [r.small_box for r in self.regions.values()] + [p[0] for p in self._pending]
        for x1, y1, x2, y2 in boxes:
            held[max(0, y1 - m) : min(h, y2 + m), max(0, x1 - m) : min(w, x2 + m)] = True
        return held

    def _blobs(self, cand: U8) -> list[Box]:
        n, _labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
        total = cand.size
        boxes: list[Box] = []
        for i in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[i])
            frac = area / total
            if self.s.min_area_frac <= frac <= self.s.max_area_frac:
                boxes.append((x, y, x + w, y + h))
        return boxes

    def _associate(
        self, blobs: list[Box], cur: F32, excl: npt.NDArray[np.bool_], diff: npt.NDArray[np.bool_], t: float
    ) -> None:
        assert self._long is not None
        matched: set[int] = set()
        fresh_pending: list[tuple[Box, int, float]] = []
        for box in blobs:
            best, best_iou = None, 0.0
            for rid, region in self.regions.items():
                score = iou(box, region.small_box)
                if score > best_iou:
                    best, best_iou = rid, score
            area = (box[2] - box[0]) * (box[3] - box[1]) / cur.size
            if best is not None and best_iou >= 0.2:
                region = self.regions[best]
                if best not in matched:
                    region.small_box = box if best_iou < 0.9 else region.small_box
                    region.box = self.to_full(region.small_box)
                    region.area_frac = area
                region.last_seen_s = t
                region.missing = 0
                region.occluded = False
                matched.add(best)
                continue
            # A blob becomes a region only once it has been seen for a few samples: by then it has
            # grown to the whole object, so the ghost test looks at the whole of it.
            pend = next((p for p in self._pending if iou(box, p[0]) >= 0.2), None)
            if pend is None:
                fresh_pending.append((box, 1, t))
                continue
            if pend in fresh_pending:
                continue
            count, since = pend[1] + 1, pend[2]
            if count < self.s.confirm_samples:
                fresh_pending.append((box, count, since))
                continue
            x1, y1, x2, y2 = box
            if self._returned_to_before(box, cur, t):
                self._long[y1:y2, x1:x2] = cur[y1:y2, x1:x2]
                logger.debug("scene: %s went back to the background learnt away before: nothing arrived", box)
                continue
            if self._looks_like_ghost(box, cur):
                self._remember_replaced(box, t)
                self._long[y1:y2, x1:x2] = cur[y1:y2, x1:x2]
                logger.debug("scene: ghost at %s (something in the background left), learnt away", box)
                continue
            rid = self._next_id
            self._next_id += 1
            self.regions[rid] = StaticRegion(
                region_id=rid,
                box=self.to_full(box),
                small_box=box,
                area_frac=area,
                first_seen_s=since,
                last_seen_s=t,
                before=self._long[y1:y2, x1:x2].copy(),
            )
            matched.add(rid)
            logger.debug("scene: new static region %d at %s (t=%.1f)", rid, self.to_full(box), since)
        self._pending = fresh_pending
        for rid in list(self.regions):
            if rid in matched:
                continue
            region = self.regions[rid]
            x1, y1, x2, y2 = region.small_box
            hidden = float(excl[y1:y2, x1:x2].mean()) if x2 > x1 and y2 > y1 else 0.0
            region.occluded = hidden > 0.3
            if region.occluded:
                continue  # someone is standing in front of it: neither seen nor gone
            if x2 > x1 and y2 > y1 and float(diff[y1:y2, x1:x2].mean()) >= self.s.confirm_fraction:
                region.last_seen_s = t  # the blob step missed it, but it is still there
                region.missing = 0
                continue
            region.missing += 1
            if region.missing > self.s.missing_samples:
                logger.debug("scene: region %d gone (t=%.1f)", rid, t)
                del self.regions[rid]

    def _looks_like_ghost(self, box: Box, cur: F32) -> bool:
        """Something that *left* the background (a car parked at start-up) leaves a "new" region too:
        there, the background's patch stood out from its surroundings and the current patch blends
        in with them.  A deposit is the other way round."""
        assert self._long is not None
        h, w = cur.shape
        x1, y1, x2, y2 = box
        m = max(4, (x2 - x1 + y2 - y1) // 6)
        ox1, oy1, ox2, oy2 = max(0, x1 - m), max(0, y1 - m), min(w, x2 + m), min(h, y2 + m)
        inner = np.zeros((oy2 - oy1, ox2 - ox1), bool)
        inner[y1 - oy1 : y2 - oy1, x1 - ox1 : x2 - ox1] = True
        if inner.all() or not inner.any():
            return False

        ring = (~inner).astype(np.uint8) * 255
        core = inner.astype(np.uint8) * 255

        def stands_out(img: F32) -> float:
            """Bhattacharyya distance (0 alike … 1 disjoint) between the grey-level histograms of
            the box and of the ring around it.  Histograms, not mean and spread: a dark sack
            around a bright lamp post averages out to the grass around it, yet is plainly not it."""
            patch = np.ascontiguousarray(img[oy1:oy2, ox1:ox2])
            hists = []
            for mask in (core, ring):
                hist = cv2.calcHist([patch], [0], mask, [GHOST_BINS], [0.0, 256.0])
                hists.append(np.asarray(hist / max(float(hist.sum()), 1.0), np.float32))
            return float(cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_BHATTACHARYYA))

        before, now = stands_out(self._long), stands_out(cur)
        return before > GHOST_RATIO * now and before - now > GHOST_MARGIN

    def _remember_replaced(self, box: Box, t: float) -> None:
        assert self._long is not None
        x1, y1, x2, y2 = box
        m = self.s.window  # with context, so the comparison's windows have something to work with
        ctx = (
            max(0, x1 - m),
            max(0, y1 - m),
            min(self._long.shape[1], x2 + m),
            min(self._long.shape[0], y2 + m),
        )
        patch = self._long[ctx[1] : ctx[3], ctx[0] : ctx[2]].copy()
        self._replaced = [r for r in self._replaced if t - r[2] <= REPLACED_MEMORY_S][-REPLACED_KEPT + 1 :]
        self._replaced.append((ctx, patch, t))

    def _returned_to_before(self, box: Box, cur: F32, t: float) -> bool:
        """Whether ``box`` now shows what the background held there before a ghost test replaced it
        with one sample within :data:`REPLACED_MEMORY_S`.  A transient picture — decoder damage until
        the next keyframe, a flash, a passing shadow — can pass the ghost test and be written into the
        background; when the real scene comes back, it differs from that and would look new."""
        x1, y1, x2, y2 = box
        for (cx1, cy1, cx2, cy2), patch, when in reversed(self._replaced):
            if t - when > REPLACED_MEMORY_S or x1 < cx1 or y1 < cy1 or x2 > cx2 or y2 > cy2:
                continue
            diff = self.dissimilar(cur[cy1:cy2, cx1:cx2], patch)
            inner = diff[y1 - cy1 : y2 - cy1, x1 - cx1 : x2 - cx1]
            if inner.size and float(inner.mean()) < self.s.confirm_fraction:
                return True
        return False

    def _relearn(self, cur: F32, where: npt.NDArray[np.bool_]) -> None:
        """A large part of the frame changed at once (lighting the comparison could not absorb, a
        nudged camera): take the current view as background outside live candidates."""
        assert self._long is not None
        keep = np.zeros(cur.shape, bool)
        for region in self.regions.values():
            x1, y1, x2, y2 = region.small_box
            keep[y1:y2, x1:x2] = True
        mask = where & ~keep
        self._long[mask] = cur[mask]
        self.relearns += 1
        logger.info("scene: large simultaneous change, background relearnt (%d so far)", self.relearns)

    # -- decisions ------------------------------------------------------------------------------
    def still_new(self, region_id: int, image: U8) -> bool:
        """Before/now check at decision time: does the region still differ from how it looked
        before it appeared (its saved long-term background patch)?"""
        region = self.regions.get(region_id)
        if region is None:
            return False
        cur = self.registered(image)
        x1, y1, x2, y2 = region.small_box
        now = cur[y1:y2, x1:x2]
        before = region.before
        if now.shape != before.shape or now.size == 0:
            assert self._long is not None
            before = self._long[y1:y2, x1:x2]
        pad = self.s.window
        # Compare with context so the local gain map and windows have something to work with.
        ctx_y1, ctx_y2 = max(0, y1 - pad), min(cur.shape[0], y2 + pad)
        ctx_x1, ctx_x2 = max(0, x1 - pad), min(cur.shape[1], x2 + pad)
        assert self._long is not None
        ref = self._long[ctx_y1:ctx_y2, ctx_x1:ctx_x2].copy()
        ref[y1 - ctx_y1 : y2 - ctx_y1, x1 - ctx_x1 : x2 - ctx_x1] = before
        diff = self.dissimilar(cur[ctx_y1:ctx_y2, ctx_x1:ctx_x2], ref)
        inner = diff[y1 - ctx_y1 : y2 - ctx_y1, x1 - ctx_x1 : x2 - ctx_x1]
        return bool(inner.mean() >= self.s.confirm_fraction)

    def absorb(self, region_id: int, image: U8 | None = None) -> None:
        """Make a region part of the background (after it was reported, or if it is a fixture)."""
        region = self.regions.pop(region_id, None)
        if region is None or self._long is None:
            return
        x1, y1, x2, y2 = region.small_box
        m = 3
        x1, y1 = max(0, x1 - m), max(0, y1 - m)
        x2, y2 = min(self._long.shape[1], x2 + m), min(self._long.shape[0], y2 + m)
        src = self.registered(image) if image is not None else self._short
        assert src is not None
        self._long[y1:y2, x1:x2] = src[y1:y2, x1:x2]
        logger.debug("scene: region %d absorbed into the background", region_id)
