"""``prodline serve rag KB``: an OpenAI-compatible RAG server over one knowledge base.

``create_rag_app`` builds the ASGI app (chat completions with citations and groundedness,
retrieval, health, readiness, metrics; every call logged and audited off the hot path);
``serve_rag`` runs it under uvicorn; ``RagOptions`` holds what both are told.
"""

from prodline.serving.rag.app import create_rag_app
from prodline.serving.rag.options import RagOptions
from prodline.serving.rag.server import serve_rag

__all__ = ["RagOptions", "create_rag_app", "serve_rag"]
