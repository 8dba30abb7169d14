"""The model comparison page's data (`forecasting.views.comparison`): CV of a model version, why the winner won."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.i18n.catalog import t
from forecasting.i18n.formatting import Formatter
from forecasting.services.model_store import list_models
from forecasting.services.training import train_and_predict_sales
from forecasting.ui import figures, tables
from forecasting.views import comparison
from tests.support.dashboard_db import FAST, TRAINED


def test_cv_view_explains_the_winner(store):
    cv = comparison.cv_view(store, TRAINED)
    assert set(FAST.model_candidates) <= set(cv.scores.index)  # the engine may add an ensemble of them
    assert cv.scores.loc[cv.winner, "rank"] == 1 and cv.scores["winner"].sum() == 1
    why = cv.reason
    assert why.runner_up in cv.scores.index and why.runner_up != cv.winner
    assert why.value <= why.runner_up_value and why.margin == pytest.approx(1 - why.value / why.runner_up_value)
    assert 0 <= why.folds_won <= why.folds == FAST.cv_folds
    assert set(cv.by_step["step"]) <= set(range(1, cv.horizon + 1))
    assert set(cv.by_weekday["weekday"]) == set(range(6))  # the bakery's closed Sundays are never scored
    # every candidate scored on each fold's open days
    cutoffs = cv.predictions.groupby("fold")["cutoff"].first()
    open_days = sum(int((pd.date_range(cutoff + pd.Timedelta(days=1), periods=cv.horizon).dayofweek != 6).sum())
                    for cutoff in cutoffs)
    assert len(cv.predictions) == len(cv.scores) * open_days
    assert cv.predictions["cutoff"].notna().all() and (cv.predictions["ds"] > cv.predictions["cutoff"]).all()


def test_cv_view_keeps_skipped_candidates_with_their_reason(store):
    info = comparison.cv_view(store, TRAINED)
    metrics = list_models(store, TRAINED).iloc[0]["training_metrics"]
    metrics = {**metrics, "skipped": {"prophet": "not installed: prophet"}}
    cv = comparison.cv_from_metrics(metrics, info.model_version, info.last_trained, info.winner)
    shown = tables.skipped_table(cv, "en")
    assert list(shown[t("table.reason", "en")]) == ["not installed: prophet"]


def test_cv_figures_draw_every_candidate_and_fold(store):
    cv = comparison.cv_view(store, TRAINED)
    fmt = Formatter("en", "EUR", "ES")
    assert len(figures.cv_step_figure(cv, fmt).data) == len(cv.scores)
    assert len(figures.cv_weekday_figure(cv, fmt).data) == len(cv.scores)
    folds = figures.cv_folds_figure(cv, fmt, [cv.winner, "snaive"])
    assert len(folds.data) == cv.folds * (1 + len({cv.winner, "snaive"}))
    styled = tables.scores_table(cv, fmt).to_html()
    assert "★" in styled and "background-color" in styled


def test_an_older_version_stays_inspectable(writable):
    first = comparison.cv_view(writable, TRAINED).model_version
    train_and_predict_sales(TRAINED, storage=writable, settings=FAST.model_copy(update={"cv_primary_metric": "mae"}))
    versions = comparison.cv_versions(writable, TRAINED)
    assert len(versions) == 2 and versions["is_active"].sum() == 1
    assert comparison.cv_view(writable, TRAINED).primary_metric == "mae"
    assert comparison.cv_view(writable, TRAINED, first).primary_metric == "mase"


# --- the owner's fixed model -----------------------------------------------------------------------


def test_training_stores_whether_the_owner_fixed_the_model(writable):
    assert list_models(writable, TRAINED).iloc[0]["training_metrics"]["model_fixed"] is False
    assert not comparison.cv_view(writable, TRAINED).reason.fixed
    train_and_predict_sales(TRAINED, storage=writable, settings=FAST.model_copy(update={"select_best": False}))
    stored = list_models(writable, TRAINED).iloc[0]["training_metrics"]
    assert stored["model_fixed"] is True
    cv = comparison.cv_view(writable, TRAINED)
    assert cv.reason.fixed and cv.winner == FAST.model_candidates[0]


def test_the_fixed_flag_is_read_not_the_selection_sentence(store):
    info = comparison.cv_view(store, TRAINED)
    metrics = list_models(store, TRAINED).iloc[0]["training_metrics"]

    def fixed(**changes) -> bool:
        return comparison.cv_from_metrics({**metrics, **changes}, info.model_version, info.last_trained,
                                          info.winner).reason.fixed

    # The sentence is for people: reworded, translated or contradicting the flag, the flag decides.
    assert fixed(model_fixed=True, selection="lowest CV MASE of 3 candidate(s)")
    assert not fixed(model_fixed=False, selection="fixed model (ML_SELECT_BEST is off)")
    assert fixed(model_fixed=True, selection="modelo fijo")


def test_versions_stored_before_the_flag_fall_back_on_their_stored_settings(writable):
    """Rows written before `model_fixed` existed: the settings stored with the version say it; without them,
    the version counts as selected."""
    train_and_predict_sales(TRAINED, storage=writable, settings=FAST.model_copy(update={"select_best": False}))
    row = list_models(writable, TRAINED).iloc[0]
    old_metrics = {key: value for key, value in row["training_metrics"].items() if key != "model_fixed"}
    key = {"model_type": row["model_type"], "model_version": row["model_version"]}
    writable.update("ml_models", TRAINED, {"training_metrics": old_metrics}, where=key)
    assert comparison.cv_view(writable, TRAINED).reason.fixed  # hyperparameters.settings.select_best is False
    no_settings = {k: v for k, v in row["hyperparameters"].items() if k != "settings"}
    writable.update("ml_models", TRAINED, {"hyperparameters": no_settings}, where=key)
    assert not comparison.cv_view(writable, TRAINED).reason.fixed
    assert comparison.model_fixed({}, None) is False
    assert comparison.model_fixed({}, {"settings": {"select_best": True}}) is False
    assert comparison.model_fixed({"model_fixed": True}, {"settings": {"select_best": True}}) is True


@pytest.mark.parametrize(("margin", "won", "folds", "close"), [
    (0.007, 3, 5, True),    # 0.7% ahead: within what another split of past weeks would change
    (0.10, 0, 5, True),     # ahead on average, best in none of the test periods (Ferretería's case)
    (0.10, 3, 5, False),    # a clear win
    (0.02, 1, 2, False),    # 2% and half the periods: not flagged
])
def test_a_close_call_is_told_apart_from_a_win(margin, won, folds, close):
    why = comparison.WinnerReason("ets", "mase", 0.6, "theta", 0.6 / (1 - margin), margin, won, folds, None, False)
    assert why.close_call is close
    assert not comparison.WinnerReason("ets", "mase", 0.6, None, None, None, 0, 5, None, False).close_call
    assert not comparison.WinnerReason("ets", "mase", 0.6, "theta", 0.61, 0.01, 0, 5, None, True).close_call
