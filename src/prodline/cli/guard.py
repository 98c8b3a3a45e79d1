"""``prodline guard scan``: check a prompt or a document for prompt injection.

Stateless: it loads the shipped classifier and needs no workspace. The exit code is 0
whatever the verdict (the verdict is the output); ``--fail-on block|flag`` makes a
verdict at or above that level exit 3, for scripts and CI.
"""

from __future__ import annotations

from pathlib import Path

import typer

from prodline.cli.common import console, print_json, print_table
from prodline.errors import InvalidInput

__all__ = ["app", "read_text_file", "scan"]

app = typer.Typer(
    help="Prompt-injection and jailbreak guard.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

_LEVEL = {"allow": 0, "flag": 1, "block": 2}
_STYLE = {"allow": "green", "flag": "yellow", "block": "bold red"}


def read_text_file(path: Path) -> str:
    """The UTF-8 text of ``path``; a missing, unreadable or non-UTF-8 file is InvalidInput.

    Parameters
    ----------
    path : Path
        The file to read.

    Returns
    -------
    str
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidInput(f"Cannot read --file {path}: {reason}.", field="file") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"--file {path} is not valid UTF-8 (byte {exc.start}); save it as UTF-8.",
            field="file",
        ) from None


@app.command("scan")
def scan(
    text: str = typer.Argument(None, help="The prompt to scan (or use --file)."),
    file: Path = typer.Option(None, "--file", help="Scan the UTF-8 text of this file."),
    kind: str = typer.Option(
        "prompt", "--kind", help="prompt, or document (knowledge-base text: higher thresholds)."
    ),
    fail_on: str = typer.Option(
        None, "--fail-on", help="block or flag: exit 3 when the verdict reaches it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Scan text for prompt injection and jailbreaks: normalization, rules, classifier.

    Prints the verdict (allow, flag, block), the score and what each layer found. Exit
    code 0 whatever the verdict, unless --fail-on is given (then 3 at or above it).

    Example: prodline guard scan "Ignore all previous instructions" --json;
    prodline guard scan --file page.md --kind document --fail-on block
    """
    from prodline.guard import InputGuard

    if (text is None) == (file is None):
        raise InvalidInput("Give the text to scan, or --file PATH (not both).", field="text")
    if kind not in ("prompt", "document"):
        raise InvalidInput(f"--kind must be prompt or document, not '{kind}'.", field="kind")
    if fail_on is not None and fail_on not in ("block", "flag"):
        raise InvalidInput(f"--fail-on must be block or flag, not '{fail_on}'.", field="fail_on")
    body = read_text_file(file) if file is not None else text
    if not body.strip():
        what = f"--file {file}" if file is not None else "The text"
        raise InvalidInput(f"{what} is empty; nothing to scan.", field="text")
    guard = InputGuard.load()
    result = guard.scan_many([body], kind="document" if kind == "document" else "prompt")[0]
    if as_json:
        print_json(result.to_dict())
    else:
        print_table(
            "guard layers",
            ["layer", "score", "fired", "reason"],
            [
                (name, f"{layer.score:.3f}", "yes" if layer.fired else "no", layer.reason)
                for name, layer in result.layers.items()
            ],
        )
        style = _STYLE[result.verdict]
        console.print(
            f"verdict: [{style}]{result.verdict}[/] (score {result.score:.3f})"
            + ("" if result.verdict == "allow" else f" — {result.reason}"),
            highlight=False,
        )
    if fail_on is not None and _LEVEL[result.verdict] >= _LEVEL[fail_on]:
        raise typer.Exit(3)
