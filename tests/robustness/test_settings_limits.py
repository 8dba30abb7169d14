"""Settings can't make one retrain hog the machine.

An owner set SARIMAX (12,1,12)(2,1,2,30) with 20 folds from the settings form, and one retrain ran past
five minutes of CPU. The expensive settings are bounded (refused with the field named, nothing saved),
and cross-validation has a time budget: a candidate whose folds would run past its share is skipped,
with its reason, and the others are scored as usual.
"""

from __future__ import annotations

import pytest

from forecasting.core.config import MLSettings
from forecasting.core.errors import ConfigError
from forecasting.core.evaluation import cross_validate
from forecasting.core.models.baselines import Naive
from forecasting.services.tenants import save_tenant_overrides, tenant_overrides
from tests.support import make_series


@pytest.mark.parametrize("overrides, field", [
    ({"ML_SARIMAX_ORDER": "12,1,12"}, "ML_SARIMAX_ORDER"),
    ({"ML_SARIMAX_SEASONAL": "2,1,2,30"}, "ML_SARIMAX_SEASONAL"),
    ({"ML_SARIMAX_SEASONAL": "3,1,1,7"}, "ML_SARIMAX_SEASONAL"),
    ({"ML_CV_FOLDS": 20}, "ML_CV_FOLDS"),
    ({"ML_MAX_TRAIN_WINDOW_DAYS": 100_000}, "ML_MAX_TRAIN_WINDOW_DAYS"),
    ({"ML_TRAIN_BUDGET_SECONDS": 86_400}, "ML_TRAIN_BUDGET_SECONDS"),
])
def test_expensive_settings_are_refused_naming_the_field_and_nothing_is_saved(storage, overrides, field):
    storage.upsert("negocios", "t", [{"id": "t", "nombre": "T"}])
    with pytest.raises(ConfigError, match=f"invalid setting\\(s\\): {field}: "):
        save_tenant_overrides(storage, "t", overrides)
    assert tenant_overrides(storage, "t") == {}


def test_the_bounds_still_allow_the_useful_settings():
    settings = MLSettings(sarimax_order=(3, 2, 3), sarimax_seasonal=(2, 1, 2, 14), cv_folds=10,
                          max_train_window_days=3650)
    assert settings.sarimax_seasonal == (2, 1, 2, 14)


class FakeClock:
    """Time that passes only when a model says so: the budget is tested without waiting for it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_candidate_over_its_share_of_the_budget_is_skipped_with_its_reason():
    clock = FakeClock()

    class Slow(Naive):
        name = "slow"

        def _fit(self, y):
            clock.now += 40.0  # each fit "takes" 40 seconds
            super()._fit(y)

    y = make_series(200)
    cv = cross_validate(y, {"slow": Slow, "naive": Naive}, horizon=14, folds=5, budget_seconds=100, clock=clock)
    # 100 s shared by two candidates: 50 s each. After one fold (40 s), five would take 200 s.
    assert cv.skipped == {"slow": "over its time budget: 1 of 5 folds took 40 s, all would pass its share of "
                                  "ML_TRAIN_BUDGET_SECONDS (50 s)"}
    assert list(cv.scores().index) == ["naive"]
    assert cv.seconds["slow"] == 40.0


def test_a_candidate_within_its_share_is_scored_on_every_fold():
    clock = FakeClock()

    class Steady(Naive):
        name = "steady"

        def _fit(self, y):
            clock.now += 9.0  # five folds: 45 s, within a 50 s share
            super()._fit(y)

    cv = cross_validate(make_series(200), {"steady": Steady, "naive": Naive}, horizon=14, folds=5,
                        budget_seconds=100, clock=clock)
    assert cv.skipped == {} and set(cv.scores().index) == {"steady", "naive"}
    assert cv.predictions.groupby("model")["fold"].nunique().to_dict() == {"naive": 5, "steady": 5}


def test_the_engine_gives_cross_validation_the_configured_budget(monkeypatch):
    import forecasting.core.engine as engine

    seen = {}
    real = engine.cross_validate

    def recording(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "cross_validate", recording)
    engine.forecast_series(make_series(120), MLSettings(model_candidates=["naive"], horizon_days=7, cv_folds=2,
                                                        train_budget_seconds=42))
    assert seen["budget_seconds"] == 42
