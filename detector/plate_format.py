"""Which UK registration an OCR read is: the DVLA formats, decided the way DVLA issues them.

A read is fitted to each format whose letter/digit pattern it can take, mending the usual OCR
confusions (O/0, I/1, S/5, B/8, Z/2, G/6, D/0 ...) only where the format wants the other kind of
character, and kept only where the result is a mark DVLA could have issued (the letters and age
identifiers of each scheme below).  Of the plausible fits the decision prefers, in order:

1. the format whose conventional space is where the raw text has its one space ("OU08 00B" has it
   after four characters, so it is a current mark, never the suffix mark "OUO 800B");
2. the read exactly as the OCR gave it, when it is already a valid mark (no character changed);
3. the most specific format: current, prefix, suffix, Northern Ireland, dateless;
4. fewer changed characters.

A read that fits no format is *unverified*: ``UKPlate.format`` is None and nobody should present
its text as a registration.  Every changed character is recorded in ``UKPlate.corrections``.

Sources: DVLA, "Vehicle registration numbers and number plates" (INF104) and the GOV.UK pages on the
current format (memory tag, age identifier, random letters); see each rule below.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

# -- DVLA's schemes


def issued_age_identifiers(on: date) -> frozenset[str]:
    """The age identifiers of the current (2001-) format that DVLA had issued by ``on``.

    DVLA's scheme: from 1 March the identifier is the year's last two digits ("02" for March 2002),
    from 1 September it is that plus 50 ("51" for September 2001, "75" for September 2025).  The
    scheme began in September 2001 ("51"; "01" was never issued) and runs to "00" in 2050.  A plate
    cannot carry an identifier issued after the day it was seen.
    """
    codes: set[str] = set()
    for year in range(2001, min(on.year, 2050) + 1):
        if year >= 2002 and on >= date(year, 3, 1):
            codes.add(f"{year % 100:02d}")
        if year <= 2049 and on >= date(year, 9, 1):
            codes.add(f"{(year + 50) % 100:02d}")
    return frozenset(codes)


# First letter of the memory tag: DVLA's regions (A Anglia, B Birmingham, C Cymru, D Deeside,
# E Essex, F Forest and Fens, G Garden of England, H Hampshire and Dorset, K Milton Keynes, L London,
# M Manchester, N North, O Oxford, P Preston, R Reading, S Scotland, V Severn Valley, W West of
# England, X export, Y Yorkshire).  I, Q and Z are never used in the memory tag.
_REGION_LETTERS = frozenset("ABCDEFGHKLMNOPRSVWXY")
_NOT_IN_MEMORY_TAG = frozenset("IQZ")
# The three random letters: DVLA leaves out I and Q (too like 1 and O); Z *is* used there.
_NOT_IN_RANDOM_LETTERS = frozenset("IQ")
# Year letters of the prefix (1983-2001) and suffix (1963-1983) schemes: I, O, Q, U and Z were
# never used (I and O look like 1 and 0, U like V, Z belongs to Northern Ireland).
_YEAR_LETTERS = frozenset("ABCDEFGHJKLMNPRSTVWXY")
# Area codes with an I or a Z are Northern Ireland's; Q marks (vehicles of unknown age) are not
# read as any of these formats.
_NI_LETTERS = frozenset("IZ")

# OCR confusions, mended by position: a digit read where the format wants a letter, and the reverse.
_TO_LETTER = {"0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B"}
_TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "G": "6", "B": "8"}


@dataclass(frozen=True, slots=True)
class Correction:
    """One character changed to fit a format: where (index in the normalised text), what was read
    and what the format made of it."""

    position: int
    read: str
    fitted: str


@dataclass(frozen=True, slots=True)
class UKPlate:
    text: str  # normalised, no spaces: "AB12CDE" (as read when unverified)
    format: str | None  # "current", "prefix", "suffix", "northern_ireland", "dateless"; None: unverified
    corrections: tuple[Correction, ...] = ()

    @property
    def valid(self) -> bool:
        return self.format is not None

    @property
    def fixes(self) -> int:
        """How many characters were changed to fit the format."""
        return len(self.corrections)

    @property
    def display(self) -> str:
        """With the conventional space: 'AB12 CDE', 'A123 BCD', 'ABC 123D', 'ABZ 1234' (a dateless
        mark, and an unverified read, as one run: '1A')."""
        if self.format is None or self.format == "dateless":
            return self.text
        gap = _FORMATS[self.format].gap(self.text)
        return f"{self.text[:gap]} {self.text[gap:]}" if 0 < gap < len(self.text) else self.text


def normalise(raw: str) -> str:
    """Upper case, letters and digits only."""
    return re.sub(r"[^A-Z0-9]", "", raw.upper())


def gaps(raw: str) -> frozenset[int]:
    """Where the raw text has a space (or other separator): indices into the normalised text."""
    out: set[int] = set()
    count = 0
    for ch in raw.upper():
        if re.match(r"[A-Z0-9]", ch):
            count += 1
        elif count:
            out.add(count)
    return frozenset(i for i in out if i < len(normalise(raw)))


def _digits_ok(digits: str) -> bool:
    """A serial number: 1-9999, never written with a leading zero."""
    return bool(digits) and digits[0] != "0"


def _current_ok(t: str, on: date) -> bool:
    return (
        t[0] in _REGION_LETTERS
        and t[1] not in _NOT_IN_MEMORY_TAG
        and t[2:4] in issued_age_identifiers(on)
        and not set(t[4:]) & _NOT_IN_RANDOM_LETTERS
    )


def _prefix_ok(t: str, on: date) -> bool:  # A123 BCD: year letter, serial, serial letter + area
    return (
        t[0] in _YEAR_LETTERS and _digits_ok(t[1:-3]) and "Q" not in t[-3:] and not set(t[-2:]) & _NI_LETTERS
    )


def _suffix_ok(t: str, on: date) -> bool:  # ABC 123D: serial letter + area, serial, year letter
    return (
        t[-1] in _YEAR_LETTERS and _digits_ok(t[3:-1]) and "Q" not in t[:3] and not set(t[1:3]) & _NI_LETTERS
    )


def _ni_ok(t: str, on: date) -> bool:  # ABZ 1234 / IA 123: the area code holds an I or a Z
    letters = t.rstrip("0123456789")
    return bool(set(letters[-2:]) & _NI_LETTERS) and "Q" not in letters and _digits_ok(t[len(letters) :])


def _dateless_ok(t: str, on: date) -> bool:  # 1-3 letters and 1-4 digits, either way round
    digits = re.sub(r"[A-Z]", "", t)
    return "Q" not in t and _digits_ok(digits)


@dataclass(frozen=True, slots=True)
class _Format:
    name: str
    templates: tuple[str, ...]  # L = letter, D = digit
    max_fixes: int  # the looser a format, the fewer changed characters make a believable fit
    plausible: Callable[[str, date], bool]

    def gap(self, text: str) -> int:
        """Where the conventional space goes: after four characters (current), before the last
        three (prefix), after three (suffix), between the letters and the digits (the others)."""
        if self.name == "current":
            return 4
        if self.name == "prefix":
            return len(text) - 3
        if self.name == "suffix":
            return 3
        m = re.match(r"[A-Z]+|[0-9]+", text)
        return m.end() if m else 0


_FORMATS: dict[str, _Format] = {
    f.name: f
    for f in (
        _Format("current", ("LLDDLLL",), 3, _current_ok),
        _Format("prefix", tuple("L" + "D" * d + "LLL" for d in (1, 2, 3)), 2, _prefix_ok),
        _Format("suffix", tuple("LLL" + "D" * d + "L" for d in (1, 2, 3)), 2, _suffix_ok),
        _Format("northern_ireland", tuple("L" * a + "D" * d for a in (2, 3) for d in range(1, 5)), 1, _ni_ok),
        _Format(
            "dateless",
            tuple("L" * a + "D" * d for a in (1, 2, 3) for d in range(1, 5))
            + tuple("D" * d + "L" * a for a in (1, 2, 3) for d in range(1, 5)),
            0,
            _dateless_ok,
        ),
    )
}
# Most specific first: the order a tie in the other preferences is settled by.
_SPECIFICITY = {name: rank for rank, name in enumerate(reversed(list(_FORMATS)))}


def _fit(text: str, template: str) -> tuple[str, tuple[Correction, ...]] | None:
    out: list[str] = []
    corrections: list[Correction] = []
    for i, (ch, want) in enumerate(zip(text, template, strict=True)):
        is_right_kind = ch.isalpha() if want == "L" else ch.isdigit()
        if is_right_kind:
            out.append(ch)
            continue
        mend = (_TO_LETTER if want == "L" else _TO_DIGIT).get(ch)
        if mend is None:
            return None
        out.append(mend)
        corrections.append(Correction(i, ch, mend))
    return "".join(out), tuple(corrections)


def check_uk_plate(raw: str, *, on: date | None = None) -> UKPlate:
    """Decide which UK registration an OCR read ``raw`` is (see the module docstring).

    Parameters
    ----------
    raw:
        The OCR text, spaces as read ("OU08 00B"); lines of a two-line plate joined top line first.
    on:
        The day the plate was seen (UTC today by default): no age identifier issued later fits.

    Returns
    -------
    UKPlate
        The fitted registration with its format and corrections, or the normalised read with
        ``format=None`` (unverified) when no format fits plausibly.
    """
    text = normalise(raw)
    if not plate_like(text):
        return UKPlate(text, None)
    seen = on or datetime.now(UTC).date()
    spaces = gaps(raw)
    best: tuple[tuple[int, int, int, int], UKPlate] | None = None
    for fmt in _FORMATS.values():
        for template in fmt.templates:
            if len(template) != len(text):
                continue
            fitted = _fit(text, template)
            if fitted is None or len(fitted[1]) > fmt.max_fixes or not fmt.plausible(fitted[0], seen):
                continue
            plate = UKPlate(fitted[0], fmt.name, fitted[1])
            gap = fmt.gap(plate.text)
            # 1: the raw space is where this format puts it; -1: the raw text has one clear space,
            # somewhere else; 0: no spacing to go by
            spacing = 1 if gap in spaces else (-1 if len(spaces) == 1 else 0)
            key = (spacing, int(not plate.corrections), _SPECIFICITY[fmt.name], -plate.fixes)
            if best is None or key > best[0]:
                best = (key, plate)
    return best[1] if best is not None else UKPlate(text, None)


def plate_like(text: str) -> bool:
    """Worth considering as a plate: 2-8 characters with at least one letter and one digit."""
    return 2 <= len(text) <= 8 and any(c.isalpha() for c in text) and any(c.isdigit() for c in text)
