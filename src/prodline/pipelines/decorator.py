"""``@prodline.pipeline``: mark a training function and find it again by module path.

A pipeline is an ordinary Python function that takes one dataset version and returns a
fitted model with its metrics::

    import prodline as pl

    @pl.pipeline(name="credit-retrain", target="risk")
    def train(data: pl.TrainingData):
        model = make_model().fit(data.frame.drop(columns=["risk"]), data.frame["risk"])
        return model, {"train_rows": float(len(data.frame))}

The workspace stores the function's *entrypoint*, ``module:function`` (or
``path/to/file.py:function``), never the code, and imports it again for every run, so
a run uses the code as it is at that moment and records its git commit.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prodline.core.refs import check_name
from prodline.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PipelineFunction",
    "TrainingData",
    "TrainingResult",
    "code_reference",
    "load_entrypoint",
    "pipeline",
    "registered_functions",
]

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "__prodline_pipeline__"
_REGISTRY: dict[str, PipelineFunction] = {}


@dataclass(frozen=True)
class TrainingData:
    """What a pipeline function receives: one dataset version's rows and its ref.

    ``frame`` holds the rows to train on: with a holdout split, the holdout rows are
    already taken out (the candidate never sees the rows it is judged on).
    """

    frame: pd.DataFrame
    ref: str
    target: str | None = None

    @property
    def name(self) -> str:
        """The dataset's name (``ref`` before the ``@``)."""
        return self.ref.partition("@")[0]

    @property
    def version(self) -> int:
        """The dataset version number."""
        return int(self.ref.partition("@")[2])


@dataclass(frozen=True)
class TrainingResult:
    """What a pipeline function returns: a fitted model and its metrics.

    A plain ``(model, metrics)`` tuple is accepted too.
    """

    model: Any
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineFunction:
    """A function marked with :func:`pipeline`, with the settings the decorator gave."""

    name: str
    function: Callable[[TrainingData], Any]
    target: str | None = None

    @property
    def entrypoint(self) -> str:
        """``module:function`` of the wrapped function."""
        return f"{self.function.__module__}:{self.function.__qualname__}"

    def __call__(self, data: TrainingData) -> TrainingResult:
        """Run the function and check what it returned."""
        out = self.function(data)
        if isinstance(out, TrainingResult):
            result = out
        elif isinstance(out, tuple) and len(out) == 2:
            result = TrainingResult(out[0], dict(out[1] or {}))
        else:
            raise InvalidInput(
                f"Pipeline '{self.name}' ({self.entrypoint}) returned {type(out).__name__}; "
                "return (fitted_model, metrics_dict) or prodline.TrainingResult."
            )
        bad = {
            k: v
            for k, v in result.metrics.items()
            if not isinstance(v, int | float) or isinstance(v, bool)
        }
        if bad:
            raise InvalidInput(
                f"Pipeline '{self.name}' returned non-numeric metrics {sorted(bad)}; "
                "metrics must be numbers."
            )
        return result


def pipeline(name: str | None = None, *, target: str | None = None) -> Callable[[F], F]:
    """Mark ``function`` as a training pipeline named ``name`` (default: its own name).

    Parameters
    ----------
    name : str, optional
        The pipeline's default name (``prodline pipeline register`` may give another).
    target : str, optional
        The label column; the run leaves it out of the model's inputs and scores the
        holdout against it.

    Examples
    --------
    >>> import prodline as pl
    >>> @pl.pipeline(name="doc-example", target="y")
    ... def train(data):
    ...     return None, {}
    >>> train.__prodline_pipeline__.name, train.__prodline_pipeline__.target
    ('doc-example', 'y')
    """

    def mark(function: F) -> F:
        label = check_name("Pipeline", name or function.__name__.replace("_", "-"))
        spec = PipelineFunction(label, function, target)
        setattr(function, _ATTRIBUTE, spec)
        _REGISTRY[label] = spec
        return function

    return mark


def registered_functions() -> dict[str, PipelineFunction]:
    """Pipelines decorated in this process so far, by name."""
    return dict(_REGISTRY)


def _split(entrypoint: str) -> tuple[str, str]:
    module, sep, function = entrypoint.rpartition(":")
    if not sep or not module or not function or not function.replace(".", "_").isidentifier():
        raise InvalidInput(
            f"Entrypoint '{entrypoint}' must look like module:function "
            "(e.g. mypkg.train:retrain) or path/to/file.py:function.",
            field="entrypoint",
        )
    return module, function


def _import(module: str, entrypoint: str) -> Any:
    if module.endswith(".py"):
        path = Path(module).expanduser().resolve()
        if not path.is_file():
            raise InvalidInput(
                f"Entrypoint '{entrypoint}': file '{path}' does not exist.", field="entrypoint"
            )
        key = "prodline_pipeline_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(key, path)
        if spec is None or spec.loader is None:
            raise InvalidInput(f"Entrypoint '{entrypoint}': cannot load {path}.")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[key] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            del sys.modules[key]
            raise
        return loaded
    if module in sys.modules:
        return importlib.reload(sys.modules[module])  # the code as it is now
    return importlib.import_module(module)


def load_entrypoint(entrypoint: str) -> PipelineFunction:
    """Import ``module:function`` (or ``file.py:function``) and return the pipeline.

    The module is imported afresh (reloaded if already imported), so each run trains
    with the code as it is now.

    Raises
    ------
    InvalidInput
        Naming the entrypoint when it is malformed, does not import (with the import
        error), has no such function, or the function is not decorated.
    """
    module_name, function_name = _split(entrypoint)
    try:
        module = _import(module_name, entrypoint)
    except InvalidInput:
        raise
    except Exception as exc:  # an import error inside user code: name it, keep the cause
        raise InvalidInput(
            f"Pipeline entrypoint '{entrypoint}' does not import: "
            f"{type(exc).__name__}: {exc}. Check the module path (is it on PYTHONPATH?) "
            "or give path/to/file.py:function.",
            field="entrypoint",
        ) from exc
    target: Any = module
    for part in function_name.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise InvalidInput(
                f"Pipeline entrypoint '{entrypoint}': module '{module_name}' has no "
                f"function '{function_name}'.",
                field="entrypoint",
            )
    spec = getattr(target, _ATTRIBUTE, None)
    if not isinstance(spec, PipelineFunction):
        raise InvalidInput(
            f"Pipeline entrypoint '{entrypoint}' is not a pipeline; decorate the function "
            "with @prodline.pipeline(name=...).",
            field="entrypoint",
        )
    return spec


def code_reference(entrypoint: str) -> dict[str, str | None]:
    """Where the code of ``entrypoint`` came from: file, its sha256, and the git commit.

    The commit is that of the repository holding the file (``+dirty`` when it has
    uncommitted changes), or ``None`` outside git.
    """
    module_name, _ = _split(entrypoint)
    if module_name.endswith(".py"):
        path: Path | None = Path(module_name).expanduser().resolve()
    else:
        loaded = sys.modules.get(module_name)
        origin = getattr(loaded, "__file__", None)
        path = Path(origin).resolve() if origin else None
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else None
    return {
        "file": str(path) if path else None,
        "sha256": digest,
        "git_commit": _git_commit(path.parent) if path else None,
    }


def _git_commit(folder: Path) -> str | None:
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
