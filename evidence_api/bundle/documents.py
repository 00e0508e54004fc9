"""The human-readable part of a bundle: exhibit list and draft s.9 statement, as HTML and PDF.

Both are rendered from the manifest itself (the same records that are signed, typed in
:mod:`evidence_api.bundle.manifest`), so what a person reads cannot drift from what the verifier
checks.  PDFs are written by :mod:`evidence_api.bundle.pdf` with the core fonts (no font files, no
network); the stills in them are the reduced print copies, embedded as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jinja2
from markupsafe import Markup, escape

from evidence_api.bundle.manifest import ExhibitEntry, Manifest
from evidence_api.bundle.pdf import Jpeg, PdfDocument
from evidence_api.bundle.spec import Producer
from evidence_api.bundle.verify import format_fingerprint

logger = logging.getLogger(__name__)

DRAFT_NOTICE = "DRAFT - for the producing officer to check, complete and sign"
S9_DECLARATION = (
    "This statement (consisting of {pages} page(s) each signed by me) is true to the best of my knowledge "
    "and belief and I make it knowing that, if it is tendered in evidence, I shall be liable to prosecution "
    "if I have wilfully stated in it anything which I know to be false, or do not believe to be true."
)


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
{{ rows }}</tbody></table>
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


# What each clock source means, for a court: the statement says it per exhibit, not once for all.
CLOCK_SOURCES = {
    "stream": "timed by the camera's own clock as the video stream carries it (its RTCP reports, or a "
    "recording's timestamps counted from a known start)",
    "receive": "timed by the edge box's own clock when each frame arrived, which can be a second or two "
    "after the camera took it",
}


def _clock_by_exhibit(exhibits: list[Any]) -> str:
    by_source: dict[str, list[str]] = {}
    for ex in exhibits:
        by_source.setdefault(str(ex["clock_source"]), []).append(str(ex["reference"]))
    parts = [
        f"{', '.join(refs)} {'were' if len(refs) > 1 else 'was'} "
        f"{CLOCK_SOURCES.get(source, f'timed by a clock recorded as {source!r}')}"
        for source, refs in sorted(by_source.items())
    ]
    return ("; ".join(parts) + ".") if parts else ""


def statement_paragraphs(manifest: Manifest, producer: Producer) -> list[str]:
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
        f"Clock. {producer.clock_statement} {_clock_by_exhibit(exhibits)} Capture times are recorded in "
        "UTC and shown here in UK local time (GMT or BST as applicable).",
        f"Masters. {producer.storage_statement} The exhibits in this bundle are copies of those masters, "
        "byte for byte; any annotated, cropped or blurred copy is labelled as a working copy.",
        f"Continuity. Every step of each exhibit's handling is recorded in a hash-chained audit log; the "
        f"extract in this bundle ends at entry {manifest['continuity']['head_seq']} with hash "
        f"{manifest['continuity']['head_hash']}.",
        f"Integrity. The bundle's manifest was signed on {manifest['exported_at_local']} with the "
        f"council's Ed25519 key {signing['key_id']}, "
        f"fingerprint {format_fingerprint(signing['fingerprint'])}. "
        "Anyone can check the bundle offline with `tipwatch bundle verify`.",
    ]


def _template_context(manifest: Manifest, producer: Producer) -> dict[str, Any]:
    return {
        "style": _STYLE,
        "case": manifest["case"],
        "exported_at": manifest["exported_at"],
        "exported_at_local": manifest["exported_at_local"],
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


def exhibit_rows_html(exhibits: list[ExhibitEntry]) -> str:
    """The exhibit list's table rows for these exhibits (escaped HTML).  Plain formatting rather than a
    template: an export renders a row per exhibit, and this is several times faster."""
    return "".join(map(_exhibit_row, exhibits))


def _exhibit_row(ex: ExhibitEntry) -> str:
    e = {
        "slug": escape(ex["slug"]),
        "reference": escape(ex["reference"]),
        "description": escape(ex["description"]),
        "master": escape(ex["master"]),
        "size": escape(ex["size"]),
        "captured_at_local": escape(ex["captured_at_local"]),
        "captured_at_utc": escape(ex["captured_at_utc"]),
        "clock_source": escape(ex["clock_source"]),
        "site_name": escape(ex["site_name"]),
        "site_id": escape(ex["site_id"]),
        "camera_id": escape(ex["camera_id"]),
        "media_type": escape(ex["media_type"]),
        "sha256": escape(ex["sha256"]),
        "model_name": escape(ex["model_name"]),
        "model_sha256": escape(ex["model_sha256"]),
        "rule_version": escape(ex["rule_version"]),
        "authority": escape(ex["authority"]),
    }
    if ex["media_type"] == "image/jpeg":
        picture = f'<figure>\n<img src="../{e["master"]}" alt="exhibit {e["reference"]}"></figure>'
    else:
        picture = f'<a href="../{e["master"]}">video clip ({e["size"]} bytes)</a>'
    working = ", ".join(
        f'<a href="../{escape(w["path"])}">{escape(w["label"])}</a>' for w in ex["working_copies"]
    )
    custody = escape(
        "; ".join(f"{s['stage']} {s['at']} ({s['actor']}, audit #{s['audit_seq']})" for s in ex["custody"])
    )
    return f"""<tr id="{e["slug"]}">
