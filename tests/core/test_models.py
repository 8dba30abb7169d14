"""One generic contract over every registered model, plus an error ceiling per model."""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from dataclasses import replace
from datetime import datetime, timezone

import cloudpickle
import joblib
import numpy as np
import pandas as pd
import pytest

from forecasting.core.config import MLSettings
from forecasting.core.errors import DataError, ModelError
from forecasting.core.intervals import Conformal, sanitize_forecast
from forecasting.core.metrics import mase, mase_scale
from forecasting.core.models import (
    COMMON_PACKAGES,
    Forecaster,
    available_names,
    build,
    load_model,
    lower_col,
    model_class,
    unavailable_reason,
    upper_col,
)
from forecasting.core.models.baselines import Naive, SeasonalNaive
from forecasting.core.models.ensemble import EnsembleForecaster
from forecasting.services.model_store import SavedModel, library_versions
from forecasting.services.model_store import _check_versions as check_library_versions
from tests.support import make_series

SETTINGS = MLSettings(horizon_days=14)
# Every registered model, whether or not its optional package is importable here: the requirements
# install them all, so a missing one fails (test_every_registered_model_can_run_here says which).
MODELS = list(available_names())

# MASE on the last 14 days of make_series(210, seed=3), measured when each model was added,
# with headroom: a regression in a model shows up here as a number.
CEILING = {"naive": 4.5, "snaive": 1.35, "ets": 0.7, "sarimax": 0.65, "prophet": 0.65, "xgboost": 0.85,
           "lightgbm": 0.7, "autoets": 0.7, "theta": 0.7}


@pytest.fixture(scope="module")
def series():
    return make_series(210, seed=3)


@pytest.fixture(scope="module")
def fitted(series):
    """Each model fitted once, on first use (one model that can't be built fails its own tests only)."""
    class Fitted(dict):
        def __missing__(self, name):
            self[name] = build(name, SETTINGS, "ES").fit(series)
            return self[name]

    return Fitted()


def test_every_spec_candidate_is_registered():
    assert {"naive", "snaive", "sarimax", "prophet", "xgboost", "ets"} <= set(available_names())


@pytest.mark.parametrize("name", MODELS)
def test_every_registered_model_can_run_here(name):
    # An optional package missing from the environment would turn this model into a recorded skip in
    # production; here it is a failure naming the package (requirements.txt installs every one).
    reason = unavailable_reason(name)
    assert reason is None, f"model {name!r} can't run: {reason} (pip install -r requirements-dev.txt)"


@pytest.mark.parametrize("name", [*MODELS, "ensemble"])
def test_the_library_guard_records_every_package_a_model_needs(name):
    """Stored models carry these versions; one written by another major.minor of any of them is refused."""
    versions = library_versions()
    missing = [package for package in (*COMMON_PACKAGES, *model_class(name).requires) if package not in versions]
    assert not missing, f"{name} needs {missing}, which the library guard of stored models doesn't record"


def test_a_model_written_with_another_version_of_a_package_it_requires_is_refused():
    stored = {**library_versions(), "lightgbm": "3.3.5", "statsforecast": "1.7.0"}
    info = SavedModel("1", "lightgbm", "v1", datetime.now(timezone.utc), {"library_versions": stored}, {}, None)
    with pytest.raises(ModelError, match=r"written with lightgbm 3\.3\.5, this installation has 4\."):
        check_library_versions(info)
    check_library_versions(replace(info, hyperparameters={"library_versions": library_versions()}))


@pytest.mark.parametrize("name", MODELS)
def test_forecast_has_ordered_nested_bands_and_no_nan(fitted, name):
    forecast = fitted[name].predict(14, levels=(80, 95))
    assert len(forecast) == 14
    assert forecast.index[0] == fitted[name].y_.index[-1] + pd.Timedelta(days=1)
    assert np.isfinite(forecast.to_numpy()).all()
    assert (forecast[lower_col(95)] <= forecast[lower_col(80)]).all()
    assert (forecast[lower_col(80)] <= forecast["yhat"]).all()
    assert (forecast["yhat"] <= forecast[upper_col(80)]).all()
    assert (forecast[upper_col(80)] <= forecast[upper_col(95)]).all()
    assert (forecast.to_numpy() >= 0).all()


