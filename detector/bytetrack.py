"""ByteTrack (Zhang et al., ECCV 2022) over :class:`~detector.types.Detections`, on numpy and ``lap``.

Why our own: the maintained ByteTrack implementations all cost what an edge box cannot pay —
ultralytics' imports PyTorch (~300 MB resident), and Roboflow's ``trackers`` (the successor of
supervision's tracker) imports supervision and SciPy (+77 MB resident, ~5 s to import) — while
the algorithm is small.  The assignment itself is ``lap.lapjv`` (a well-kept Jonker–Volgenant
solver, BSD-2), as in the reference implementation.

The algorithm, per update (the tracker is updated only on frames where the object detector ran,
so ``track_buffer`` counts detector runs, not video frames):

1. Every track predicts its box with a constant-velocity Kalman filter on (cx, cy, w, h).
2. Confirmed and lost tracks are matched to **high**-confidence detections by IoU (optionally
   weighted by the detection's score), then the still-unmatched confirmed tracks to the
   **low**-confidence detections: ByteTrack's insight, a partly hidden person detected weakly
   keeps their id.
3. Tentative tracks (seen once) are matched to what high detections remain, else dropped.
4. Left-over high detections above ``new_track_thresh`` start tentative tracks; the first
   update of a tracker confirms them at once.
5. Tracks unmatched for more than ``track_buffer`` updates are removed.

The output is every confirmed track matched in this update, with the Kalman-updated box.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import lap
import numpy as np
import numpy.typing as npt

from detector.types import Detections

logger = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    track_high_thresh: float = 0.4  # detections at or above this take part in the first association
    track_low_thresh: float = 0.1  # ... between this and high, in the second (ByteTrack's low boxes)
    new_track_thresh: float = 0.45  # a left-over detection this confident starts a track
    track_buffer: int = 8  # detector runs a lost track is kept (×0.7 s detect interval ≈ 6 s)
    match_thresh: float = 0.9  # first association: largest accepted cost (1 - IoU·score)
    low_match_thresh: float = 0.5  # second association: largest accepted cost (1 - IoU)
    tentative_match_thresh: float = 0.7  # tentative tracks: largest accepted cost
    fuse_score: bool = True  # weight IoU by the detection's confidence in the first association


def iou_matrix(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> F64:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4), xyxy pixels → (N, M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float64)
    a = a.astype(np.float64)[:, None, :]
    b = b.astype(np.float64)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def _assign(cost: F64, limit: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Minimum-cost one-to-one assignment with pairs above ``limit`` forbidden."""
    n, m = cost.shape
    if n == 0 or m == 0:
        return [], list(range(n)), list(range(m))
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=limit)
    pairs = [(i, int(j)) for i, j in enumerate(x) if j >= 0]
    return pairs, [i for i in range(n) if x[i] < 0], [j for j in range(m) if y[j] < 0]


class _Kalman:
    """Constant-velocity Kalman filter on (cx, cy, w, h); noise scales with the box size."""

    _F = np.eye(8)
    _F[:4, 4:] = np.eye(4)
    _H = np.eye(4, 8)
    POS, VEL = 1.0 / 20, 1.0 / 160  # noise per unit of box size (as in SORT / ByteTrack)

    def __init__(self, z: F64) -> None:
        self.x = np.concatenate([z, np.zeros(4)])
        size = np.array([z[3], z[3], z[2], z[3]])
        std = np.concatenate([2 * self.POS * size, 10 * self.VEL * size])
        self.P = np.diag(std**2)

    def _size(self) -> F64:
        return np.array([self.x[3], self.x[3], self.x[2], self.x[3]])

    def predict(self) -> None:
        size = self._size()
        q = np.diag(np.concatenate([self.POS * size, self.VEL * size]) ** 2)
        self.x = self._F @ self.x
        self.P = self._F @ self.P @ self._F.T + q

    def update(self, z: F64) -> None:
        r = np.diag((self.POS * self._size()) ** 2)
        s = self._H @ self.P @ self._H.T + r
        k = self.P @ self._H.T @ np.linalg.inv(s)
        self.x = self.x + k @ (z - self._H @ self.x)
        self.P = (np.eye(8) - k @ self._H) @ self.P

    @property
    def xyxy(self) -> F64:
        cx, cy, w, h = self.x[:4]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _cxcywh(box: npt.NDArray[np.floating]) -> F64:
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0), max(y2 - y1, 1.0)])


