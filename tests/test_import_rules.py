"""The import rule of ARCHITECTURE.md, checked on the source without importing it.

Floors, from the ground up::

    errors, config, demo (0) -> core (1) -> store (2) -> ledger (3)
    -> parts: data models gates rag llm guard monitor pipelines review cost optimize
       compliance (4) -> workspace, serving (5) -> faces: api ui cli, the SDK (6)

A module imports only from its own floor or below; a part never imports another part;
nothing imports a face (``api``, ``ui``, ``cli``) but that face itself (and ``cli`` → ``api``
→ ``ui``: the CLI starts the control plane, which mounts the dashboard), and only faces
import the SDK package (``from prodline import __version__``). Imports under
``if TYPE_CHECKING:`` are exempt. ``serving`` composes parts, so it sits above them
(as the workspace does). The top-level ``prodline/__init__.py`` is the SDK face: it
may import anything below the faces. ``demo`` holds data files only.

Cycles are checked on the imports that run when a module is loaded: module-level
imports outside ``TYPE_CHECKING``. An import inside a function runs later, on first
use (that is how heavy or optional modules are kept off the import path), so it cannot
close an import-time cycle; the floor rules above still apply to it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

PARTS = frozenset(
    "data models gates rag llm guard monitor pipelines review cost optimize compliance".split()  # noqa: SIM905
)
FACES = frozenset({"api", "ui", "cli"})
# The CLI launches the control-plane server (api), which mounts the dashboard (ui).
FACE_EDGES = frozenset({("cli", "api"), ("api", "ui")})
FLOORS: dict[str, int] = {
    "errors": 0,
    "config": 0,
    "demo": 0,
    "core": 1,
    "store": 2,
    "ledger": 3,
    **dict.fromkeys(PARTS, 4),
    "workspace": 5,
    "serving": 5,
    **dict.fromkeys(FACES, 6),
    "": 6,  # prodline/__init__.py, the SDK face
}


@dataclass(frozen=True)
class Edge:
    """One import statement: who imports what, where, and when it runs."""

    source: str  # importing module, e.g. "prodline.llm.gateway"
    target: str  # imported module (or the package holding an imported name)
    path: Path
    line: int
    module_level: bool  # runs at import time (not inside a function)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Import statements outside ``if TYPE_CHECKING:``, each with "runs at import time"."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_one(other, module_level)
                continue
            visit_one(child, module_level)

    def visit_one(child: ast.AST, module_level: bool) -> None:
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append((child, module_level))
        inner = module_level and not isinstance(
            child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
        )
        visit(child, inner)

    visit(tree, True)
    return found


def collect_edges(root: Path, package: str) -> tuple[list[Edge], set[str]]:
    """Every import between modules of ``package`` under ``root``, and the module names."""
    files = sorted((root / package).rglob("*.py"))
    modules = {module_name(p, root) for p in files}
    edges: list[Edge] = []
    for path in files:
        source = module_name(path, root)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, module_level in _imports(tree):
            for target in _targets(node, source, is_package, modules):
                if target == package or target.startswith(package + "."):
                    edges.append(Edge(source, target, path, node.lineno, module_level))
    return edges, modules


def _targets(
    node: ast.Import | ast.ImportFrom, source: str, is_package: bool, modules: set[str]
) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = source.split(".")
        anchor = anchor if is_package else anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    # ``from a.b import c`` imports module a.b.c when there is one, else a name of a.b.
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def _area(module: str, package: str) -> str:
    """The floor key of a module: ``prodline.rag.kb`` -> ``rag``; the package itself -> ``""``."""
    rest = module[len(package) + 1 :] if module != package else ""
    return rest.split(".")[0]


def violations(root: Path, package: str = "prodline") -> list[str]:
    """``file:line -> module (why)`` for every import that breaks the floors."""
    edges, _ = collect_edges(root, package)
    problems: list[str] = []
    for edge in edges:
        src, dst = _area(edge.source, package), _area(edge.target, package)
        where = f"{edge.path.relative_to(root)}:{edge.line} -> {edge.target}"
        if src not in FLOORS or dst not in FLOORS:
            unknown = src if src not in FLOORS else dst
            problems.append(f"{where} (give '{unknown}' a floor in tests/test_import_rules.py)")
            continue
        if src == dst:
            continue
        if (src, dst) in FACE_EDGES:
            continue
        if dst in FACES or (dst == "" and src not in FACES):  # faces may read the SDK
            problems.append(f"{where} (nothing imports a face)")
        elif FLOORS[dst] > FLOORS[src]:
            problems.append(f"{where} (floor {FLOORS[src]} '{src}' imports floor {FLOORS[dst]})")
        elif src in PARTS and dst in PARTS:
            problems.append(f"{where} (a part imports another part; move the shared code down)")
    return problems


def cycles(root: Path, package: str = "prodline") -> list[list[str]]:
    """Import-time cycles: strongly connected groups of modules, each sorted."""
    edges, modules = collect_edges(root, package)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for edge in edges:
        if edge.module_level and edge.target in graph and edge.target != edge.source:
            graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return sorted(groups)


def test_every_import_respects_the_floors() -> None:
    problems = violations(SRC)
    assert not problems, "imports that break the floors:\n" + "\n".join(problems)


def test_there_are_no_import_cycles() -> None:
    found = cycles(SRC)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_reports_bad_imports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "prodline/__init__.py": "from prodline.workspace import Workspace\n",
            "prodline/errors.py": "",
            "prodline/workspace.py": "from prodline.rag import kb\n",
            "prodline/core/__init__.py": "",
            "prodline/core/refs.py": "from prodline.errors import X\n",
            "prodline/rag/__init__.py": "",
            "prodline/rag/kb.py": "from . import types\nfrom prodline.core import refs\n",
            "prodline/rag/types.py": "",
            "prodline/llm/__init__.py": "",
            "prodline/llm/gateway.py": (
                "from typing import TYPE_CHECKING\n"
                "from prodline.rag.types import Hit\n"
                "if TYPE_CHECKING:\n"
                "    from prodline.rag.kb import KnowledgeBases\n"
                "def f():\n"
                "    from prodline.cli import main\n"
            ),
            "prodline/store/__init__.py": "",
            "prodline/store/db.py": "import prodline.ledger.audit\n",
            "prodline/ledger/__init__.py": "",
            "prodline/ledger/audit.py": "",
            "prodline/cli/__init__.py": "",
            "prodline/cli/main.py": "from prodline import workspace\nfrom ..rag import kb\n",
            "prodline/serving/__init__.py": "import prodline\n",
            "prodline/gizmo/__init__.py": "",
        },
    )
    assert violations(tmp_path) == [
        "prodline/llm/gateway.py:2 -> prodline.rag.types "
        "(a part imports another part; move the shared code down)",
        "prodline/llm/gateway.py:6 -> prodline.cli.main (nothing imports a face)",
        "prodline/serving/__init__.py:1 -> prodline (nothing imports a face)",
        "prodline/store/db.py:1 -> prodline.ledger.audit (floor 2 'store' imports floor 3)",
    ]


def test_the_checker_reports_unknown_areas_and_cycles(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "prodline/__init__.py": "",
            "prodline/gizmo.py": "from prodline.errors import X\n",
            "prodline/errors.py": "",
            "prodline/core/__init__.py": "",
            "prodline/core/a.py": "from prodline.core import b\n",
            "prodline/core/b.py": (
                "from typing import TYPE_CHECKING\nfrom prodline.core.c import C\n"
                "if TYPE_CHECKING:\n    from prodline.core.a import A\n"
            ),
            "prodline/core/c.py": "import prodline.core.a\n",
            "prodline/core/d.py": "from prodline.core import e\n",
            "prodline/core/e.py": "def f():\n    from prodline.core import d\n",
        },
    )
    assert violations(tmp_path) == [
        "prodline/gizmo.py:1 -> prodline.errors "
        "(give 'gizmo' a floor in tests/test_import_rules.py)"
    ]
    assert cycles(tmp_path) == [["prodline.core.a", "prodline.core.b", "prodline.core.c"]]
