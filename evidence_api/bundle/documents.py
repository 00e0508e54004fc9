"""The human-readable part of a bundle: exhibit list and draft s.9 statement, as HTML and PDF.

Both are rendered from the manifest itself (the same dict that is signed), so what a person reads
cannot drift from what the verifier checks.  PDFs use fpdf2's core fonts (no font files, no network);
core fonts are Latin-1, so other characters are transliterated or replaced with '?'.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from evidence_api.bundle.spec import Producer
from evidence_api.bundle.verify import format_fingerprint

logger = logging.getLogger(__name__)

DRAFT_NOTICE = "DRAFT - for the producing officer to check, complete and sign"
S9_DECLARATION = (
    "This statement (consisting of {pages} page(s) each signed by me) is true to the best of my knowledge "
    "and belief and I make it knowing that, if it is tendered in evidence, I shall be liable to prosecution "
    "if I have wilfully stated in it anything which I know to be false, or do not believe to be true."
)


@dataclass(frozen=True, slots=True)
class StillImage:
    """A still to print: the master's own JPEG bytes, embedded as they are (no re-encoding)."""

    jpeg: bytes
    width: int
    height: int


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_ENV.filters["fp"] = format_fingerprint

_STYLE = """
body{font-family:Georgia,serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #bbb;padding:.3em;vertical-align:top;text-align:left}
code{font-size:.8em;word-break:break-all} .draft{color:#a00;font-weight:bold}
figure{margin:0} img{max-width:22em;height:auto;border:1px solid #888}
"""

EXHIBIT_LIST_HTML = _ENV.from_string(
    """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Exhibit list {{ case.reference }}</title>
<style>{{ style }}</style></head><body>
<h1>Exhibit list &mdash; case {{ case.reference }}</h1>
<p>{{ case.title }}. Offence: {{ case.offence }}. Officer in the case: {{ case.officer_name }}.</p>
<p>Exported {{ exported_at_local }} ({{ exported_at }}) by {{ exported_by }}. Bundle {{ bundle_id }}.
Signed with key {{ signing.key_id }}, fingerprint <code>{{ signing.fingerprint | fp }}</code>.
Audit chain head <code>{{ continuity.head_hash }}</code>.</p>
<table><thead><tr><th>Exhibit</th><th>Still / clip</th><th>Details</th></tr></thead><tbody>
{% for ex in exhibits %}<tr id="{{ ex.slug }}">
<td><b>{{ ex.reference }}</b><br>{{ ex.description }}</td>
<td>{% if ex.media_type == "image/jpeg" %}<figure>
<img src="../{{ ex.master }}" alt="exhibit {{ ex.reference }}"></figure>{% else %}
<a href="../{{ ex.master }}">video clip ({{ ex.size }} bytes)</a>{% endif %}</td>
<td>Captured {{ ex.captured_at_local }} (UTC {{ ex.captured_at_utc }}), clock: {{ ex.clock_source }}<br>
Site {{ ex.site_name }} ({{ ex.site_id }}), camera {{ ex.camera_id }}<br>
Master <code>{{ ex.master }}</code>, {{ ex.size }} bytes, {{ ex.media_type }}<br>
SHA-256 <code>{{ ex.sha256 }}</code><br>
Detector {{ ex.model_name }} <code>{{ ex.model_sha256 }}</code>, rules {{ ex.rule_version }}<br>
Authority: {{ ex.authority }}<br>
Working copies (not evidence of the original):
{% for wc in ex.working_copies %}<a href="../{{ wc.path }}">{{ wc.label }}</a>
{%- if not loop.last %}, {% endif %}
{% else %}none{% endfor %}
<br>Continuity: {% for s in ex.custody %}{{ s.stage }} {{ s.at }} ({{ s.actor }}, audit #{{ s.audit_seq }})
{%- if not loop.last %}; {% endif %}{% endfor %}</td></tr>
{% endfor %}</tbody></table>
{% if excluded %}<h2>Material left out</h2><ul>
{% for x in excluded %}<li>Event {{ x.event_id }} {{ x.role }} captured {{ x.captured_at_utc }}:
{{ x.reason }} (SHA-256 <code>{{ x.sha256 }}</code>)</li>{% endfor %}</ul>{% endif %}
</body></html>
"""
)

