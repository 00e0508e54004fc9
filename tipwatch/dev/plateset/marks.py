"""Registration marks for the plate test set: every UK format, drawn at random, kept only when
:func:`detector.plate_format.check_uk_plate` decides them as the format they were drawn for.

The draw is deliberately broad (any letter, any serial) and the checker is the judge: a mark is
kept only if, written with its conventional space, it is decided as the intended format with no
character changed.  So the set's truth is valid by the same DVLA rules the reader applies
(memory-tag letters, issued age identifiers, no I or Q in the random letters, no leading zero in a
serial, I or Z in a Northern Ireland area code), and a rule the checker gets wrong shows up as a
format that never appears in the set rather than as a silently invalid truth.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date

import numpy as np

from detector.plate_format import check_uk_plate, issued_age_identifiers

#: the day the set's marks are decided on: age identifiers up to "75" (September 2025).  Fixed, so
#: the set does not change with the calendar; any later day accepts every mark (issued identifiers
#: only grow).
MARKS_SEEN_ON = date(2025, 9, 1)

#: how often each format is drawn (current marks are most of the traffic; the others are kept
#: common enough that each has tens of vehicles in a set of a few hundred)
FORMAT_WEIGHTS: dict[str, float] = {
    "current": 0.45,
    "prefix": 0.15,
    "suffix": 0.12,
    "northern_ireland": 0.13,
    "dateless": 0.15,
}

_LETTERS = string.ascii_uppercase
_DIGITS = string.digits


class MarkDrawError(RuntimeError):
    """No valid mark of a format could be drawn (the checker refuses everything the draw makes)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A registration mark: ``text`` normalised ("AB12CDE"), its ``format`` as the checker decides
    it, and ``groups``: the two character groups the plate shows with a space between ("AB12",
    "CDE"); a two-line plate puts them on its two lines."""

    text: str
    format: str
    groups: tuple[str, str]

    @property
    def display(self) -> str:
        return " ".join(self.groups)


def _letters(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list(_LETTERS), n))


def _serial(rng: np.random.Generator, max_digits: int) -> str:
    """1 to ``max_digits`` digits, no leading zero, short and long serials equally likely."""
    n = int(rng.integers(1, max_digits + 1))
    return str(rng.choice(list(_DIGITS[1:]))) + "".join(rng.choice(list(_DIGITS), n - 1))


def _draw(rng: np.random.Generator, fmt: str) -> tuple[str, str]:
    if fmt == "current":
        age = str(rng.choice(sorted(issued_age_identifiers(MARKS_SEEN_ON))))
        return _letters(rng, 2) + age, _letters(rng, 3)
    if fmt == "prefix":
        return _letters(rng, 1) + _serial(rng, 3), _letters(rng, 3)
    if fmt == "suffix":
        return _letters(rng, 3), _serial(rng, 3) + _letters(rng, 1)
    if fmt == "northern_ireland":
        other = str(rng.choice([c for c in _LETTERS if c not in "IZQ"]))
        area = "I" + other if rng.random() < 0.5 else other + "Z"
        serial_letter = _letters(rng, 1) if rng.random() < 0.7 else ""
        return serial_letter + area, _serial(rng, 4)
    if fmt == "dateless":
        letters, digits = _letters(rng, int(rng.integers(1, 4))), _serial(rng, 4)
        return (letters, digits) if rng.random() < 0.7 else (digits, letters)
    raise ValueError(f"unknown format {fmt!r} (formats: {', '.join(FORMAT_WEIGHTS)})")


def draw_mark(rng: np.random.Generator, fmt: str, *, attempts: int = 500) -> Mark:
    """A random mark of format ``fmt`` that the checker decides as ``fmt`` exactly as drawn."""
    for _ in range(attempts):
        groups = _draw(rng, fmt)
        decided = check_uk_plate(" ".join(groups), on=MARKS_SEEN_ON)
        if decided.format == fmt and not decided.corrections and decided.text == "".join(groups):
            return Mark(decided.text, fmt, groups)
    raise MarkDrawError(f"no {fmt} mark the format checker accepts in {attempts} draws")


def draw_format(rng: np.random.Generator) -> str:
    names = list(FORMAT_WEIGHTS)
    weights = np.asarray([FORMAT_WEIGHTS[n] for n in names], np.float64)
    return str(rng.choice(names, p=weights / weights.sum()))
