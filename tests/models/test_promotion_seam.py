"""The registered-model entity, the one promotion path, and checks against training data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from prodline.core.promotion import PolicyDecision, PromotionRequest
from prodline.errors import Conflict, GateFailed, InvalidInput, NotFound
from prodline.workspace import Workspace


def _register(ws: Workspace, frame: pd.DataFrame, model: LogisticRegression, **kw: object) -> int:
    if not ws.datasets.versions("points"):
        ws.datasets.register(frame, name="points", owner="ml")
    args: dict[str, object] = {"trained_on": ["points@1"], "target": "label"} | kw
    return ws.models.register(model, name="clf", **args).version  # type: ignore[arg-type]


def test_risk_owner_and_description_belong_to_the_model(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _register(ws, frame, fitted[0], risk_level="high", owner="credit-team")
    registered = ws.models.model("clf")
    assert (registered.owner, registered.risk_level, registered.latest_version) == (
        "credit-team",
        "high",
        1,
    )
    with pytest.raises(Conflict, match="risk belongs to the model"):
        _register(ws, frame, fitted[1], risk_level="minimal")
    assert _register(ws, frame, fitted[1]) == 2
    assert ws.models.get("clf", 2).risk_level == "high"  # a new version inherits, never lowers
    ws.models.update("clf", risk_level="limited", description="scores loan applications")
    assert ws.models.get("clf", 1).risk_level == "limited"
    assert ws.models.model("clf").description == "scores loan applications"
    updated = [e for e in ws.audit.events() if e.action == "model.updated"]
    assert updated and updated[-1].payload["from"] == {"risk_level": "high", "description": ""}
    assert [m.name for m in ws.models.models()] == ["clf"]


def test_create_before_first_version(sqlite_ws: Workspace) -> None:
    made = sqlite_ws.models.create("churn", owner="growth", risk_level="limited")
    assert (made.owner, made.risk_level, made.latest_version) == ("growth", "limited", 0)
    with pytest.raises(Conflict, match="already exists"):
        sqlite_ws.models.create("churn")
    with pytest.raises(NotFound, match="no versions yet"):
        sqlite_ws.models.get("churn")
    assert sqlite_ws.models.list() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "lable"}, "Target 'lable' is not a column of points@1; did you mean 'label'"),
        ({"target": "x1"}, "reads the target column 'x1'"),
        ({"trained_on": ["other@1"], "target": "survived"}, "2 feature.*of other@1: x1, x2"),
    ],
)
def test_features_and_target_are_checked_against_the_training_data(
    sqlite_ws: Workspace,
    frame: pd.DataFrame,
    fitted: list[LogisticRegression],
    kwargs: dict[str, object],
    message: str,
) -> None:
    sqlite_ws.datasets.register(frame, name="points", owner="ml")
    sqlite_ws.datasets.register(
        pd.DataFrame({"age": [1, 2], "survived": [0, 1]}), name="other", owner="ml"
    )
    events = sqlite_ws.audit.count()
    with pytest.raises(InvalidInput, match=message):
        _register(sqlite_ws, frame, fitted[0], **kwargs)
    assert sqlite_ws.audit.count() == events  # nothing half-written
    with pytest.raises(NotFound):
        sqlite_ws.models.model("clf")


def test_a_typo_in_an_alias_name_is_refused_unless_created(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _register(ws, frame, fitted[0])
    ws.promote("clf", 1, "production")  # standard names need no --create
    with pytest.raises(NotFound, match=r"no alias 'prod'.*production, staging.*--create"):
        ws.promote("clf", 1, "prod")
    assert ws.models.aliases("clf") == {"production": 1}
    ws.promote("clf", 1, "shadow", create=True)
    assert ws.models.aliases("clf") == {"production": 1, "shadow": 1}


class _Refuse:
    name = "test-refuse"

    def __init__(self) -> None:
        self.seen: list[PromotionRequest] = []

    def decide(self, request: PromotionRequest) -> PolicyDecision:
        self.seen.append(request)
        if request.alias == "production" and request.metrics.get("auc", 0) < 0.85:
            return PolicyDecision(False, ("auc below 0.85",), policy=self.name)
        return PolicyDecision(True, policy=self.name)


def test_promotion_asks_the_policy_first_and_a_refusal_moves_nothing(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _register(ws, frame, fitted[0], metrics={"auc": 0.9}, risk_level="high")
    _register(ws, frame, fitted[1], metrics={"auc": 0.8})
    policy = _Refuse()
    ws.policy = policy
    ws.promote("clf", 1, "production")
    with pytest.raises(GateFailed, match=r"Cannot promote clf@2 to 'production': auc below 0\.85"):
        ws.promote("clf", 2, "production")
    assert ws.models.aliases("clf") == {"production": 1}
    assert [(r.version, r.risk_level, r.from_version) for r in policy.seen] == [
        (1, "high", None),
        (2, "high", 1),
    ]
    refused = [e for e in ws.audit.events() if e.action == "alias.promote_refused"]
    assert refused[0].payload["reasons"] == ["auc below 0.85"]
    assert ws.audit.verify().ok


def test_rollback_goes_through_the_policy_too(
    sqlite_ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _register(sqlite_ws, frame, fitted[0])
    _register(sqlite_ws, frame, fitted[1])
    sqlite_ws.promote("clf", 1, "staging")
    sqlite_ws.promote("clf", 2, "staging")

    class NoRollback:
        def decide(self, request: PromotionRequest) -> PolicyDecision:
            return PolicyDecision(request.action != "rollback", ("rollbacks need sign-off",))

    sqlite_ws.policy = NoRollback()
    with pytest.raises(GateFailed, match="rollbacks need sign-off"):
        sqlite_ws.rollback("clf", "staging")
    assert sqlite_ws.models.aliases("clf") == {"staging": 2}


def test_migration_moves_risk_to_the_model_and_keeps_training_refs(
    tmp_path: Path, db_url: str
) -> None:
    from alembic import command

    from prodline.store.db import Database
    from prodline.store.migrate import alembic_config

    url = db_url
    db = Database(url)
    cfg = alembic_config()
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        now = "2026-01-01 00:00:00"
        conn.execute(sa.text(f"INSERT INTO datasets VALUES (1, 'points', 'ml', '{now}')"))
        conn.execute(
            sa.text(
                "INSERT INTO dataset_versions (id, dataset_id, version, content_sha256, "
                "data_artifact, format, rows, schema, profile, sensitivity, owner, source, "
                f"description, created_by, created_at) VALUES (7, 1, 3, 'x', 'x', 'csv', 1, "
                f"'[]', '{{}}', '{{}}', 'ml', 's', '', 'ana', '{now}')"
            )
        )
        conn.execute(sa.text(f"INSERT INTO models VALUES (1, 'clf', '{now}')"))
        for version, risk, who in ((1, "high", "ana"), (2, "minimal", "bo")):
            conn.execute(
                sa.text(
                    "INSERT INTO model_versions (id, model_id, version, flavor, artifact, "
                    "filename, signature, metrics, params, tags, risk_level, description, "
                    f"status, created_by, created_at) VALUES ({version}, 1, {version}, "
                    f"'sklearn', 'a', 'm.skops', '[]', '{{}}', '{{}}', '{{}}', '{risk}', '', "
                    f"'active', '{who}', '{now}')"
                )
            )
        conn.execute(sa.text("INSERT INTO model_version_datasets VALUES (2, 7)"))
    db.dispose()
    ws = Workspace.open(tmp_path / "home", db_url=url)
    try:
        model = ws.models.model("clf")
        assert (model.risk_level, model.owner) == ("high", "ana")  # the highest ever recorded
        assert ws.models.get("clf", 2).trained_on == ("points@3",)
        assert ws.models.get("clf", 2).risk_level == "high"
    finally:
        ws.close()
    with db.tx() as conn:  # and back down, without losing the training refs
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
        rows = conn.execute(sa.text("SELECT * FROM model_version_datasets")).all()
        risks = conn.execute(sa.text("SELECT risk_level FROM model_versions")).scalars().all()
    db.dispose()
    assert [tuple(r) for r in rows] == [(2, 7)]
    assert risks == ["high", "high"]