@dataclass(slots=True)
class _Track:
    track_id: int
    kalman: _Kalman
    score: float
    class_id: int
    confirmed: bool
    missed: int = 0  # consecutive updates without a match
    box: F64 = field(default_factory=lambda: np.zeros(4))

    def hit(self, box: npt.NDArray[np.floating], score: float, class_id: int) -> None:
        self.kalman.update(_cxcywh(box))
        self.box = self.kalman.xyxy
        self.score, self.class_id, self.missed = score, class_id, 0


class ByteTracker:
    """Assigns stable ids to detections across detector runs (see the module docstring)."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._updates = 0

    def update(self, dets: Detections) -> Detections:
        """Track ``dets``; returns the matched confirmed tracks with ``tracker_id`` (boxes are the
        filter's), shape-consistent with :class:`Detections`; empty with ``tracker_id`` of (0,)."""
        s = self.settings
        self._updates += 1
        for t in self._tracks:
            t.kalman.predict()
            t.box = t.kalman.xyxy
        conf = dets.confidence.astype(np.float64)
        high = np.flatnonzero(conf >= s.track_high_thresh)
        low = np.flatnonzero((conf >= s.track_low_thresh) & (conf < s.track_high_thresh))
        confirmed = [t for t in self._tracks if t.confirmed]
        tentative = [t for t in self._tracks if not t.confirmed]
        matched: list[_Track] = []

        # 1. confirmed and lost tracks × high detections
        hit, left_tracks, left_high = self._match(confirmed, high, dets, conf, s.match_thresh, s.fuse_score)
        matched += hit
        # 2. still-unmatched tracks that were seen last time × low detections
        recent = [confirmed[i] for i in left_tracks if confirmed[i].missed == 0]
        matched += self._match(recent, low, dets, conf, s.low_match_thresh, False)[0]
        # 3. tentative tracks × remaining high detections
        hit, _, left_rest = self._match(
            tentative, left_high, dets, conf, s.tentative_match_thresh, s.fuse_score
        )
        for track in hit:
            track.confirmed = True
        matched += hit
        # 4. new tracks; tentative ones not matched are dropped
        alive = {id(t) for t in matched}
        self._tracks = [t for t in self._tracks if t.confirmed or id(t) in alive]
        for d in left_rest:
            if conf[d] < s.new_track_thresh:
                continue
            track = _Track(
                self._next_id,
                _Kalman(_cxcywh(dets.xyxy[d])),
                float(conf[d]),
                int(dets.class_id[d]),
                confirmed=self._updates == 1,
            )
            track.box = dets.xyxy[d].astype(np.float64)
            self._next_id += 1
            self._tracks.append(track)
            alive.add(id(track))
            if track.confirmed:
                matched.append(track)
        # 5. age the unmatched, forget the long lost
        for t in self._tracks:
            if id(t) not in alive:
                t.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= s.track_buffer]
        out = [t for t in matched if t.confirmed]
        if not out:
            empty = Detections.empty()
            empty.tracker_id = np.zeros((0,), np.int64)
            return empty
        return Detections(
            xyxy=np.array([t.box for t in out], np.float32),
            confidence=np.array([t.score for t in out], np.float32),
            class_id=np.array([t.class_id for t in out], np.int32),
            tracker_id=np.array([t.track_id for t in out], np.int64),
        )

    @staticmethod
    def _match(
        tracks: list[_Track],
        idx: npt.NDArray[np.integer],
        dets: Detections,
        conf: F64,
        limit: float,
        fuse: bool,
    ) -> tuple[list[_Track], list[int], npt.NDArray[np.integer]]:
        """Assign ``tracks`` to the detections at indices ``idx`` by IoU (weighted by confidence when
        ``fuse``), no pair costing more than ``limit``; matched tracks take their detection.  Returns
        (matched tracks, positions of unmatched tracks, indices of unmatched detections)."""
        iou = iou_matrix(np.array([t.box for t in tracks]).reshape(-1, 4), dets.xyxy[idx])
        cost = 1.0 - (iou * conf[idx][None, :] if fuse else iou)
        pairs, left_tracks, left_dets = _assign(cost, limit)
        for i, j in pairs:
            d = idx[j]
            tracks[i].hit(dets.xyxy[d], float(conf[d]), int(dets.class_id[d]))
        return [tracks[i] for i, _ in pairs], left_tracks, idx[np.asarray(left_dets, np.int64)]

    def reset(self) -> None:
        self._tracks.clear()
        self._updates = 0
