"""A small PDF writer for the bundle's documents: Helvetica text, rules and embedded JPEGs on A4 pages.

The exhibit list of a 1,000-still case is dozens of pages; a general-purpose layout library spent most of
an export's time building and serialising its object graph.  This writer does only what the documents
need, in one pass: text is placed line by line (word-wrapped with the core-font metrics), JPEGs are
embedded as they are (``DCTDecode``, no re-encoding), page streams are deflated, and the output is
deterministic (the creation date is the export time, the file id is derived from the content).

Coordinates are millimetres from the top-left corner of the page, like a ruler on paper; text ``y`` is
the baseline.  Core fonts are WinAnsi (Latin-1 here); :func:`latin1` makes any text safe for them.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import unicodedata
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fpdf.fonts import CORE_FONTS_CHARWIDTHS  # Adobe's Helvetica metrics (widths in 1/1000 em)

PT_PER_MM = 72 / 25.4
A4_MM = (210.0, 297.0)
LINE_FACTOR = 0.42  # line step in mm per point of font size (about 1.2 line spacing)

FONTS = {"": ("F1", "Helvetica"), "B": ("F2", "Helvetica-Bold"), "I": ("F3", "Helvetica-Oblique")}
_WIDTHS: dict[str, Mapping[str, int]] = {
    "": CORE_FONTS_CHARWIDTHS["helvetica"],
    "B": CORE_FONTS_CHARWIDTHS["helveticaB"],
    "I": CORE_FONTS_CHARWIDTHS["helveticaI"],
}
_TRANSLITERATE = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\t": " "}
)
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_COLOUR_SPACES = {1: "/DeviceGray", 3: "/DeviceRGB"}


class PdfError(ValueError):
    """Something cannot be put into the PDF (for example a JPEG without a readable frame header)."""


def latin1(text: object) -> str:
    """Core PDF fonts are Latin-1: transliterate common punctuation, strip accents, '?' for the rest."""
    s = str(text)
    if s.isascii() and s.isprintable():
        return s
    out = []
    for ch in s.translate(_TRANSLITERATE):
        if not ch.isprintable():
            out.append("?")
            continue
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


@functools.lru_cache(maxsize=8192)  # an exhibit list repeats many lines (site, detector, authority)
def _units(text: str, style: str) -> int:
    widths = _WIDTHS[style]
    try:
        return sum(map(widths.__getitem__, text))
    except KeyError:
        return sum(widths.get(c, 600) for c in text)


def string_width(text: str, size: float, style: str = "") -> float:
    """The printed width of ``text`` in mm (core-font metrics)."""
    return _units(text, style) * size / 1000 / PT_PER_MM


@functools.lru_cache(maxsize=4096)
def wrap(text: str, width: float, size: float, style: str = "") -> tuple[str, ...]:
    """Word-wrap one line of text to ``width`` mm; a single over-long word is broken by characters."""
    if string_width(text, size, style) <= width:
        return (text,)
    out: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if string_width(candidate, size, style) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
        while string_width(current, size, style) > width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and string_width(current[:cut], size, style) > width:
                cut -= 1
            out.append(current[:cut])
            current = current[cut:]
    out.append(current)
    return tuple(out)


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


@dataclass(frozen=True, slots=True)
class Jpeg:
    """JPEG bytes with the frame geometry a PDF image needs (read from the header, not decoded)."""

    data: bytes
    width: int
    height: int
    components: int

    @classmethod
    def from_bytes(cls, data: bytes) -> Jpeg:
        if data[:2] != b"\xff\xd8":
            raise PdfError("not a JPEG (no SOI marker)")
        pos = 2
        while pos + 4 <= len(data):
            if data[pos] != 0xFF:
                raise PdfError(f"the JPEG header is damaged at byte {pos}")
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            (length,) = struct.unpack_from(">H", data, pos + 2)
            if marker in _SOF_MARKERS and pos + 10 <= len(data):
                height, width, components = struct.unpack_from(">HHB", data, pos + 5)
                if width == 0 or height == 0:
                    raise PdfError("the JPEG declares a zero-sized frame")
                if components not in _COLOUR_SPACES:
                    raise PdfError(f"a JPEG with {components} colour components cannot be printed")
                return cls(data, width, height, components)
            if marker == 0xDA:  # start of scan before any frame header
                break
            pos += 2 + length
        raise PdfError("the JPEG has no frame header")


def _coalesce(parts: list[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """Join the many small pieces of a PDF into writes of about ``size`` bytes (each write into the zip
    is a hash update, a CRC and a system call, so thousands of tiny ones cost more than the copying)."""
    pending: list[bytes] = []
    length = 0
    for part in parts:
        pending.append(part)
        length += len(part)
        if length >= size:
            yield b"".join(pending)
            pending, length = [], 0
    if pending:
        yield b"".join(pending)


@dataclass(slots=True)
class _Page:
    ops: list[bytes] = field(default_factory=list)
    images: list[int] = field(default_factory=list)  # indexes into the document's image list


class PdfDocument:
    """Pages of text, rules and images; a running header and "Page n of N" footer on every page."""

    def __init__(self, *, title: str, header: str, created: datetime, margin: float = 15.0) -> None:
        self.title = latin1(title)
        self.header = latin1(header)
        self.created = created.astimezone(UTC)
        self.width, self.height = A4_MM
        self.margin = margin
        self.bottom = self.height - margin  # no text below this line: the footer lives there
        self.pages: list[_Page] = []
        self.images: list[Jpeg] = []
        self.y = margin

    # -- layout ------------------------------------------------------------------------------------
    @property
    def text_width(self) -> float:
        return self.width - 2 * self.margin

    def add_page(self) -> None:
        self.pages.append(_Page())
        self.y = self.margin + 7  # below the running header

    def ensure_space(self, height: float) -> None:
        """Start a new page unless ``height`` mm still fit above the bottom margin."""
        if not self.pages or self.y + height > self.bottom:
            self.add_page()

    def string_width(self, text: str, size: float, style: str = "") -> float:
        return string_width(text, size, style)

    def wrap(self, text: str, width: float, size: float, style: str = "") -> tuple[str, ...]:
        return wrap(text, width, size, style)

    def text(self, x: float, y: float, text: str, size: float, style: str = "") -> None:
        """One line of text with its baseline at ``y`` (no wrapping, no page break)."""
        self._page.ops.append(self._text_op(x, y, text, size, style))

    def _text_op(self, x: float, y: float, text: str, size: float, style: str) -> bytes:
        return b"BT /%s %.2f Tf %.2f %.2f Td %s Tj ET" % (
            FONTS[style][0].encode(),
            size,
            x * PT_PER_MM,
            (self.height - y) * PT_PER_MM,
            _pdf_string(latin1(text)),
        )

    def lines(self, x: float, y: float, lines: list[str], size: float, style: str = "") -> float:
        """Lines placed from ``y`` down, each word-wrapped to the right margin; returns the y below."""
        step = size * LINE_FACTOR
        width = self.width - self.margin - x
        wrapped = [line for raw in lines for line in self.wrap(latin1(raw), width, size, style)]
        # one text object: start a line above the first baseline; each ' moves down one leading and shows
        ops = [
            b"BT /%s %.2f Tf %.2f TL %.2f %.2f Td"
            % (FONTS[style][0].encode(), size, step * PT_PER_MM, x * PT_PER_MM, (self.height - y) * PT_PER_MM)
        ]
        ops.extend(_pdf_string(line) + b" '" for line in wrapped)
        ops.append(b"ET")
        self._page.ops.append(b"\n".join(ops))
        return y + step * (len(wrapped) + 0.5)

    def paragraph(self, text: str, size: float = 10, style: str = "") -> None:
        """Flowing text at the left margin from the current position, breaking pages as needed."""
        step = size * LINE_FACTOR
        for raw in str(text).split("\n"):
            for line in self.wrap(latin1(raw), self.text_width, size, style):
                self.ensure_space(step)
                self.y += step
                self.text(self.margin, self.y, line, size, style)
        self.y += step * 0.5 + 1.5

    def rule(self, y: float, grey: float = 0.6) -> None:
        """A thin horizontal line across the text width."""
        left, right = self.margin * PT_PER_MM, (self.width - self.margin) * PT_PER_MM
        at = (self.height - y) * PT_PER_MM
        self._page.ops.append(b"q %.2f G 0.3 w %.2f %.2f m %.2f %.2f l S Q" % (grey, left, at, right, at))

    def image(self, jpeg: Jpeg, x: float, y: float, w: float, h: float) -> None:
        """Embed ``jpeg`` as it is, scaled into the box whose top-left corner is (x, y)."""
        self.images.append(jpeg)
        page = self._page
        page.images.append(len(self.images) - 1)
        page.ops.append(
            b"q %.2f 0 0 %.2f %.2f %.2f cm /Im%d Do Q"
            % (
                w * PT_PER_MM,
                h * PT_PER_MM,
                x * PT_PER_MM,
                (self.height - y - h) * PT_PER_MM,
                len(self.images),
            )
        )

    @property
    def _page(self) -> _Page:
        if not self.pages:
            self.add_page()
        return self.pages[-1]

    # -- output ------------------------------------------------------------------------------------
    def output(self) -> bytes:
        """The finished file as one byte string."""
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        """The finished file in pieces, to be written out in order without joining them (the JPEGs are
        passed through, not copied): every page gets its header and footer, then objects, xref, trailer."""
        if not self.pages:
            self.add_page()
        out: list[bytes] = [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"]
        offsets: list[int] = []
        position = len(out[0])

        def put(body: bytes, stream: bytes | None = None) -> None:
            nonlocal position
            offsets.append(position)
            if stream is None:
                parts = [b"%d 0 obj\n" % len(offsets), body, b"\nendobj\n"]
            else:
                parts = [b"%d 0 obj\n" % len(offsets), body, b"\nstream\n", stream, b"\nendstream\nendobj\n"]
            out.extend(parts)
            position += sum(map(len, parts))

        # Fixed object numbers: 1 catalog, 2 page tree, 3-5 fonts, 6 info; then images, then pages.
        n_images, n_pages = len(self.images), len(self.pages)
        first_image = 7
        first_page = first_image + n_images
        page_refs = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(n_pages))
        put(b"<< /Type /Catalog /Pages 2 0 R >>")
        put(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (page_refs, n_pages))
        for _, base in FONTS.values():
            put(b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>" % base.encode())
        created = self.created.strftime("D:%Y%m%d%H%M%SZ").encode()
        put(
            b"<< /Title %s /Producer (Tipwatch) /CreationDate (%s) /ModDate (%s) >>"
            % (_pdf_string(self.title), created, created)
        )
        # the file identifier: from the title, date and page contents (which name the case and bundle)
        digest = hashlib.sha256(self.title.encode("latin-1") + created)
        for jpeg in self.images:
            put(
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>"
                % (jpeg.width, jpeg.height, _COLOUR_SPACES[jpeg.components].encode(), len(jpeg.data)),
                jpeg.data,
            )
        fonts = b" ".join(
            b"/%s %d 0 R" % (name.encode(), 3 + i) for i, (name, _) in enumerate(FONTS.values())
        )
        width_pt, height_pt = self.width * PT_PER_MM, self.height * PT_PER_MM
        for number, page in enumerate(self.pages, start=1):
            content = b"\n".join([*self._furniture(number, n_pages), *page.ops])
            digest.update(content)
            xobjects = b" ".join(b"/Im%d %d 0 R" % (i + 1, first_image + i) for i in page.images)
            put(
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R "
                b"/Resources << /Font << %s >> /XObject << %s >> >> >>"
                % (width_pt, height_pt, len(offsets) + 2, fonts, xobjects)
            )
            stream = zlib.compress(content, 1)  # text: level 1 is nearly as small, and several times faster
            put(b"<< /Filter /FlateDecode /Length %d >>" % len(stream), stream)
        file_id = digest.hexdigest()[:32].encode()
        xref = position
        out.append(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        out.append(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
        out.append(
            b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(offsets) + 1, file_id, file_id, xref)
        )
        return _coalesce(out)

    def _furniture(self, number: int, total: int) -> list[bytes]:
        """The running header and the centred "Page n of N" footer (N is known only at output)."""
        footer = f"Page {number} of {total}"
        return [
            self._text_op(self.margin, self.margin + 3, self.header, 8, "I"),
            self._text_op(
                (self.width - self.string_width(footer, 8, "I")) / 2, self.height - 7, footer, 8, "I"
            ),
        ]
