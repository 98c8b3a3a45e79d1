"""The review pages: list with filters, detail, claim, approve, edit, reject, roles."""

from __future__ import annotations

import re
from typing import Any

import httpx
from ui_support import Site, csrf_of


def _submit(site: Site, note: str) -> int:
    item = site.ws.reviews.submit(
        "model",
        "other",
        mode="after",
        reason=f"test {note}",
        input=[{"a": 1.0, "b": 2.0}],
        output=[{"prediction": 0}],
        version=2,
        score=0.4,
    )
    return int(item.id)


def _post(b: httpx.Client, item_id: int, verb: str, **data: Any) -> httpx.Response:
    page = b.get(f"/reviews/{item_id}")
    return b.post(f"/reviews/{item_id}/{verb}", data={"csrf_token": csrf_of(page.text), **data})


def test_list_filters_and_pages(site: Site, admin: httpx.Client) -> None:
    page = admin.get("/reviews", params={"subject": "clf", "size": 2})
    rows = re.findall(r'data-testid="review-row" data-review-id="(\d+)"', page.text)
    assert len(rows) == 2 and 'data-testid="pager-next"' in page.text
    nxt = re.search(r'data-testid="pager-next" href="([^"]+)"', page.text)
    assert nxt and "subject=clf" in nxt.group(1)
    second = admin.get(nxt.group(1).replace("&amp;", "&"))
    assert re.findall(r'data-testid="review-row" data-review-id="(\d+)"', second.text)
    none = admin.get("/reviews", params={"kind": "kb"})
    assert 'data-testid="review-row"' not in none.text
    assert admin.get("/reviews", params={"kind": "x"}).status_code == 422


def test_detail_escapes_and_shows_forms_by_role(site: Site) -> None:
    item_id = _submit(site, "roles")
    with site.login("reviewer") as b:
        page = b.get(f"/reviews/{item_id}").text
        for testid in ("review-input", "review-output", "claim-button", "approve-button"):
            assert f'data-testid="{testid}"' in page
        for testid in ("edit-output", "edit-button", "reject-comment", "reject-button"):
            assert f'data-testid="{testid}"' in page
    with site.login("auditor") as b:
        page = b.get(f"/reviews/{item_id}").text
        assert 'data-testid="claim-button"' not in page
        r = _post(b, item_id, "claim")
        assert r.status_code == 403 and "reviewer" in r.text and "Traceback" not in r.text
        detail = b.get("/reviews/1").text
        assert "<b>bold</b>" not in detail and "&lt;b&gt;bold&lt;/b&gt;" in detail
    assert site.ws.reviews.get(item_id).status == "open"


def test_claim_then_approve(site: Site) -> None:
    item_id = _submit(site, "approve")
    with site.login("reviewer") as b:
        r = _post(b, item_id, "claim")
        assert r.status_code == 303 and r.headers["location"] == f"/reviews/{item_id}"
        page = b.get(f"/reviews/{item_id}").text
        assert "You claimed review" in page and 'data-testid="release-button"' in page
        mine = b.get("/reviews", params={"mine": "1"}).text
        assert f'data-review-id="{item_id}"' in mine
        assert _post(b, item_id, "approve").status_code == 303
        done = b.get(f"/reviews/{item_id}").text
        assert 'data-testid="review-final"' in done and 'data-testid="approve-button"' not in done
    item = site.ws.reviews.get(item_id)
    assert item.status == "approved" and item.decided_by == "rex"


def test_edit_needs_valid_json(site: Site) -> None:
    item_id = _submit(site, "edit")
    with site.login("reviewer") as b:
        r = _post(b, item_id, "edit", output="{not json")
        assert r.status_code == 422 and "output" in r.text and "JSON" in r.text
        assert site.ws.reviews.get(item_id).status != "edited"
        r = _post(b, item_id, "edit", output='[{"prediction": 1}]', comment="was wrong")
        assert r.status_code == 303
    item = site.ws.reviews.get(item_id)
    assert item.status == "edited" and item.final_output == [{"prediction": 1}]
    assert item.comment == "was wrong"


def test_reject_with_comment_and_decisions_are_final(site: Site) -> None:
    item_id = _submit(site, "reject")
    with site.login("reviewer") as b:
        assert _post(b, item_id, "reject", comment="off-topic").status_code == 303
        again = _post(b, item_id, "approve")
        assert again.status_code == 409 and 'data-testid="error-message"' in again.text
        assert _post(b, item_id, "frobnicate").status_code == 422
    item = site.ws.reviews.get(item_id)
    assert item.status == "rejected" and item.comment == "off-topic"
