"""Report a fly-tip (issue 11): a member of the public reports one with a photo and no sign-in; the
original is kept under its SHA-256 and the page shows a copy without its EXIF; it appears on the staff
page (contact details for officers and admins only); a robot filling the honeypot stores nothing; the
sixth report in an hour from one address is refused with Retry-After; a "photo" that is not a JPEG is
refused on the form and nothing is stored."""

from __future__ import annotations

import io
import re
from typing import Any

from evidence_testutil import Api, sha
from PIL import ExifTags, Image
from sqlalchemy import func, select
from web_testutil import sign_in, unlabelled_fields

from evidence_api.models import AuditEntry, Blob, PublicReport, PublicReportPhoto

# Parliament Square, London: 51° 30' 03.6" N, 0° 07' 35.4" W
GPS_IFD: dict[int, object] = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (51.0, 30.0, 3.6),
    ExifTags.GPS.GPSLongitudeRef: "W",
    ExifTags.GPS.GPSLongitude: (0.0, 7.0, 35.4),
}


def _with_gps(photo: bytes) -> bytes:
    """The photo re-saved with EXIF that holds a GPS position and the camera's make."""
    with Image.open(io.BytesIO(photo)) as image:
        exif = image.getexif()
        exif[ExifTags.Base.Make] = "Phone Maker"
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS_IFD)
        out = io.BytesIO()
        image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def _fields(**overrides: str) -> dict[str, str]:
    return {
        "location_description": "Lay-by on the A123 north of the roundabout",
        "description": "Six black bags and a mattress",
        "saw_who": "yes",
        "will_give_statement": "yes",
        "contact_name": "Pat Reporter",
        "contact_email": "pat@example.org",
        "contact_phone": "07700 900123",
        **overrides,
    }


def _send(api: Api, photos: list[bytes], **overrides: str) -> Any:
    files = [("photos", (f"photo{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos)]
    return api.client.post("/report", data=_fields(**overrides), files=files or None, follow_redirects=False)


def _count(api: Api, model: Any) -> int:
    with api.sessionmaker() as session:
        n: int = session.execute(select(func.count()).select_from(model)).scalar_one()
        return n


def test_a_public_report_with_a_photo_keeps_the_original_and_shows_a_copy_without_exif(
    api: Api, media: dict[str, bytes]
) -> None:
    form = api.client.get("/report")
    assert form.status_code == 200 and "Report a fly-tip" in form.text
    assert unlabelled_fields(form.text) == []
    photo = _with_gps(media["bus"])
    r = _send(api, [photo], location_description="")
    assert r.status_code == 303, r.text
    thanks = api.client.get(r.headers["location"])
    reference = re.search(r'<strong id="reference">(FT-[0-9A-F]{8})</strong>', thanks.text)
    assert reference, thanks.text
    with api.sessionmaker() as session:
        report = session.execute(select(PublicReport)).scalar_one()
        assert report.reference == reference.group(1)
        # no place typed: the position came from the photo's EXIF
        assert report.location_source == "photo"
        assert abs(report.latitude - 51.501) < 1e-6 and abs(report.longitude + 0.1265) < 1e-6
        (row,) = session.execute(select(PublicReportPhoto)).scalars()
        assert row.sha256 == sha(photo) and row.size == len(photo)
        assert session.get(Blob, sha(photo)) is not None
        store = api.client.app.state.store  # type: ignore[attr-defined]
        with store.open(row.sha256) as fh:
            assert fh.read() == photo  # the original, exactly as sent
        with store.open(row.display_sha256) as fh:
            shown = fh.read()
        audit = session.execute(
            select(AuditEntry).where(AuditEntry.action == "public_report.create")
        ).scalar_one()
        assert audit.actor == "public" and sha(photo) in audit.details
        for personal in ("Pat", "pat@example.org", "07700", "mattress"):
            assert personal not in audit.details
    assert shown != photo
    with Image.open(io.BytesIO(shown)) as image:
        assert image.format == "JPEG" and len(image.getexif()) == 0
    assert b"Exif" not in shown and b"Phone Maker" not in shown

    sign_in(api, "officer")
    page = api.client.get("/review/public-reports")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert reference.group(1) in page.text and "Six black bags" in page.text
    assert "pat@example.org" in page.text and "07700 900123" in page.text
    assert row.display_sha256 in page.text and row.sha256 in page.text
    img = api.client.get(f"/review/public-reports/photos/{row.display_sha256}")
    assert img.status_code == 200 and img.content == shown and img.headers["cache-control"] == "no-store"
    # the master (with the reporter's GPS) is not sent by this route
    assert api.client.get(f"/review/public-reports/photos/{row.sha256}").status_code == 404


def test_legal_sees_reports_without_contact_details_and_the_public_cannot_see_them(
    api: Api, media: dict[str, bytes]
) -> None:
    assert _send(api, [media["bus"]]).status_code == 303
    r = api.client.get("/review/public-reports", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    sign_in(api, "legal")
    page = api.client.get("/review/public-reports")
    assert page.status_code == 200 and "Six black bags" in page.text
    assert "pat@example.org" not in page.text and "Pat Reporter" not in page.text


def test_a_filled_honeypot_is_thanked_and_nothing_is_stored(api: Api, media: dict[str, bytes]) -> None:
    r = _send(api, [media["bus"]], website="http://spam.example")
    assert r.status_code == 303 and r.headers["location"].startswith("/report/thanks?ref=FT-")
    assert "reference" in api.client.get(r.headers["location"]).text
    assert _count(api, PublicReport) == 0 and _count(api, PublicReportPhoto) == 0
    store = api.client.app.state.store  # type: ignore[attr-defined]
    assert not store.exists(sha(media["bus"]))


def test_the_sixth_report_in_an_hour_from_one_address_is_refused(api: Api) -> None:
    for _ in range(5):
        assert _send(api, []).status_code == 303
    r = _send(api, [])
    assert r.status_code == 429
    assert "Too many reports" in r.text and "try again in" in r.text
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    assert _count(api, PublicReport) == 5


def test_a_photo_that_is_not_a_jpeg_is_refused_on_the_form_and_nothing_is_stored(api: Api) -> None:
    fake = b"GIF89a this is not a photo" * 10
    r = _send(api, [fake])
    assert r.status_code == 422
    assert 'role="alert"' in r.text and "photo 1 is not a JPEG photo" in r.text
    assert "Six black bags and a mattress" in r.text  # what was typed is kept
    assert _count(api, PublicReport) == 0 and _count(api, Blob) == 0
    store = api.client.app.state.store  # type: ignore[attr-defined]
    assert not store.exists(sha(fake))


def test_a_report_over_the_body_cap_is_refused_before_it_is_read(api: Api, media: dict[str, bytes]) -> None:
    cap = api.settings.max_public_report_bytes
    r = api.client.post(
        "/report", content=b"x" * (cap + 1), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert r.status_code == 413
    assert _count(api, PublicReport) == 0