@pytest.mark.parametrize("name", MODELS)
def test_saved_and_reloaded_model_predicts_the_same(fitted, name):
    model = fitted[name]
    reloaded = load_model(name, model.to_bytes())
    pd.testing.assert_frame_equal(model.predict(14), reloaded.predict(14))


@pytest.mark.parametrize("name", ["lightgbm", "prophet", "xgboost"])
def test_models_with_a_native_format_are_stored_as_json_not_pickles(fitted, name, monkeypatch):
    """Loading a pickle runs code; these are stored as data (LightGBM's own text format, Prophet's JSON,
    XGBoost's UBJSON) and loaded without unpickling anything."""
    model = fitted[name]
    payload = json.loads(model.to_bytes().decode("utf-8"))
    assert isinstance(payload, dict)

    def refuse(*args, **kwargs):
        raise AssertionError("a stored model was unpickled")

    for module, function in [(pickle, "load"), (pickle, "loads"), (joblib, "load"), (cloudpickle, "load"),
                             (cloudpickle, "loads")]:
        monkeypatch.setattr(module, function, refuse)
    reloaded = load_model(name, model.to_bytes())
    pd.testing.assert_frame_equal(model.predict(14), reloaded.predict(14))
    pd.testing.assert_series_equal(model.fitted(), reloaded.fitted())


@pytest.mark.parametrize("days", [100, 210])  # too short for mlforecast's conformal windows, and long enough
def test_xgboost_is_stored_as_its_booster_and_features_and_forecasts_the_same(days):
    import xgboost

    model = build("xgboost", MLSettings(horizon_days=28), "ES").fit(make_series(days, seed=4))
    payload = json.loads(model.to_bytes())
    booster = xgboost.Booster()
    booster.load_model(bytearray(zlib.decompress(base64.b64decode(payload["regressor"]))))  # XGBoost's own format
    assert booster.num_boosted_rounds() == model.n_estimators
    assert payload["features"] == {"lags": [7, 14, 21, 28], "rolling_means": {"7": [7, 28]},
                                   "date_features": ["dayofweek", "month", "dayofyear", "day"], "holidays": True}
    assert (payload["conformity_scores"] is None) == (days < 63 + 2 * 28)
    reloaded = load_model("xgboost", model.to_bytes())
    for h, levels in [(7, (80, 95)), (28, (50, 80, 95)), (40, (80, 95)), (28, ())]:
        pd.testing.assert_frame_equal(model.predict(h, levels), reloaded.predict(h, levels))
    pd.testing.assert_series_equal(model.fitted(), reloaded.fitted())
    assert load_model("xgboost", reloaded.to_bytes()).predict(28).equals(model.predict(28))


def test_an_xgboost_model_stored_as_a_pickle_asks_for_a_retrain():
    with pytest.raises(ModelError, match="needs a retrain"):
        load_model("xgboost", joblib_bytes(Naive().fit(make_series(30))))


@pytest.mark.parametrize("name", MODELS)
def test_same_data_same_forecast(series, fitted, name):
    again = build(name, SETTINGS, "ES").fit(series)
    pd.testing.assert_frame_equal(fitted[name].predict(14), again.predict(14))


@pytest.mark.parametrize("name", MODELS)
def test_fitted_values_align_with_history(fitted, series, name):
    values = fitted[name].fitted()
    assert values.index.equals(series.index)
    assert values.notna().sum() >= len(series) // 2


@pytest.mark.parametrize("name", MODELS)
def test_error_ceiling(name):
    y = make_series(210, seed=3)
    train, test = y.iloc[:-14], y.iloc[-14:]
    forecast = build(name, SETTINGS, None).fit(train).predict(14)
    score = mase(test.to_numpy(), forecast["yhat"].to_numpy(), scale=mase_scale(train.to_numpy()))
    assert score < CEILING[name], f"{name} MASE {score:.3f}"


@pytest.mark.parametrize("name", MODELS)
def test_parameters_are_the_constructor_arguments_stored_once(name):
    """scikit-learn's rule: get_params reads the __init__ arguments back from the attributes of their names."""
    model = build(name, SETTINGS, "ES")
    params = model.get_params()
    assert list(params) == list(model.param_names())
    assert not hasattr(model, "params")  # no second copy to drift from the attributes
    assert json.loads(json.dumps(params)) == params
    assert type(model)(**params).get_params() == params  # the same model, unfitted


