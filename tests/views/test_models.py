"""The models page's data (`forecasting.views.models`): model versions, the retrain plan, Retrain now."""

from __future__ import annotations

from forecasting.core.engine import ENSEMBLE
from forecasting.services.tenants import settings_for_tenant
from forecasting.views import models
from tests.support.dashboard_db import FAST, NEVER_TRAINED, TRAINED


def test_retrain_plan_counts_one_cv_step_per_candidate(store):
    plan = models.retrain_plan(store, TRAINED)
    assert plan.count("cv") == len(settings_for_tenant(store, TRAINED).model_candidates)
    assert plan[0] == "series" and plan[-1] == "done"


def test_retrain_reports_every_step_and_writes_a_new_version(writable):
    steps = []
    before = len(models.model_versions(writable, NEVER_TRAINED))
    outcome = models.retrain(writable, NEVER_TRAINED, settings=FAST, progress=lambda s, d: steps.append((s, d)))
    # Every step in order, one `cv` per candidate naming it: what `retrain_plan` promises a progress bar.
    assert FAST.train_products  # the dashboard's shops sell products: they are forecast too
    assert [step for step, _ in steps] == ["series", *["cv"] * len(FAST.model_candidates), "final_fit", "saving",
                                           "anomalies", "saving", "products", "done"]
    assert outcome.summary["products"]["products"] > 0 and outcome.summary["products"]["rows_written"]["stock_plans"]
    assert [detail for step, detail in steps if step == "cv"] == FAST.model_candidates
    versions = models.model_versions(writable, NEVER_TRAINED)
    assert len(versions) == before + 1
    winner = outcome.summary["winner"]
    # Which candidate wins depends on the data; what it can be does not: a candidate or the mean of some.
    assert winner in (*FAST.model_candidates, ENSEMBLE)
    assert set(FAST.model_candidates) <= set(outcome.scores.index) and winner in outcome.scores.index
    assert outcome.scores.loc[winner, "mase"] == outcome.scores["mase"].min()  # selection is by ML_CV_PRIMARY_METRIC
    assert dict(steps)["final_fit"] == winner and steps[-1] == ("done", winner)
    newest = versions.iloc[0]  # newest first: the version this retrain wrote, active, under the winner's name
    assert newest["model_version"] == outcome.summary["model_version"] and newest["is_active"]
    assert newest["model_type"] == winner and versions["is_active"].sum() == 1
    if winner == ENSEMBLE:
        assert "mean of" in outcome.summary["selection"]
