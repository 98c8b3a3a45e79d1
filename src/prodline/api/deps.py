"""FastAPI dependencies the routers share: the acting workspace and the page asked for.

``Reader`` is the workspace of a caller allowed to read; ``Actor`` the workspace of any
authenticated caller, for changes (the library authorizes each action itself, so a
role without the right gets 403 naming the role needed from ``ws.authorize``). Both
are sync: FastAPI runs them, and the sync routes using them, in its thread pool, off
the event loop (every workspace call blocks on the database).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from prodline.api.pagination import Page, page_params
from prodline.workspace import Workspace

if TYPE_CHECKING:
    from prodline.api.auth import Authenticator

__all__ = ["Actor", "Paging", "Reader", "actor", "reader"]


def _authenticator(request: Request) -> Authenticator:
    found: Authenticator = request.app.state.authenticator
    return found


def reader(request: Request) -> Workspace:
    """The workspace of the caller, who may read (401/403 otherwise)."""
    return _authenticator(request).reader(request.headers.get("authorization"))


def actor(request: Request) -> Workspace:
    """The workspace of the caller, whose changes the library authorizes per action."""
    return _authenticator(request).workspace(request.headers.get("authorization"))


Reader = Annotated[Workspace, Depends(reader)]
Actor = Annotated[Workspace, Depends(actor)]
Paging = Annotated[Page, Depends(page_params)]