STATEMENT_HTML = _ENV.from_string(
    """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Draft s.9 statement {{ case.reference }}</title>
<style>{{ style }}</style></head><body>
<p class="draft">{{ draft_notice }}</p>
<h1>Witness statement</h1>
<p>Criminal Justice Act 1967, s.9; Magistrates' Courts Act 1980, s.5B; Criminal Procedure Rules, r.16.2</p>
<table><tr><th>Statement of</th><td>{{ producer.name }}</td></tr>
<tr><th>Age if under 18</th><td>Over 18</td></tr>
<tr><th>Occupation</th><td>{{ producer.role }}, {{ producer.organisation }}</td></tr></table>
<p>{{ declaration }}</p>
<p>Signature: ............................................ Date: ....................</p>
{% for p in paragraphs %}<p>{{ p }}</p>
{% endfor %}
<table><thead><tr><th>Exhibit</th><th>Captured (UK time)</th><th>SHA-256</th></tr></thead><tbody>
{% for ex in exhibits %}<tr><td>{{ ex.reference }}</td><td>{{ ex.captured_at_local }}</td>
<td><code>{{ ex.sha256 }}</code></td></tr>{% endfor %}</tbody></table>
<p>Signature: ............................................ Signature witnessed by: ....................</p>
</body></html>
"""
)


def _local(manifest: Mapping[str, Any], key: str) -> str:
    return str(manifest.get(key + "_local", manifest.get(key, "")))


def statement_paragraphs(manifest: Mapping[str, Any], producer: Producer) -> list[str]:
    case = manifest["case"]
    exhibits = manifest["exhibits"]
    models = sorted({f"{ex['model_name']} (SHA-256 {ex['model_sha256']})" for ex in exhibits})
    rules = sorted({ex["rule_version"] for ex in exhibits})
    sites = sorted({f"{ex['site_name']} ({ex['site_id']}) camera {ex['camera_id']}" for ex in exhibits})
    if len(exhibits) > 3:
        refs = f"{exhibits[0]['reference']} to {exhibits[-1]['reference']}, {len(exhibits)} exhibits"
    else:
        refs = ", ".join(ex["reference"] for ex in exhibits) or "none"
    first = exhibits[0]["captured_at_local"] if exhibits else "-"
    last = exhibits[-1]["captured_at_local"] if exhibits else "-"
    signing = manifest["signing"]
    return [
        f"I am {producer.name}, {producer.role} at {producer.organisation}. I produce the exhibits listed "
        f"below ({refs}) in case {case['reference']} ({case['title']}), recorded between {first} and {last} "
        f"at {'; '.join(sites) or 'no site'}.",
        f"The system. {producer.system_description} The detections were made by {'; '.join(models) or '-'} "
        f"under rule version(s) {', '.join(rules) or '-'}. Each still and clip was hashed with SHA-256 on "
        "the camera's edge box when it was captured; the same hash was recomputed when the file was "
        "received and again when this bundle was made, and they agree.",
        f"Clock. {producer.clock_statement} Capture times are recorded in UTC and shown here in UK local "
        "time (GMT or BST as applicable).",
        f"Masters. {producer.storage_statement} The exhibits in this bundle are copies of those masters, "
        "byte for byte; any annotated, cropped or blurred copy is labelled as a working copy.",
        f"Continuity. Every step of each exhibit's handling is recorded in a hash-chained audit log; the "
        f"extract in this bundle ends at entry {manifest['continuity']['head_seq']} with hash "
        f"{manifest['continuity']['head_hash']}.",
        f"Integrity. The bundle's manifest was signed on {_local(manifest, 'exported_at')} with the "
        f"council's Ed25519 key {signing['key_id']}, "
        f"fingerprint {format_fingerprint(signing['fingerprint'])}. "
        "Anyone can check the bundle offline with `tipwatch bundle verify`.",
    ]