<td><b>{e["reference"]}</b><br>{e["description"]}</td>
<td>{picture}</td>
<td>Captured {e["captured_at_local"]} (UTC {e["captured_at_utc"]}), clock: {e["clock_source"]}<br>
Site {e["site_name"]} ({e["site_id"]}), camera {e["camera_id"]}<br>
Master <code>{e["master"]}</code>, {e["size"]} bytes, {e["media_type"]}<br>
SHA-256 <code>{e["sha256"]}</code><br>
Detector {e["model_name"]} <code>{e["model_sha256"]}</code>, rules {e["rule_version"]}<br>
Authority: {e["authority"]}<br>
Working copies (not evidence of the original): {working or "none"}
<br>Continuity: {custody}</td></tr>
"""


def exhibit_list_html(manifest: Manifest, producer: Producer, rows: str | None = None) -> bytes:
    """The whole exhibit list page; ``rows`` are :func:`exhibit_rows_html` of every exhibit, if already
    rendered."""
    if rows is None:
        rows = exhibit_rows_html(manifest["exhibits"])
    context = _template_context(manifest, producer)
    safe_rows = Markup(rows)  # noqa: S704 - rows come from EXHIBIT_ROWS_HTML, which autoescapes
    return EXHIBIT_LIST_HTML.render(context, rows=safe_rows).encode("utf-8")


def statement_html(manifest: Manifest, producer: Producer) -> bytes:
    return STATEMENT_HTML.render(_template_context(manifest, producer)).encode("utf-8")


# -- PDF -------------------------------------------------------------------------------------------
THUMB_WIDTH = 60.0  # mm: a preview of ~380-640 px prints at 160-270 dpi


def exhibit_list_pdf(manifest: Manifest, producer: Producer, stills: Mapping[str, Jpeg]) -> PdfDocument:
    """One volume of the printed exhibit list, laid out (``.chunks()`` / ``.output()`` writes it);
    ``stills`` maps an exhibit reference to its print copy."""
    case = manifest["case"]
    pdf = PdfDocument(
        title=f"Exhibit list - case {case['reference']}",
        header=f"Exhibit list - case {case['reference']} - bundle {manifest['bundle_id']}",
        created=_created(manifest),
    )
    pdf.paragraph(f"Exhibit list - case {case['reference']}", 16, "B")
    pdf.paragraph(
        f"{case['title']}. Offence: {case['offence']}. Officer in the case: {case['officer_name']}."
    )
    signing = manifest["signing"]
    pdf.paragraph(
        f"Exported {manifest['exported_at_local']} by {manifest['exported_by']}. Signing key "
        f"{signing['key_id']}, fingerprint {format_fingerprint(signing['fingerprint'])}. Audit chain head "
        f"{manifest['continuity']['head_hash']}.",
        9,
    )
    for ex in manifest["exhibits"]:
        still = stills.get(ex["reference"])
        thumb_h = THUMB_WIDTH * still.height / still.width if still else 0.0
        pdf.ensure_space(max(thumb_h, 40) + 4)
        top = pdf.y
        pdf.rule(top)
        top += 2
        if still:
            pdf.image(still, pdf.margin, top, THUMB_WIDTH, thumb_h)
        text_x = pdf.margin + (THUMB_WIDTH + 4 if still else 0)
        y = pdf.lines(text_x, top, [f"{ex['reference']}  {ex['description']}"], 10, "B")
        local = ex["captured_at_local"].split(" (")[0]
        y = pdf.lines(
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
            ]
            + (["Printed from a reduced copy; the exhibit is the master named above."] if still else []),
            7,
        )
        pdf.y = max(y, top + thumb_h) + 2
    if manifest["excluded_exhibits"]:
        pdf.paragraph("Material left out", 12, "B")
        for x in manifest["excluded_exhibits"]:
            pdf.paragraph(
                f"Event {x['event_id']} {x['role']} captured {x['captured_at_utc']}: {x['reason']}", 8
            )
    return pdf


def _created(manifest: Manifest) -> datetime:
    return datetime.fromisoformat(manifest["exported_at"])


def statement_pdf(manifest: Manifest, producer: Producer) -> bytes:
    """Laid out twice: the declaration states the page count, known only after the first layout."""
    pages = len(_statement_document(manifest, producer, "...").pages)
    return _statement_document(manifest, producer, str(pages)).output()


def _statement_document(manifest: Manifest, producer: Producer, pages: str) -> PdfDocument:
    case = manifest["case"]
    pdf = PdfDocument(
        title=f"Draft witness statement - case {case['reference']}",
        header=f"Draft witness statement (s.9 CJA 1967) - case {case['reference']}",
        created=_created(manifest),
    )
    pdf.paragraph(DRAFT_NOTICE, 10, "B")
    pdf.paragraph("WITNESS STATEMENT", 16, "B")
    pdf.paragraph(
        "Criminal Justice Act 1967, s.9; Magistrates' Courts Act 1980, s.5B; "
        "Criminal Procedure Rules, r.16.2",
        8,
    )
    pdf.paragraph(
        f"Statement of: {producer.name}\nAge if under 18: Over 18\n"
        f"Occupation: {producer.role}, {producer.organisation}"
    )
    pdf.paragraph(S9_DECLARATION.format(pages=pages), 9, "I")
    pdf.paragraph("Signature: ............................................   Date: ....................")
    for paragraph in statement_paragraphs(manifest, producer):
        pdf.paragraph(paragraph)
    pdf.paragraph("Exhibits produced", 11, "B")
    for ex in manifest["exhibits"]:
        local = ex["captured_at_local"].split(" (")[0]
        pdf.paragraph(f"{ex['reference']}  {local}  SHA-256 {ex['sha256']}", 7)
    pdf.y += 4
    pdf.paragraph(
        "Signature: ............................................   Signature witnessed by: .........."
    )
    return pdf
