"""Login, sessions, CSRF and roles over a real uvicorn server (the control plane)."""

from __future__ import annotations

from ui_support import Site, csrf_of


def _alias(site: Site, name: str) -> int:
    return site.ws.models.aliases(name)["production"]


def test_pages_need_a_login(site: Site) -> None:
    with site.browser() as b:
        r = b.get("/models")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fmodels"
        page = b.get("/login")
        for testid in ("login-form", "login-token", "login-submit"):
            assert f'data-testid="{testid}"' in page.text


def test_login_sets_a_strict_httponly_session_cookie(site: Site) -> None:
    with site.browser() as b:
        page = b.get("/login?next=/audit")
        r = b.post(
            "/login",
            data={
                "token": site.tokens["auditor"],
                "csrf_token": csrf_of(page.text),
                "next": "/audit",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/audit"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("prodline_session=")
        for attr in ("HttpOnly", "SameSite=strict", "Path=/"):
            assert attr.lower() in cookie.lower()
        assert page.cookies["prodline_session"] != r.cookies["prodline_session"]  # new id
        home = b.get("/")
        assert home.status_code == 200 and "aud (auditor)" in home.text


def test_a_bad_token_shows_why(site: Site) -> None:
    with site.browser() as b:
        page = b.get("/login")
        r = b.post("/login", data={"token": "nope", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 401 and 'data-testid="login-error"' in r.text
        r = b.post("/login", data={"token": site.tokens["admin"]})  # no CSRF token
        assert r.status_code == 403


def test_login_redirects_only_to_local_paths(site: Site) -> None:
    with site.browser() as b:
        page = b.get("/login")
        r = b.post(
            "/login",
            data={
                "token": site.tokens["auditor"],
                "csrf_token": csrf_of(page.text),
                "next": "//evil.example/x",
            },
        )
        assert r.headers["location"] == "/"


def test_forged_cookie_goes_to_login_and_changes_nothing(site: Site) -> None:
    before = _alias(site, "other")
    with site.browser() as b:
        b.cookies.set("prodline_session", "forged-session-id")
        assert b.get("/models").status_code == 303
        r = b.post("/models/other/aliases/production/rollback", data={"csrf_token": "x"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert _alias(site, "other") == before


def test_csrf_is_checked_on_every_action(site: Site) -> None:
    before = _alias(site, "other")
    with site.login("ml-engineer") as b:
        for data in ({}, {"csrf_token": "wrong"}):
            r = b.post("/models/other/aliases/production/rollback", data=data)
            assert r.status_code == 403 and 'data-testid="error-message"' in r.text
            assert "CSRF" in r.text
    assert _alias(site, "other") == before


def test_logout_then_a_replayed_cookie_changes_nothing(site: Site) -> None:
    before = _alias(site, "other")
    with site.login("ml-engineer") as b:
        page = b.get("/models/other")
        token = csrf_of(page.text)
        cookie = b.cookies["prodline_session"]
        assert b.post("/logout", data={"csrf_token": token}).status_code == 303
    with site.browser() as replay:
        replay.cookies.set("prodline_session", cookie)
        assert replay.get("/models/other").status_code == 303
        r = replay.post("/models/other/aliases/production/rollback", data={"csrf_token": token})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert _alias(site, "other") == before


def test_rollback_for_allowed_roles_only(site: Site) -> None:
    with site.login("auditor") as b:
        page = b.get("/models/clf")
        assert page.status_code == 200 and 'data-testid="rollback-button"' not in page.text
        r = b.post(
            "/models/clf/aliases/production/rollback", data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 403
        assert "ml-engineer" in r.text and "Traceback" not in r.text
    assert _alias(site, "clf") == 2
    with site.login("ml-engineer") as b:
        page = b.get("/models/clf")
        assert 'data-testid="rollback-button" data-alias="production"' in page.text
        r = b.post(
            "/models/clf/aliases/production/rollback", data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 303 and r.headers["location"] == "/models/clf"
        shown = b.get("/models/clf")
        assert 'data-testid="flash"' in shown.text and "Rolled back clf@production" in shown.text
    assert _alias(site, "clf") == 1
    events = site.ws.audit.events(action="alias.rollback", limit=1)
    assert events and events[0].actor == "mia"


def test_an_oversized_form_is_refused(site: Site) -> None:
    before = _alias(site, "other")
    with site.login("ml-engineer") as b:
        token = csrf_of(b.get("/models/other").text)
        r = b.post(
            "/models/other/aliases/production/rollback",
            data={"csrf_token": token, "pad": "x" * 1_100_000},
        )
        assert r.status_code in (403, 413)
    assert _alias(site, "other") == before