def _template_context(manifest: Mapping[str, Any], producer: Producer) -> dict[str, Any]:
    return {
        "style": _STYLE,
        "case": manifest["case"],
        "exported_at": manifest["exported_at"],
        "exported_at_local": _local(manifest, "exported_at"),
        "exported_by": manifest["exported_by"],
        "bundle_id": manifest["bundle_id"],
        "signing": manifest["signing"],
        "continuity": manifest["continuity"],
        "exhibits": manifest["exhibits"],
        "excluded": manifest["excluded_exhibits"],
        "producer": producer,
        "draft_notice": DRAFT_NOTICE,
        "declaration": S9_DECLARATION.format(pages="..."),
        "paragraphs": statement_paragraphs(manifest, producer),
    }


def exhibit_list_html(manifest: Mapping[str, Any], producer: Producer) -> bytes:
    return EXHIBIT_LIST_HTML.render(_template_context(manifest, producer)).encode("utf-8")


def statement_html(manifest: Mapping[str, Any], producer: Producer) -> bytes:
    return STATEMENT_HTML.render(_template_context(manifest, producer)).encode("utf-8")


# -- PDF -------------------------------------------------------------------------------------------
_TRANSLITERATE = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"'})


def latin1(text: object) -> str:
    """Core PDF fonts are Latin-1: transliterate common punctuation, strip accents, '?' for the rest."""
    s = str(text)
    if s.isascii():
        return s
    s = s.translate(_TRANSLITERATE).replace("\u201d", '"')
    out = []
    for ch in s:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