def test_a_composite_shows_its_members_parameters():
    members = [build("snaive", SETTINGS), build("theta", SETTINGS)]
    ensemble = EnsembleForecaster(members)
    assert ensemble.get_params() == {"members": [{"name": "snaive", "params": {"season": 7}},
                                                 {"name": "theta", "params": members[1].get_params()}]}
    assert repr(ensemble).startswith("EnsembleForecaster(members=[SeasonalNaive(season=7), ThetaForecaster(")


def test_a_model_taking_unnamed_parameters_is_refused():
    class Loose(Naive):
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    with pytest.raises(TypeError, match="must have a name"):
        Loose().get_params()


@pytest.mark.parametrize("name", [*MODELS, "ensemble"])
def test_every_model_declares_its_minimum_history_one_way(name):
    """A property on every model, whether constant or read from the parameters (cross-validation reads it)."""
    cls = model_class(name)
    owner = next(klass for klass in cls.__mro__ if "min_train_days" in vars(klass))
    assert owner is not Forecaster, f"{name} relies on the base class's minimum"
    assert isinstance(vars(owner)["min_train_days"], property)


def test_minimum_history_follows_the_parameters():
    assert build("snaive", SETTINGS).min_train_days == 7 and SeasonalNaive(season=14).min_train_days == 14
    assert EnsembleForecaster([Naive(), SeasonalNaive(season=10)]).min_train_days == 10
    with pytest.raises(DataError, match="needs at least 10 days"):
        SeasonalNaive(season=10).fit(make_series(9))


def test_a_model_is_asked_for_its_own_intervals_only_if_it_has_some_and_is_not_calibrated():
    asked = []

    class Spy:
        def _predict(self, h, levels):
            asked.append(levels)
            return super()._predict(h, levels)

    class SpyNaive(Spy, Naive):
        pass

    class SpyEnsemble(Spy, EnsembleForecaster):
        pass

    y = make_series(60)
    calibration = Conformal({80: [0.1], 95: [0.2]}, {80: 1.0, 95: 2.0}, floor=1.0)
    assert Naive.own_intervals and not EnsembleForecaster.own_intervals
    for model in (SpyNaive().fit(y), SpyEnsemble([Naive(), SeasonalNaive()]).fit(y)):
        uncalibrated = model.predict(7, (80, 95))
        calibrated = model.calibrate(calibration).predict(7, (80, 95))
        for forecast in (uncalibrated, calibrated):
            assert (forecast[lower_col(95)] < forecast["yhat"]).all()  # a band either way
    assert asked == [(80, 95), (), (), ()]


def joblib_bytes(value) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    return buffer.getvalue()


def test_short_history_is_refused_with_the_need():
    with pytest.raises(DataError, match="needs at least 63 days"):
        build("xgboost", SETTINGS).fit(make_series(30))


def test_bad_series_are_refused():
    with pytest.raises(DataError, match="empty"):
        build("naive", SETTINGS).fit(pd.Series([], dtype=float, index=pd.DatetimeIndex([])))
    broken = make_series(20)
    broken.iloc[3] = np.nan
    with pytest.raises(DataError, match="missing or infinite"):
        build("naive", SETTINGS).fit(broken)
    with pytest.raises(DataError, match="consecutive"):
        build("naive", SETTINGS).fit(make_series(20).drop(make_series(20).index[5]))


def test_corrupt_model_bytes_are_a_model_error():
    with pytest.raises(ModelError):
        load_model("ets", b"definitely not a model")
    with pytest.raises(ModelError, match="not a naive"):
        load_model("naive", build("snaive", SETTINGS).fit(make_series(30)).to_bytes())


def test_sanitize_repairs_nan_crossed_and_negative_bands():
    index = pd.date_range("2024-01-01", periods=3, freq="D")
    mean = np.array([np.nan, -5.0, 10.0])
    bands = {80: (np.array([1.0, np.nan, 12.0]), np.array([0.5, 3.0, np.inf])), 95: (None, None)}
    out = sanitize_forecast(index, mean, bands, (80, 95), fallback=2.0)
    assert np.isfinite(out.to_numpy()).all() and (out.to_numpy() >= 0).all()
    assert (out[lower_col(95)] <= out[lower_col(80)]).all() and (out[lower_col(80)] <= out["yhat"]).all()
    assert (out["yhat"] <= out[upper_col(80)]).all() and (out[upper_col(80)] <= out[upper_col(95)]).all()
