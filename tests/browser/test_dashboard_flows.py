"""What a person does in the dashboard, in a real browser: log in, decide reviews, roll back
an alias, read the audit log, and what bad sessions and forged forms get.

Every flow also checks the workspace itself (a fresh handle on the store), so a page that
only looks right does not pass.
"""

from __future__ import annotations

import json
import re
from typing import Any

from browser_support import Seeded, login
from playwright.sync_api import expect


def _alias(page: Any, alias: str = "production") -> Any:
    return page.locator(f"[data-testid=alias-row][data-alias={alias}]")


def test_login_with_a_token_then_the_overview(page: Any, seeded: Seeded) -> None:
    page.goto("/models")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmodels$"))
    page.get_by_test_id("login-token").fill("pl_not-a-real-token")
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_test_id("login-error")).to_contain_text("token")

    page.get_by_test_id("login-token").fill(seeded.admin_token)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/models$"))  # back where the user was going
    expect(page.get_by_test_id("current-user")).to_contain_text("admin")
    cookie = next(c for c in page.context.cookies() if c["name"] == "prodline_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert seeded.admin_token not in cookie["value"]  # the token stays on the server


def test_reviewer_claims_and_approves_an_item(page: Any, seeded: Seeded) -> None:
    item = seeded.review_ids[0]
    login(page, seeded.reviewer_token)
    page.goto("/reviews")
    row = page.locator(f"[data-testid=review-row][data-review-id='{item}']")
    expect(row).to_have_attribute("data-status", "open")
    row.get_by_role("link", name=str(item), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/reviews/{item}$"))
    expect(page.get_by_test_id("review-status")).to_have_text("open")
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("review-status")).to_have_text("claimed")
    expect(page.locator("main")).to_contain_text("claimed by reviewer")
    page.get_by_test_id("approve-button").click()
    expect(page.get_by_test_id("review-status")).to_have_text("approved")
    expect(page.get_by_test_id("claim-button")).to_have_count(0)  # decisions are final

    ws = seeded.ws()
    try:
        decided = ws.reviews.get(item)
        assert (decided.status, decided.decided_by) == ("approved", "reviewer")
        assert decided.final_output == decided.output
    finally:
        ws.close()


def test_reviewer_edits_an_item_output(page: Any, seeded: Seeded) -> None:
    item = seeded.review_ids[1]
    login(page, seeded.reviewer_token)
    page.goto(f"/reviews/{item}")
    corrected = [{"prediction": 0}]
    page.get_by_test_id("edit-output").fill("{not json")
    page.get_by_test_id("edit-button").click()  # bad JSON: said so, nothing decided
    expect(page.locator("main")).to_contain_text("JSON")
    page.goto(f"/reviews/{item}")
    expect(page.get_by_test_id("review-status")).to_have_text("open")
    page.get_by_test_id("edit-output").fill(json.dumps(corrected))
    page.locator("form[action$='/edit'] input[name=comment]").fill("label was wrong")
    page.get_by_test_id("edit-button").click()
    expect(page.get_by_test_id("review-status")).to_have_text("edited")
    expect(page.get_by_test_id("review-final")).to_contain_text('"prediction": 0')

    ws = seeded.ws()
    try:
        decided = ws.reviews.get(item)
        assert decided.status == "edited"
        assert decided.final_output == corrected
        assert decided.comment == "label was wrong"
    finally:
        ws.close()


def test_reviewer_rejects_an_item_with_a_reason(page: Any, seeded: Seeded) -> None:
    item = seeded.review_ids[2]
    login(page, seeded.reviewer_token)
    page.goto(f"/reviews/{item}")
    page.get_by_test_id("reject-comment").fill("input looks corrupted")
    page.get_by_test_id("reject-button").click()
    expect(page.get_by_test_id("review-status")).to_have_text("rejected")
    page.goto("/reviews?status=decided")
    expect(page.locator(f"[data-testid=review-row][data-review-id='{item}']")).to_have_attribute(
        "data-status", "rejected"
    )

    ws = seeded.ws()
    try:
        decided = ws.reviews.get(item)
        assert (decided.status, decided.final_output) == ("rejected", None)
        assert decided.comment == "input looks corrupted"
    finally:
        ws.close()


def test_forged_and_stale_forms_change_nothing(page: Any, seeded: Seeded) -> None:
    ws = seeded.ws()
    try:
        before = ws.audit.count(), ws.models.aliases("clf")
    finally:
        ws.close()
    login(page, seeded.admin_token)

    # A form on a page that is not the dashboard: the SameSite=Strict cookie stays home.
    page.goto("about:blank")
    page.set_content(
        f'<form method="post" action="{seeded.url}/models/clf/aliases/production/rollback">'
        '<input type="hidden" name="csrf_token" value="guess"><button id="go">go</button></form>'
    )
    page.click("#go")
    expect(page).to_have_url(re.compile(r"/login"))  # no session came with it
    expect(page.get_by_test_id("login-token")).to_be_visible()

    # The real form with its CSRF token altered: refused with 403 and a message. (The
    # login page the forged post landed on gave this browser a fresh anonymous session:
    # a cross-site post logs the dashboard out, and nothing more.)
    login(page, seeded.admin_token)
    page.goto("/models/clf")
    page.eval_on_selector_all(
        "input[name=csrf_token]", "els => els.forEach(e => e.value = 'stale')"
    )
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_response(re.compile(r"/rollback$")) as response:
        page.locator("[data-testid=rollback-button][data-alias=production]").click()
    assert response.value.status == 403
    expect(page.get_by_test_id("error-message")).to_contain_text("CSRF")

    ws = seeded.ws()
    try:
        assert (ws.audit.count(), ws.models.aliases("clf")) == before
    finally:
        ws.close()


def test_rollback_button_moves_the_alias_and_the_audit_page_shows_it(
    page: Any, seeded: Seeded
) -> None:
    login(page, seeded.admin_token)
    page.goto("/models/clf")
    expect(_alias(page)).to_have_attribute("data-version", "2")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("[data-testid=rollback-button][data-alias=production]").click()
    expect(_alias(page)).to_have_attribute("data-version", "1")

    ws = seeded.ws()
    try:
        assert ws.models.aliases("clf")["production"] == 1
        newest = ws.audit.events(limit=1, action="alias.rollback")[0]
        assert (newest.actor, newest.subject) == ("admin", "model:clf@production")
    finally:
        ws.close()

    page.goto("/audit")
    first = page.get_by_test_id("audit-row").first
    expect(first).to_contain_text("alias.rollback")
    expect(first).to_contain_text("admin")
    expect(first).to_contain_text("model:clf@production")
    page.goto("/audit?action=alias.rollback")
    expect(page.get_by_test_id("audit-row")).to_have_count(1)


def test_reviewer_sees_no_rollback_button(page: Any, seeded: Seeded) -> None:
    login(page, seeded.reviewer_token)
    page.goto("/models/clf")
    expect(_alias(page)).to_be_visible()
    expect(page.locator("[data-testid=rollback-button][data-alias=production]")).to_have_count(0)


def test_logout_then_back_lands_on_the_login_page(page: Any, seeded: Seeded) -> None:
    login(page, seeded.admin_token)
    page.goto("/models/clf")
    expect(_alias(page)).to_be_visible()
    page.get_by_test_id("logout-submit").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.go_back()  # the model page was no-store: the browser asks again, with no session
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_test_id("login-token")).to_be_visible()
    expect(_alias(page)).to_have_count(0)
