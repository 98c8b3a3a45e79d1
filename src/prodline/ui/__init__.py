"""The dashboard: server-rendered pages over one workspace, mounted by the control plane.

``build_ui(ws, auth=True)`` returns a FastAPI ``APIRouter`` that the control-plane server
(``prodline server``) includes at ``/``. It serves its own CSS at ``/static/{name}``
(files in ``ui/static``; no CDN, the pages work offline); ``static_app()`` gives the same
files as a Starlette app for a server that prefers to mount them.

Pages: ``/`` overview, ``/models``, ``/models/{name}`` (versions with metrics, gate
status and evidence of the selected version, aliases with history, rollback),
``/datasets``, ``/datasets/{name}`` (schema, profile histograms, sensitivity),
``/lineage?node=KIND:NAME@REF`` (SVG graph; each node links to its own graph), ``/kbs``,
``/kbs/{name}``, ``/monitors``, ``/monitors/{name}`` (drift and performance over time),
``/reviews``, ``/reviews/{id}`` (claim, release, approve, edit, reject), ``/audit``
(filters, keyset pages, verify status), ``/login``, ``/logout``. Charts are inline SVG
drawn on the server (``ui/charts.py``).

Security. Templates autoescape. Logging in with an API token creates a server-side
session (random 32-byte id, kept in this process's memory with the token, a CSRF secret
and an 8-hour expiry); the browser holds only the id, in cookie ``prodline_session``
(HttpOnly, SameSite=Strict, Path=/), and gets a new id at login. Every form is a POST
carrying ``csrf_token``: a missing or wrong token is refused with 403 and nothing changes.
An unknown cookie (forged, expired, or replayed after logout) is sent to ``/login``
with a 303, also before any change. Each request acts as the session's user through
``ws.acting_as(token)`` (a view cached ≤ 30 s per token), so the workspace's own role
checks apply; a refused action renders its 403 message (no traceback), and buttons a
role may not use are not shown. With ``auth=False`` (loopback only, decided by the
server) there is no login: the server's workspace acts, and forms still carry CSRF.

Fast with 1,000 versions and 1,000,000 audit events: lists are paged (``page``,
``size`` ≤ 200); the audit log pages by keyset (``before=SEQ`` on the primary key) and
never counts or verifies the whole table on a page load. The audit page shows the last
full verification this server ran (button "Verify now", one at a time) and, on every
load, a bounded check that rehashes the newest 200 events and follows their links
(``prodline.ui.audit_view``): cheap enough for every load, and where tampering since the
last full run would show first.

Stable ``data-testid`` attributes for browser tests:

- layout: ``nav`` and ``nav-overview``, ``nav-models``, ``nav-datasets``, ``nav-lineage``,
  ``nav-kbs``, ``nav-monitors``, ``nav-reviews``, ``nav-audit``, ``nav-costs``; ``current-user``,
  ``logout-form``, ``logout-submit``; ``flash`` (a message after an action);
  ``error-message`` and ``error-status`` (error pages); ``pager-next``, ``pager-prev``.
- login: ``login-form``, ``login-token``, ``login-submit``, ``login-error``.
- overview: ``overview``, ``overview-models``, ``overview-alerts``, ``overview-events``,
  ``queue-health``.
- models: ``model-row`` (``data-model``); ``model-title``, ``version-row``
  (``data-version``), ``gate-status`` (``data-passed``), ``evidence-row``,
  ``alias-row`` (``data-alias``, ``data-version``), ``alias-history-row``,
  ``rollback-form`` and ``rollback-button`` (``data-alias``; only for roles with
  ``model.rollback``).
- datasets and KBs: ``dataset-row``, ``schema-row``, ``sensitivity-tag``,
  ``profile-histogram`` (one SVG per column), ``kb-row``, ``kb-source-row``.
- lineage: ``lineage-graph``, ``lineage-node`` (``data-node``, a link), ``lineage-form``.
- monitors: ``monitor-row``, ``monitor-run-row``, ``drift-chart``,
  ``performance-chart``, ``alert-row``.
- reviews: ``review-filters``, ``review-row`` (``data-review-id``, ``data-status``),
  ``review-status``, ``review-input``, ``review-output``, ``review-final``,
  ``claim-button``, ``release-button``, ``approve-button``, ``edit-output`` (textarea),
  ``edit-button``, ``reject-comment``, ``reject-button``.
- audit: ``audit-filters``, ``audit-row`` (``data-seq``), ``verify-status``
  (``data-ok``: the tail check), ``verify-last`` (the last full run),
  ``verify-button``.
- costs: ``cost-filters``, ``cost-total``, ``cost-chart``, ``cost-row``,
  ``cost-missing-price``, ``budget-row``, ``kpi`` (``data-kpi``), ``kpi-chart``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import APIRouter

    from prodline.workspace import Workspace

__all__ = ["build_ui", "static_app"]


def build_ui(ws: Workspace, *, auth: bool = True) -> APIRouter:
    """The dashboard's routes over ``ws`` (pages, login/logout, ``/static``).

    Parameters
    ----------
    ws
        The server's workspace; each request acts through ``ws.acting_as(token)``.
    auth
        ``False`` skips the login (the server's own workspace acts): the server allows
        that only on a loopback address.
    """
    from fastapi import APIRouter

    from prodline.ui.routes_audit import add_audit_routes
    from prodline.ui.routes_auth import add_auth_routes
    from prodline.ui.routes_costs import add_cost_routes
    from prodline.ui.routes_data import add_data_routes
    from prodline.ui.routes_models import add_model_routes
    from prodline.ui.routes_monitors import add_monitor_routes
    from prodline.ui.routes_reviews import add_review_routes
    from prodline.ui.web import UI

    ui = UI(ws, auth=auth)
    router = APIRouter(include_in_schema=False)
    add_auth_routes(router, ui)
    add_model_routes(router, ui)
    add_data_routes(router, ui)
    add_monitor_routes(router, ui)
    add_review_routes(router, ui)
    add_audit_routes(router, ui)
    add_cost_routes(router, ui)
    router.ui = ui  # type: ignore[attr-defined]  # tests and the server reach the state
    return router


def static_app() -> Any:
    """The dashboard's static files as an ASGI app (mount at ``/static`` if preferred)."""
    from starlette.staticfiles import StaticFiles

    from prodline.ui.routes_auth import STATIC

    return StaticFiles(directory=str(STATIC))
