"""Public surface of prodline.llm, and proof the gateway needs no vendor SDK."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import prodline.llm
from prodline.llm import ProviderUnavailable

SRC = Path(prodline.llm.__file__).parent


MODULES = sorted(
    "prodline." + ".".join(p.relative_to(SRC.parent).with_suffix("").parts).replace(".__init__", "")
    for p in SRC.rglob("*.py")
)


def test_every_module_is_listed() -> None:
    assert "prodline.llm" in MODULES and "prodline.llm.providers.extractive" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__)
    for attr in module.__all__:
        assert hasattr(module, attr), attr


def test_provider_unavailable_carries_tried() -> None:
    tried = [{"provider": "openai", "error": "HTTP 503"}]
    error = ProviderUnavailable("No LLM provider could answer.", tried=tried)
    assert error.code == "provider_unavailable"
    assert error.to_dict()["error"]["details"] == {"tried": tried}


def test_no_module_imports_a_vendor_sdk() -> None:
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"openai", "anthropic", "tiktoken"}, path


def test_gateway_runs_with_the_openai_package_blocked() -> None:
    """With ``import openai`` made impossible, the whole gateway still imports and answers."""
    script = """
import sys
for name in ("openai", "anthropic", "tiktoken"):
    sys.modules[name] = None  # any import of them now raises ImportError
from prodline.llm import ChatMessage, Gateway, OpenAICompatProvider, AnthropicProvider
from prodline.llm.config import parse_llm_config
from prodline.rag.types import Hit
config = parse_llm_config({"providers": {"o": {"kind": "openai", "model": "m",
    "base_url": "http://127.0.0.1:9/v1", "timeout_s": 0.5, "retries": 0}}})
hits = [Hit(chunk_id=5, score=1.0, text="Refunds are issued within 14 days.")]
out = Gateway(config).complete([ChatMessage("user", "When are refunds issued?")], hits)
assert out.provider == "extractive" and out.citations == [5], out
assert out.tried[0]["provider"] == "o"
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
