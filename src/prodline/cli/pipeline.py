"""``prodline pipeline``: continuous-training pipelines and their runs."""

from __future__ import annotations

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table

app = typer.Typer(
    help="Continuous training: pipelines registered by module path, their runs.",
    no_args_is_help=True,
)


@app.command("register")
def register(
    name: str = typer.Argument(..., help="Pipeline name."),
    entrypoint: str = typer.Option(
        ..., "--entrypoint", help="module:function or path/to/file.py:function."
    ),
    dataset: str = typer.Option(..., "--dataset", help="Training dataset name."),
    model: str = typer.Option(..., "--model", help="Model the candidates register under."),
    alias: str = typer.Option("production", "--alias", help="Alias the champion holds."),
    promote: str = typer.Option("manual", "--promote", help="auto or manual."),
    trigger: list[str] = typer.Option(
        [], "--trigger", help="alert:<monitor>, dataset or schedule:<every> (repeatable)."
    ),
    target: str = typer.Option(None, "--target", help="Label column (default: decorator's)."),
    metric: str = typer.Option(None, "--metric", help="Comparison metric (auc, accuracy, …)."),
    margin: float = typer.Option(0.0, "--margin", help="How much better the candidate must be."),
    holdout: str = typer.Option(
        "0.2", "--holdout", help="Fraction of the dataset held out, or DATASET@V."
    ),
    rollback_margin: float = typer.Option(
        None, "--rollback-margin", help="Auto-rollback when a promoted version is this worse."
    ),
    rollback_min_labels: int = typer.Option(
        200, "--rollback-min-labels", help="Labelled predictions needed before rolling back."
    ),
    rollback_metric: str = typer.Option("accuracy", "--rollback-metric", help="Rollback metric."),
    replace: bool = typer.Option(False, "--replace", help="Change an existing pipeline."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Register a training function as a pipeline (its entrypoint is imported now).

    Example: prodline pipeline register credit-retrain --entrypoint train.py:retrain
    --dataset german-credit --model credit-risk --promote auto --margin 0.01
    --trigger alert:credit-drift --trigger dataset
    """
    from prodline.pipelines import PipelineSettings, RollbackGuard

    split, holdout_dataset = _holdout(holdout)
    guard = (
        RollbackGuard(rollback_metric, rollback_margin, rollback_min_labels)
        if rollback_margin is not None
        else None
    )
    settings = PipelineSettings(
        promote=promote,
        target=target,
        metric=metric,
        margin=margin,
        holdout_split=split,
        holdout_dataset=holdout_dataset,
        triggers=tuple(trigger),
        rollback=guard,
    )
    with open_workspace() as ws:
        p = ws.pipelines.register(
            name,
            entrypoint=entrypoint,
            dataset=dataset,
            model=model,
            alias=alias,
            settings=settings,
            replace_existing=replace,
        )
    if as_json:
        print_json(p.to_dict())
        return
    console.print(
        f"[green]registered[/] pipeline {p.name}: {p.entrypoint} on {p.dataset} → "
        f"{p.model}@{p.alias} (promote {p.settings.promote})",
        highlight=False,
    )


def _holdout(text: str) -> tuple[float, str | None]:
    try:
        return float(text), None
    except ValueError:
        return 0.2, text


@app.command("run")
def run(
    name: str = typer.Argument(..., help="Pipeline name."),
    dataset: str = typer.Option(None, "--dataset", help="DATASET@V (default: the newest)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run a pipeline now; exits 1 when the run failed (its traceback is kept).

    Example: prodline pipeline run credit-retrain --dataset german-credit@2
    """
    with open_workspace() as ws, console.status(f"running {name}…"):
        r = ws.pipelines.run(name, dataset=dataset)
    if as_json:
        print_json(r.to_dict())
    else:
        _print_run(r)
    if r.status == "failed":
        raise typer.Exit(1)


def _print_run(r: object) -> None:
    from prodline.pipelines import PipelineRun

    assert isinstance(r, PipelineRun)
    style = {"failed": "red", "awaiting_approval": "yellow"}.get(r.status, "green")
    console.print(
        f"run {r.ref}: [{style}]{r.status}[/]  trigger={r.trigger}  dataset={r.dataset}  "
        f"candidate={_v(r.candidate_version)}  champion={_v(r.champion_version)}",
        highlight=False,
    )
    if r.decision:
        console.print(r.decision, highlight=False, markup=False)
    if r.error:
        console.print(r.error.rstrip(), highlight=False, markup=False, style="red")


def _v(version: int | None) -> str:
    return f"v{version}" if version is not None else "-"


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List pipelines with their latest run.

    Example: prodline pipeline list
    """
    with open_workspace() as ws:
        items = [(p, ws.pipelines.runs(p.name, limit=1)) for p in ws.pipelines.list()]
    if as_json:
        print_json(
            [p.to_dict() | {"last_run": runs[0].to_dict() if runs else None} for p, runs in items]
        )
        return
    print_table(
        "pipelines",
        ("name", "entrypoint", "dataset", "model", "promote", "triggers", "last run"),
        (
            (
                p.name,
                p.entrypoint,
                p.dataset,
                f"{p.model}@{p.alias}",
                p.settings.promote,
                ", ".join(p.settings.triggers) or "-",
                f"#{runs[0].number} {runs[0].status}" if runs else "-",
            )
            for p, runs in items
        ),
    )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Pipeline name."),
    run_number: int = typer.Option(None, "--run", help="Show this run in full."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a pipeline, its settings and recent runs (or one run with --run N).

    Example: prodline pipeline show credit-retrain --run 1
    """
    with open_workspace() as ws:
        p = ws.pipelines.get(name)
        if run_number is not None:
            one = ws.pipelines.run_info(name, run_number)
            if as_json:
                print_json(one.to_dict())
            else:
                _print_run(one)
            return
        runs = ws.pipelines.runs(name, limit=20)
    if as_json:
        print_json(p.to_dict() | {"runs": [r.to_dict() for r in runs]})
        return
    s = p.settings
    console.print(
        f"[bold]{p.name}[/]  {p.entrypoint}\n"
        f"trains {p.model} on {p.dataset} (target {s.target}); champion {p.model}@{p.alias}\n"
        f"promote={s.promote}  metric={s.metric or 'auto'}  margin={s.margin:g}  holdout="
        f"{s.holdout_dataset or f'{s.holdout_split:g} split'}  triggers="
        f"{', '.join(s.triggers) or '-'}"
        + (f"\nrollback guard: {s.rollback.to_dict()}" if s.rollback else ""),
        highlight=False,
    )
    print_table(
        f"runs of {name}",
        ("run", "status", "trigger", "dataset", "candidate", "champion", "started", "decision"),
        (
            (
                r.number,
                r.status,
                r.trigger,
                r.dataset,
                _v(r.candidate_version),
                _v(r.champion_version),
                f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                (r.decision or "")[:80],
            )
            for r in runs
        ),
    )


@app.command("approve")
def approve(
    name: str = typer.Argument(..., help="Pipeline name."),
    run_number: int = typer.Argument(..., help="The run awaiting approval."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Promote the candidate of a run awaiting approval (the promotion policy applies).

    Example: prodline pipeline approve credit-retrain 3
    """
    with open_workspace() as ws:
        r = ws.pipelines.approve(name, run_number)
    if as_json:
        print_json(r.to_dict())
        return
    _print_run(r)
