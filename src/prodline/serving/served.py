"""The model a server answers with: one version, its predictor and its compiled signature."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodline.serving.payload import SAMPLE_VALUES, InputSpec, Parsed, to_arrays

if TYPE_CHECKING:
    from prodline.models.flavors import Predictor
    from prodline.workspace import Workspace

__all__ = ["ServedModel", "load_served"]


@dataclass(frozen=True)
class ServedModel:
    """An immutable bundle swapped as one reference when the alias moves.

    ``revision`` is the alias revision it was loaded for (0 when served by number).
    """

    name: str
    alias: str
    version: int
    revision: int
    flavor: str
    predictor: Predictor
    spec: InputSpec

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def load_served(
    ws: Workspace, name: str, alias: str, version: int | None = None, revision: int = 0
) -> ServedModel:
    """Load what ``name@alias`` points at (or ``version`` when given) and warm it up.

    Raises ``NotFound`` naming the model or alias when there is nothing to serve.
    """
    if version is None:
        state = ws.models.alias_state(name, alias)
        if state is not None:
            version, revision = state
    mv = ws.models.get(name, alias if version is None else version)
    predictor = ws.models.load_predictor(mv)
    served = ServedModel(
        name,
        alias,
        mv.version,
        revision,
        mv.flavor,
        predictor,
        InputSpec.from_signature(mv.signature),
    )
    _warm_up(served)
    return served


def _warm_up(served: ServedModel) -> None:
    """One throwaway prediction, so the first client does not pay for lazy imports."""
    row: list[list[Any]] = [[SAMPLE_VALUES[kind]] for kind in served.spec.kinds]
    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        served.predictor.predict(to_arrays(served.spec, [Parsed(row, 1)]))
