"""The bundle's PDF writer, read back as a viewer reads it (pypdf, strict parsing)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pypdf
import pytest
import ultralytics

from evidence_api.bundle.pdf import Jpeg, PdfDocument, PdfError, latin1

BUS = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
CREATED = datetime(2026, 7, 14, 21, 5, tzinfo=UTC)


def _doc() -> PdfDocument:
    return PdfDocument(title="Exhibit list - case FT/1", header="case FT/1 - bundle b-1", created=CREATED)


def _read(data: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(data), strict=True)


def test_text_pages_and_metadata_read_back() -> None:
    doc = _doc()
    for i in range(120):
        doc.paragraph(f"Paragraph {i}: SHA-256 {i:064d}", 9)
    reader = _read(doc.output())
    n = len(reader.pages)
    assert n > 1  # 120 paragraphs do not fit on one A4 page
    text = [page.extract_text() for page in reader.pages]
    for i, page in enumerate(text, start=1):
        assert f"Page {i} of {n}" in page and "case FT/1 - bundle b-1" in page
    assert "Paragraph 119: SHA-256 " + f"{119:064d}" in text[-1]
    assert reader.metadata is not None
    assert reader.metadata.title == "Exhibit list - case FT/1" and reader.metadata.producer == "Tipwatch"
    assert reader.metadata.creation_date == CREATED


def test_awkward_characters_are_escaped_or_transliterated() -> None:
    doc = _doc()
    doc.paragraph("Zoë’s van (rear) \\ door – “tipped” 東")
    text = _read(doc.output()).pages[0].extract_text()
    assert 'Zoë\'s van (rear) \\ door - "tipped" ?' in text
    assert latin1("line\tbreak\x07") == "line break?"


def test_long_text_is_wrapped_inside_the_margins() -> None:
    doc = _doc()
    token = "x" * 400
    lines = doc.wrap(f"start {token} end", doc.text_width, 10)
    assert len(lines) > 2 and "".join(lines).replace(" ", "") == f"start{token}end"
    assert all(doc.string_width(line, 10) <= doc.text_width for line in lines)


def test_a_jpeg_is_embedded_byte_for_byte() -> None:
    jpeg = Jpeg.from_bytes(BUS.read_bytes())
    assert (jpeg.width, jpeg.height, jpeg.components) == (810, 1080, 3)
    doc = _doc()
    doc.image(jpeg, doc.margin, 30, 60, 80)
    page = _read(doc.output()).pages[0]
    assert _image(page).get_data() == jpeg.data
    assert _xobject(page) == {"/Width": 810, "/Height": 1080, "/ColorSpace": "/DeviceRGB"}


def _image(page: pypdf.PageObject) -> pypdf.generic.StreamObject:
    # read from the image object itself, not decoded through PIL: ultralytics (imported by the bundle
    # fixtures) replaces PIL's Image.open with a version pypdf cannot call
    (xobject,) = page["/Resources"]["/XObject"].values()
    return xobject.get_object()


def _xobject(page: pypdf.PageObject) -> dict[str, object]:
    obj = _image(page)
    return {key: obj[key] for key in ("/Width", "/Height", "/ColorSpace")}


def test_a_greyscale_jpeg_prints_and_a_cmyk_one_is_refused_by_name() -> None:
    grey = cv2.imencode(".jpg", np.full((40, 60), 128, np.uint8))[1].tobytes()
    doc = _doc()
    doc.image(Jpeg.from_bytes(grey), doc.margin, 30, 30, 20)
    page = _read(doc.output()).pages[0]
    assert _xobject(page) == {"/Width": 60, "/Height": 40, "/ColorSpace": "/DeviceGray"}
    cmyk = bytearray(grey)
    sof = cmyk.index(b"\xff\xc0")
    cmyk[sof + 9] = 4  # the frame header's component count
    with pytest.raises(PdfError, match="4 colour components"):
        Jpeg.from_bytes(bytes(cmyk))
    with pytest.raises(PdfError, match="no SOI marker"):
        Jpeg.from_bytes(b"%PDF-1.4 not a jpeg")


def test_the_same_document_is_the_same_bytes() -> None:
    def render() -> bytes:
        doc = _doc()
        doc.paragraph("Exhibit SG/1")
        doc.image(Jpeg.from_bytes(BUS.read_bytes()), doc.margin, 40, 60, 80)
        return doc.output()

    assert render() == render()
    assert b"".join(_doc().chunks()) == _doc().output()
