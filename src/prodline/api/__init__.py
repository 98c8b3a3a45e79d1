"""The control plane: an HTTP API over one workspace, the dashboard, the scheduler.

``prodline server`` runs it; ``build_api(ws)`` gives the FastAPI app of the API alone,
``ControlPlane(ws)`` runs the whole server in a thread (tests, embedding). Routes live
under ``/api/v1`` (one router per part, ``prodline.api.routers``), need a bearer token
(``prodline.api.auth``), and paginate every list (``prodline.api.pagination``).
"""

from __future__ import annotations

from prodline.api.app import build_api
from prodline.api.auth import READ_ROLES, Authenticator
from prodline.api.pagination import MAX_SIZE, Page
from prodline.api.server import ControlPlane, build_app, serve_control_plane

__all__ = [
    "Authenticator",
    "ControlPlane",
    "MAX_SIZE",
    "Page",
    "READ_ROLES",
    "build_api",
    "build_app",
    "serve_control_plane",
]
