"""The camera's own compressed stream for the last minutes: what evidence clips are cut from.

A source that demuxes with PyAV (files and streams) pushes every compressed packet here with its
video time.  Holding packets instead of decoded or re-encoded frames costs what the camera sent
(~0.25–0.5 MB per second at 720p H.264) and keeps the camera's own bits, so a clip can be:

- the **master**: the original packets for the span, from the keyframe before it, *remuxed* into an
  MP4 without re-encoding (only for H.264 and H.265, which MP4 carries and courts' players read);
- the **working copy**: the same span decoded and encoded as browser-playable H.264 (see
  :mod:`detector.clips`), at the source's own frame rate.

A reconnect (a new connection's packets need that connection's decoder set-up) or a new picture
size starts a new segment: the ring keeps only the current one.  Thread-safe: the source pushes
while the evidence writer cuts a span.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

REMUXABLE_CODECS = frozenset({"h264", "hevc"})  # what an MP4 master can carry as the camera sent it


@dataclass(frozen=True, slots=True)
class RingPacket:
    """One compressed packet: its video time (s), timestamps in the stream's time base, the bytes."""

    t_s: float
    pts: int | None
    dts: int | None
    keyframe: bool
    data: bytes


class PacketRing:
    """The last ``seconds`` (by video time) of one video stream's packets, from a keyframe on."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError(f"PacketRing needs a positive length in seconds, got {seconds}")
        self.seconds = seconds
        self._packets: deque[RingPacket] = deque()
        self._stream: Any = None  # the input stream: the template for remuxing
        self._lock = threading.Lock()
        self._bytes = 0
        self.segments = 0

    # -- filling --------------------------------------------------------------------------------
    def start_segment(self, stream: Any) -> None:
        """A new connection or file (``stream``: the PyAV input video stream): forget older packets."""
        with self._lock:
            self._packets.clear()
            self._bytes = 0
            self._stream = stream
            self.segments += 1

    def push(self, packet: av.Packet, t_s: float) -> None:
        """Keep ``packet`` (empty flush packets are ignored); drop what is older than the ring's
        length, but never the keyframe the oldest kept packets need."""
        if packet.size == 0:
            return
        item = RingPacket(t_s, packet.pts, packet.dts, bool(packet.is_keyframe), bytes(packet))
        with self._lock:
            self._packets.append(item)
            self._bytes += len(item.data)
            horizon = t_s - self.seconds
            # drop whole GOPs: while the second keyframe is itself older than the horizon (nothing
            # can go while the oldest packet is inside it: no need to look for keyframes then)
            while self._packets[0].t_s <= horizon:
                second = next((i for i, p in enumerate(self._packets) if i > 0 and p.keyframe), None)
                if second is None or self._packets[second].t_s > horizon:
                    break
                for _ in range(second):
                    self._bytes -= len(self._packets.popleft().data)

    # -- reading --------------------------------------------------------------------------------
    @property
    def codec(self) -> str | None:
        return None if self._stream is None else str(self._stream.codec_context.name)

    @property
    def remuxable(self) -> bool:
        return self.codec in REMUXABLE_CODECS

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._packets)

    def span(self, start_s: float, end_s: float) -> list[RingPacket]:
        """Packets from the last keyframe at or before ``start_s`` (else the first kept keyframe)
        to the last packet at or before ``end_s``; empty when the ring has nothing there."""
        with self._lock:
            packets = list(self._packets)
        keys = [i for i, p in enumerate(packets) if p.keyframe]
        if not keys:
            return []
        first = max((i for i in keys if packets[i].t_s <= start_s), default=keys[0])
        chosen = [p for p in packets[first:] if p.t_s <= end_s]
        return chosen if chosen and chosen[-1].t_s >= start_s else []

    def remux(self, packets: list[RingPacket], path: Path) -> None:
        """Write ``packets`` (from :meth:`span`) as an MP4 with the camera's own bitstream, moov
        first; timestamps start at zero.  ValueError if the codec cannot be carried."""
        if not self.remuxable or not packets:
            raise ValueError(f"cannot remux {len(packets)} packet(s) of codec {self.codec!r} into MP4")
        stream = self._stream
        tb: Fraction = stream.time_base
        base = min(p.dts if p.dts is not None else (p.pts or 0) for p in packets)
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            out_stream = out.add_stream_from_template(stream)
            for p in packets:
                packet = av.Packet(p.data)
                packet.pts = None if p.pts is None else p.pts - base
                packet.dts = None if p.dts is None else p.dts - base
                packet.is_keyframe = p.keyframe
                packet.time_base = tb
                packet.stream = out_stream
                out.mux(packet)

    def decode(self, packets: list[RingPacket]) -> Iterator[tuple[float, npt.NDArray[np.uint8]]]:
        """Decode ``packets`` with a fresh decoder: (video time s, BGR uint8 picture) in order.
        A packet that does not decode is skipped (logged once)."""
        from detector.sources import to_bgr  # the one YUV → BGR conversion

        template = self._stream.codec_context
        ctx = av.CodecContext.create(template.name, "r")
        if template.extradata:
            ctx.extradata = template.extradata
        ctx.width, ctx.height = template.width, template.height
        tb: Fraction = self._stream.time_base
        origin = next((p for p in packets if p.pts is not None), None)
        warned = False

        def frames_of(packet: av.Packet | None) -> list[av.VideoFrame]:
            nonlocal warned
            try:
                return list(ctx.decode(packet))
            except av.error.FFmpegError as exc:
                if not warned:
                    logger.warning("clip: skipping an undecodable packet: %s", exc)
                    warned = True
                return []

        for p in packets:
            packet = av.Packet(p.data)
            packet.pts, packet.dts = p.pts, p.dts
            for frame in frames_of(packet):
                yield self._time(frame, origin, tb), to_bgr(frame)
        for frame in frames_of(None):
            yield self._time(frame, origin, tb), to_bgr(frame)

    @staticmethod
    def _time(frame: av.VideoFrame, origin: RingPacket | None, tb: Fraction) -> float:
        if frame.pts is None or origin is None or origin.pts is None:
            return origin.t_s if origin is not None else 0.0
        return origin.t_s + float((frame.pts - origin.pts) * tb)
