"""The inference runtime: ``prodline serve NAME@ALIAS`` as a FastAPI/uvicorn app.

``create_app`` builds the ASGI app (predict on a raw fast path, micro-batched, validated
against the signature, logged off the hot path, hot-switched on promote/rollback);
``serve`` runs it under uvicorn.
"""

from prodline.serving.app import create_app
from prodline.serving.options import ServeOptions
from prodline.serving.server import serve

__all__ = ["ServeOptions", "create_app", "serve"]