class _Document(FPDF):
    def __init__(self, header_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._header_text = latin1(header_text)
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 5, self._header_text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")

    def para(self, text: str, size: float = 10, style: str = "") -> None:
        """A paragraph at the left margin, with page breaks (fpdf2's multi_cell is slow on long text)."""
        self.set_font("Helvetica", style, size)
        step = size * 0.42
        width = self.w - self.r_margin - self.l_margin
        y = self.get_y()
        for raw_line in latin1(text).split("\n"):
            for line in self._wrap(raw_line, width):
                if y + step > self.page_break_trigger:
                    self.add_page()
                    y = self.get_y()
                y += step
                self.text(self.l_margin, y, line)
        self.set_xy(self.l_margin, y + step * 0.5 + 1.5)

    def text_block(self, x: float, y: float, lines: list[str], size: float, style: str = "") -> float:
        """Lines of text placed directly (fpdf2's ``text``: fast, no cell machinery); long lines are
        word-wrapped to the right margin.  Returns the y below the block."""
        self.set_font("Helvetica", style, size)
        step = size * 0.42
        width = self.w - self.r_margin - x
        for raw in lines:
            for line in self._wrap(latin1(raw), width):
                y += step
                self.text(x, y, line)
        return y + step * 0.5

    def _width(self, text: str) -> float:
        # core fonts: the width table is per character in 1/1000 em; cheaper than get_string_width
        widths: Mapping[str, float] = getattr(self.current_font, "cw", {})
        try:
            units = sum(map(widths.__getitem__, text))
        except KeyError:
            units = sum(widths.get(c, 600.0) for c in text)
        return units * self.font_size_pt / 1000 / self.k

    def _wrap(self, text: str, width: float) -> list[str]:
        if self._width(text) <= width:
            return [text]
        out: list[str] = []
        current = ""
        for word in text.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and self._width(candidate) > width:
                out.append(current)
                current = word
            else:
                current = candidate
        out.append(current)
        return out

    def output_bytes(self) -> bytes:
        data = bytes(self.output())
        # fpdf2's document graph holds reference cycles, so it is freed only by a full GC pass; drop the
        # embedded stills and page contents now, or memory would grow with the number of exhibits
        self.image_cache.images.clear()
        self.pages.clear()
        return data


def exhibit_list_pdf(
    manifest: Mapping[str, Any], producer: Producer, stills: Mapping[str, StillImage]
) -> bytes:
    case = manifest["case"]
    pdf = _Document(f"Exhibit list - case {case['reference']} - bundle {manifest['bundle_id']}")
    pdf.add_page()
    pdf.para(f"Exhibit list - case {case['reference']}", 16, "B")
    pdf.para(f"{case['title']}. Offence: {case['offence']}. Officer in the case: {case['officer_name']}.")
    signing = manifest["signing"]
    pdf.para(
        f"Exported {_local(manifest, 'exported_at')} by {manifest['exported_by']}. Signing key "
        f"{signing['key_id']}, fingerprint {format_fingerprint(signing['fingerprint'])}. Audit chain head "
        f"{manifest['continuity']['head_hash']}.",
        9,
    )
    thumb_w = 60.0
    for ex in manifest["exhibits"]:
        still = stills.get(ex["reference"])
        thumb_h = thumb_w * still.height / still.width if still else 0.0
        if pdf.get_y() + max(thumb_h, 45) > pdf.h - 20:
            pdf.add_page()
        top = pdf.get_y()
        pdf.set_draw_color(150, 150, 150)
        pdf.line(pdf.l_margin, top, pdf.w - pdf.r_margin, top)
        top += 2
        if still:
            pdf.image(io.BytesIO(still.jpeg), x=pdf.l_margin, y=top, w=thumb_w, h=thumb_h)
        text_x = pdf.l_margin + (thumb_w + 4 if still else 0)
        y = pdf.text_block(text_x, top, [f"{ex['reference']}  {ex['description']}"], 10, "B")
        local = ex["captured_at_local"].split(" (")[0]
        y = pdf.text_block(
            text_x,
            y,
            [
                f"Captured {local}   (UTC {ex['captured_at_utc']}, clock: {ex['clock_source']})",
                f"Site {ex['site_name']} ({ex['site_id']}), camera {ex['camera_id']}",
                f"{ex['media_type']}, {ex['size']} bytes: {ex['master']}",
                f"SHA-256 {ex['sha256']}",
                f"Detector {ex['model_name']}, rules {ex['rule_version']}",
                f"Authority: {ex['authority']}",
                "Working copies: " + (", ".join(wc["label"] for wc in ex["working_copies"]) or "none"),
            ],
            7,
        )
        pdf.set_xy(pdf.l_margin, max(y, top + thumb_h) + 2)
    if manifest["excluded_exhibits"]:
        pdf.para("Material left out", 12, "B")
        for x in manifest["excluded_exhibits"]:
            pdf.para(f"Event {x['event_id']} {x['role']} captured {x['captured_at_utc']}: {x['reason']}", 8)
    return pdf.output_bytes()


def statement_pdf(manifest: Mapping[str, Any], producer: Producer) -> bytes:
    """Laid out twice: the declaration states the page count, known only after the first layout."""
    pages = _statement_document(manifest, producer, "...").page_no()
    return _statement_document(manifest, producer, str(pages)).output_bytes()


def _statement_document(manifest: Mapping[str, Any], producer: Producer, pages: str) -> _Document:
    case = manifest["case"]
    pdf = _Document(f"Draft witness statement (s.9 CJA 1967) - case {case['reference']}")
    pdf.add_page()
    pdf.para(DRAFT_NOTICE, 10, "B")
    pdf.para("WITNESS STATEMENT", 16, "B")
    pdf.para(
        "Criminal Justice Act 1967, s.9; Magistrates' Courts Act 1980, s.5B; "
        "Criminal Procedure Rules, r.16.2",
        8,
    )
    pdf.para(
        f"Statement of: {producer.name}\nAge if under 18: Over 18\n"
        f"Occupation: {producer.role}, {producer.organisation}"
    )
    pdf.para(S9_DECLARATION.format(pages=pages), 9, "I")
    pdf.para("Signature: ............................................   Date: ....................")
    for paragraph in statement_paragraphs(manifest, producer):
        pdf.para(paragraph)
    pdf.para("Exhibits produced", 11, "B")
    for ex in manifest["exhibits"]:
        if pdf.get_y() > pdf.h - 25:
            pdf.add_page()
        local = ex["captured_at_local"].split(" (")[0]
        y = pdf.text_block(
            pdf.l_margin, pdf.get_y(), [f"{ex['reference']}  {local}  SHA-256 {ex['sha256']}"], 7
        )
        pdf.set_y(y)
    pdf.ln(4)
    pdf.para("Signature: ............................................   Signature witnessed by: ..........")
    return pdf
