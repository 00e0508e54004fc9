"""The cases page (issue 11): every case, newest first, with its reference, status, sites, when it was
opened and how many events it holds, linked from every signed-in page's navigation."""

from __future__ import annotations

import re

from evidence_testutil import Api, event_body, upload
from web_testutil import sign_in, unscoped_table_headers


def test_the_cases_page_lists_every_case_with_its_sites_and_event_count(
    api: Api, media: dict[str, bytes]
) -> None:
    lay_by = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, lay_by, {"a": media["bus"]})
    lane = event_body({"after.jpg": ("after", media["zidane"])}, camera="cam-9", site="back-lane")
    api.tokens["cam-9 device"] = api.other_device_token  # cam-9 belongs to another edge box
    upload(api, lane, {"a": media["zidane"]}, token_role="cam-9 device")
    assert api.client.get("/review/cases", follow_redirects=False).headers["location"] == (
        "/login?next=%2Freview%2Fcases"
    )
    csrf = sign_in(api)
    assert api.client.get("/review/cases").text.count("No cases yet") == 1

    for event in (lay_by, lane):
        api.client.post(
            f"/review/events/{event['id']}/decision", data={"action": "confirm", "csrf_token": csrf}
        )
    first = api.client.post(
        f"/review/events/{lay_by['id']}/case", data={"title": "Sofa in the lay-by", "csrf_token": csrf}
    )
    first_id = str(first.url).rsplit("/", 1)[1]
    api.client.post(f"/review/events/{lane['id']}/case", data={"case_id": first_id, "csrf_token": csrf})
    third = event_body({"act.jpg": ("act", media["bus"])})
    upload(api, third, {"a": media["bus"]})
    api.client.post(f"/review/events/{third['id']}/decision", data={"action": "confirm", "csrf_token": csrf})
    api.client.post(f"/review/events/{third['id']}/case", data={"title": "Tyres", "csrf_token": csrf})

    page = api.client.get("/review/cases")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert '<a href="/review/cases">Cases</a>' in page.text
    assert unscoped_table_headers(page.text) == 0
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", page.text, re.S)
    assert len(rows) == 2
    newest, oldest = rows
    assert "Tyres" in newest and "Sofa in the lay-by" in oldest  # newest first
    assert f'href="/review/cases/{first_id}"' in oldest and "TW-" in oldest
    assert "<td>back-lane, lay-by-a123</td>" in oldest and "<td>lay-by-a123</td>" in newest
    assert oldest.rstrip().endswith("<td>2</td>") and newest.rstrip().endswith("<td>1</td>")
    assert ">open<" in oldest

    sign_in(api, "legal")  # every member of staff sees the cases
    assert "Sofa in the lay-by" in api.client.get("/review/cases").text
