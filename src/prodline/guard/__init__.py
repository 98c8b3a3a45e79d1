"""Guards around the AI: prompt-injection and jailbreak detection on the way in.

``InputGuard.load().scan(text)`` normalizes a prompt (Unicode look-alikes, hidden
characters, encoded payloads), runs named rules and a trained classifier, and returns a
``GuardResult`` with a verdict (``allow``, ``flag``, ``block``), a score and each
layer's result. ``scan_many(chunks, kind="document")`` scans knowledge-base chunks for
indirect injection with document thresholds. The part imports no other part.
"""

from prodline.guard.errors import GuardModelError
from prodline.guard.scan import GuardResult, InputGuard, LayerResult

__all__ = ["GuardModelError", "GuardResult", "InputGuard", "LayerResult"]
