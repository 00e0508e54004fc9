"""One plate from several reads of it: a character-level vote weighted by confidence and sharpness.

Each view of a vehicle gives the OCR another chance at the same plate; a single read may drop a
character or swap O for 0, but the same mistake rarely repeats in the same position.  The reads of
the most supported length vote position by position (each read's weight is its confidence times
its sharpness), the space goes where most weight puts it, and the voted text is then decided like
any read (``detector.plate_format.check_uk_plate``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from detector.plate_format import check_uk_plate, gaps, normalise
from detector.types import PlateRead


@dataclass(frozen=True, slots=True)
class OCRRead:
    """One OCR read of a plate: the raw text (spaces as read), the recogniser's confidence (0–1) and,
    when the caller measured it, the view's relative sharpness (> 0; 1 when unknown)."""

    raw: str
    confidence: float
    sharpness: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0 or self.sharpness <= 0.0:
            raise ValueError(f"an OCR read needs confidence in 0-1 and sharpness > 0, got {self}")

    @property
    def weight(self) -> float:
        return self.confidence * self.sharpness


def vote_reads(reads: Sequence[OCRRead], *, on: date | None = None) -> PlateRead:
    """The plate that several reads of one vehicle agree on.

    Parameters
    ----------
    reads:
        The reads, in any order; reads with no letters or digits are ignored.
    on:
        The day the plate was seen (see ``check_uk_plate``).

    Returns
    -------
    PlateRead
        The decided text (normalised, no spaces), a confidence (the voting reads' weighted mean
        confidence times the weakest position's share of the vote) and whether it is a UK format;
        text and confidence None when there was nothing to vote on.

    Example
    -------
    >>> vote_reads([OCRRead("OU08 00B", 0.9), OCRRead("OU08 OOB", 0.8), OCRRead("0U08 OOB", 0.7)]).text
    'OU08OOB'
    """
    texts = [(normalise(r.raw), r) for r in reads]
    texts = [(t, r) for t, r in texts if t]
    if not texts:
        return PlateRead(text=None, confidence=None, valid_uk_format=False)
    by_length: dict[int, float] = defaultdict(float)
    for t, r in texts:
        by_length[len(t)] += r.weight
    # the most supported length; a tie goes to the longer (a dropped character is the usual fault)
    length = max(by_length, key=lambda n: (by_length[n], n))
    voters = [(t, r) for t, r in texts if len(t) == length]
    total = sum(r.weight for _, r in voters)
    if total <= 0.0:
        return PlateRead(text=None, confidence=None, valid_uk_format=False)

    chars: list[str] = []
    weakest = 1.0
    for i in range(length):
        tally: dict[str, float] = defaultdict(float)
        for t, r in voters:
            tally[t[i]] += r.weight
        ch = max(tally, key=lambda c: (tally[c], c))
        chars.append(ch)
        weakest = min(weakest, tally[ch] / total)

    spaces: dict[int, float] = defaultdict(float)
    for _, r in voters:
        read_gaps = gaps(r.raw)
        if len(read_gaps) == 1:
            spaces[next(iter(read_gaps))] += r.weight
    raw = "".join(chars)
    if spaces:
        at = max(spaces, key=lambda g: (spaces[g], -g))
        raw = f"{raw[:at]} {raw[at:]}"

    plate = check_uk_plate(raw, on=on)
    mean_confidence = sum(r.confidence * r.weight for _, r in voters) / total
    return PlateRead(
        text=plate.text, confidence=round(mean_confidence * weakest, 4), valid_uk_format=plate.valid
    )
