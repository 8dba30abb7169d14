"""Every string the dashboard shows, in English and Spanish, in one place.

`t("overview.sales_last", "es", days=7)` -> "Ventas últimos 7 días". Keys are
dotted by page; placeholders are `str.format` fields. A key missing in one
language falls back to English, then to `default`, then to the key itself,
so a forgotten string shows up as its key instead of breaking a page (a test
checks that every key used by the pages exists in both languages).
"""

from __future__ import annotations

import re
from typing import Any

LANGUAGES = {"en": "English", "es": "Español"}

STRINGS: dict[str, dict[str, str]] = {
    # --- app, navigation, sidebar ------------------------------------------------------------
    "app.title": {"en": "Sales forecast", "es": "Previsión de ventas"},
    "nav.overview": {"en": "Overview", "es": "Resumen"},
    "nav.forecast": {"en": "Forecast", "es": "Previsión"},
    "nav.anomalies": {"en": "Unusual days", "es": "Días atípicos"},
    "nav.notifications": {"en": "Notifications", "es": "Avisos"},
    "nav.comparison": {"en": "Model comparison", "es": "Comparación de modelos"},
    "nav.models": {"en": "Models & retrain", "es": "Modelos y reentreno"},
    "sidebar.tenant": {"en": "Business", "es": "Negocio"},
    "sidebar.tenant_help": {"en": "Type to search. Your choice is kept on every page.",
                            "es": "Escribe para buscar. La elección se mantiene en todas las páginas."},
    "sidebar.storage": {"en": "Data: **{backend}** · `{location}`", "es": "Datos: **{backend}** · `{location}`"},

    # --- sign-in ---------------------------------------------------------------------------------
    "auth.title": {"en": "Sign in", "es": "Iniciar sesión"},
    "auth.intro": {"en": "Sign in to see your business's sales forecast.",
                   "es": "Inicia sesión para ver la previsión de ventas de tu negocio."},
    "auth.username": {"en": "User name", "es": "Usuario"},
    "auth.password": {"en": "Password", "es": "Contraseña"},
    "auth.submit": {"en": "Sign in", "es": "Entrar"},
    "auth.failed": {"en": "Wrong user name or password.", "es": "Usuario o contraseña incorrectos."},
    "auth.ended": {"en": "Your session ended. Please sign in again.",
                   "es": "Tu sesión ha terminado. Vuelve a iniciar sesión."},
    "auth.no_users": {
        "en": "Sign-in is on, but there are no users yet. An administrator creates the first one on the server "
              "with `python -m forecasting users add NAME --role admin`.",
        "es": "El inicio de sesión está activado, pero aún no hay usuarios. Un administrador crea el primero en "
              "el servidor con `python -m forecasting users add NOMBRE --role admin`.",
    },
    "auth.off_banner": {
        "en": "Sign-in is off: anyone who can open this address sees every business. Fine on your own computer; "
              "set `AUTH_ENABLED=true` before sharing the dashboard.",
        "es": "El inicio de sesión está desactivado: quien abra esta dirección ve todos los negocios. Vale en tu "
              "ordenador; activa `AUTH_ENABLED=true` antes de compartir el panel.",
    },
    "auth.signed_in_as": {"en": ":material/person: `{name}` · {role}", "es": ":material/person: `{name}` · {role}"},
    "auth.sign_out": {"en": "Sign out", "es": "Cerrar sesión"},
    "auth.role.admin": {"en": "administrator", "es": "administrador"},
    "auth.role.analyst": {"en": "analyst", "es": "analista"},
    "auth.role.owner": {"en": "owner", "es": "propietario"},
    "auth.no_business": {
        "en": "Your user is not linked to a business that exists. Ask an administrator to check it.",
        "es": "Tu usuario no está vinculado a ningún negocio existente. Pide a un administrador que lo revise.",
    },
    "auth.jobs_forbidden": {"en": "Scheduled jobs are for administrators and analysts.",
                            "es": "Las tareas programadas son para administradores y analistas."},
    "auth.admins_only": {"en": "Only administrators run jobs by hand.",
                         "es": "Solo los administradores ejecutan tareas a mano."},

    # --- notifications, as stored (forecasting.services.notifications; values named by forecasting.i18n.messages) ----
    "notif.drift.title": {"en": "Forecast error is higher than usual", "es": "El error de la previsión es mayor de lo normal"},
    "notif.drift.message": {
        "en": "Over the last {days_num} days the forecast was off by {value_pct} ({metric}), above the alert "
              "threshold of {threshold_pct}. Sales may have changed pattern; check the Unusual days page and "
              "consider retraining.",
        "es": "En los últimos {days_num} días la previsión se desvió un {value_pct} ({metric}), por encima del "
              "umbral de aviso del {threshold_pct}. Puede que las ventas hayan cambiado; revisa la página Días "
              "atípicos y plantéate reentrenar.",
    },
    "notif.drift_cv.title": {"en": "Sales are hard to forecast for now", "es": "Por ahora las ventas son difíciles de prever"},
    "notif.drift_cv.message": {
        "en": "In back-tests on past sales the forecast was off by {value_pct} ({metric}), above the alert threshold "
              "of {threshold_pct}. Use the 80% and 95% ranges rather than the single line; the error is checked "
              "again against real sales as days go by.",
        "es": "En pruebas sobre ventas pasadas la previsión se desvió un {value_pct} ({metric}), por encima del "
              "umbral de aviso del {threshold_pct}. Usa los rangos del 80% y el 95% más que la línea central; el "
              "error se vuelve a comprobar con las ventas reales según pasen los días.",
    },
    "notif.low_stock.title": {"en": "Low stock: {product}", "es": "Poco stock: {product}"},
    "notif.low_stock.message": {"en": "{product} has {stock_num} units left (alert at {threshold_num}).",
                                "es": "A {product} le quedan {stock_num} unidades (aviso a partir de {threshold_num})."},
    "notif.forecast_drop.title": {"en": "Sales expected to fall next week",
                                  "es": "Se espera que las ventas bajen la próxima semana"},
    "notif.forecast_drop.message": {
        "en": "The forecast for the next 7 days ({next_money}) is {drop_pct} below the last 7 days ({last_money}).",
        "es": "La previsión de los próximos 7 días ({next_money}) está un {drop_pct} por debajo de los últimos "
              "7 días ({last_money}).",
    },
    "notif.anomaly.title": {"en": "Unusual sales on {day_date}", "es": "Ventas atípicas el {day_date}"},
    "notif.anomaly.higher": {
        "en": "Sales of {actual_money} were much higher than the expected {expected_money} (score {score_num}).",
        "es": "Las ventas, {actual_money}, fueron muy superiores a las esperadas, {expected_money} "
              "(puntuación {score_num}).",
    },
    "notif.anomaly.lower": {
        "en": "Sales of {actual_money} were much lower than the expected {expected_money} (score {score_num}).",
        "es": "Las ventas, {actual_money}, fueron muy inferiores a las esperadas, {expected_money} "
              "(puntuación {score_num}).",
    },
    "notif.daily.title": {"en": "Daily summary for {day_date}", "es": "Resumen del {day_date}"},
    "notif.daily.yesterday": {"en": "Yesterday's sales: {sales_money}.", "es": "Ventas de ayer: {sales_money}."},
    "notif.daily.yesterday_change": {
        "en": "Yesterday's sales: {sales_money} ({change_spct} vs the same day last week).",
        "es": "Ventas de ayer: {sales_money} ({change_spct} frente al mismo día de la semana pasada).",
    },
    "notif.daily.next7": {"en": "Expected next 7 days: {next_money} (last 7 days: {last_money}).",
                          "es": "Previsión próximos 7 días: {next_money} (últimos 7 días: {last_money})."},
    "notif.daily.no_sales": {"en": "No sales recorded yet.", "es": "Todavía no hay ventas registradas."},
    "notif.daily.unusual": {"en": "Unusual days in the last week: {count_num}.",
                            "es": "Días atípicos en la última semana: {count_num}."},
    "notif.daily.low_stock": {"en": "Products low on stock: {count_num}.",
                              "es": "Productos con poco stock: {count_num}."},
    "notif.daily.nothing": {"en": "Nothing to report.", "es": "Nada que destacar."},

    # --- messages and errors -----------------------------------------------------------------
    "msg.no_tenants": {
        "en": "There are no businesses in the database yet. Load the demo with "
              "`python -m forecasting demo --train` (or `make run`), or connect your sales database.",
        "es": "Todavía no hay negocios en la base de datos. Carga la demo con "
              "`python -m forecasting demo --train` (o `make run`), o conecta tu base de datos de ventas.",
    },
    "msg.no_sales": {
        "en": "**{name}** has no sales recorded yet. Once the shop records sales (or you import a CSV), "
              "this page fills in; then press **Retrain now** on the Models page.",
        "es": "**{name}** todavía no tiene ventas registradas. Cuando el negocio registre ventas (o importes un CSV), "
              "esta página se completará; después pulsa **Reentrenar ahora** en la página de Modelos.",
    },
    "msg.not_trained": {
        "en": "No forecast yet for **{name}** — press **Retrain now** on the Models page.",
        "es": "Todavía no hay previsión para **{name}**: pulsa **Reentrenar ahora** en la página de Modelos.",
    },
    "link.retrain": {"en": "Go to Models & retrain", "es": "Ir a Modelos y reentreno"},
    "link.settings": {"en": "Open the settings form", "es": "Abrir los ajustes"},
    "error.tenant": {"en": "This business's record can't be used as it is: {detail}. Correct it where the business "
                           "application keeps its details (the negocios table).",
                     "es": "La ficha de este negocio no se puede usar tal como está: {detail}. Corríjala donde la "
                           "aplicación del negocio guarda sus datos (la tabla negocios)."},
    "table.problem": {"en": "Problem", "es": "Problema"},
    "error.data": {"en": "The data can't be used as it is: {detail}",
                   "es": "Los datos no se pueden usar tal como están: {detail}"},
    "error.config": {"en": "A setting is invalid: {detail}. Correct it in the settings form on the Models page.",
                     "es": "Hay un ajuste no válido: {detail}. Corrígelo en los ajustes de la página de Modelos."},
    "error.storage": {
        "en": "The database could not be read: {detail}. Check FORECASTING_DB_PATH or DATABASE_URL and reload.",
        "es": "No se pudo leer la base de datos: {detail}. Revisa FORECASTING_DB_PATH o DATABASE_URL y recarga.",
    },
    "error.model": {"en": "The stored model can't be used: {detail}. Retraining fixes it.",
                    "es": "El modelo guardado no se puede usar: {detail}. Reentrenar lo soluciona."},
    "error.other": {"en": "Something went wrong: {detail}", "es": "Algo salió mal: {detail}"},

    # --- models and metrics ------------------------------------------------------------------
    "model.naive": {"en": "Naive (yesterday again)", "es": "Ingenuo (repite ayer)"},
    "model.snaive": {"en": "Seasonal naive (same day last week)", "es": "Ingenuo estacional (mismo día semana pasada)"},
    "model.ets": {"en": "Exponential smoothing (ETS)", "es": "Suavizado exponencial (ETS)"},
    "model.sarimax": {"en": "SARIMAX", "es": "SARIMAX"},
    "model.prophet": {"en": "Prophet", "es": "Prophet"},
    "model.xgboost": {"en": "XGBoost", "es": "XGBoost"},
    "model.lightgbm": {"en": "LightGBM", "es": "LightGBM"},
    "model.autoets": {"en": "AutoETS", "es": "AutoETS"},
    "model.theta": {"en": "Theta", "es": "Theta"},
    "model.ensemble": {"en": "Ensemble (average of the best)", "es": "Conjunto (promedio de los mejores)"},
    "model.ensemble.short": {"en": "Ensemble", "es": "Conjunto"},
    "model.naive.short": {"en": "Naive", "es": "Ingenuo"},
    "model.snaive.short": {"en": "Seasonal naive", "es": "Ingenuo estacional"},
    "model.ets.short": {"en": "ETS", "es": "ETS"},
    "metric.mase": {"en": "MASE (error vs. seasonal naive in-sample)",
                    "es": "MASE (error frente al ingenuo estacional)"},
    "metric.mae": {"en": "Mean absolute error", "es": "Error absoluto medio"},
    "metric.rmse": {"en": "Root mean squared error", "es": "Raíz del error cuadrático medio"},
    "metric.smape": {"en": "Symmetric MAPE", "es": "MAPE simétrico"},
    "metric.wape": {"en": "Weighted absolute % error", "es": "Error porcentual absoluto ponderado"},
    "metric.mape": {"en": "Mean absolute % error", "es": "Error porcentual absoluto medio"},
    "metric.mase.short": {"en": "MASE", "es": "MASE"},
    "metric.mae.short": {"en": "MAE", "es": "MAE"},
    "metric.rmse.short": {"en": "RMSE", "es": "RMSE"},
    "metric.smape.short": {"en": "sMAPE", "es": "sMAPE"},
    "metric.wape.short": {"en": "WAPE", "es": "WAPE"},
    "metric.mape.short": {"en": "MAPE", "es": "MAPE"},

    # --- overview -------------------------------------------------------------------------------
    "overview.title": {"en": "{name}", "es": "{name}"},
    "overview.caption": {"en": "{city} · amounts in {currency} · {day}",
                         "es": "{city} · importes en {currency} · {day}"},
    "overview.sales": {"en": "Sales", "es": "Ventas"},
    "overview.sales_last": {"en": "Sales, last {days} days", "es": "Ventas, últimos {days} días"},
    "overview.sales_help": {
        "en": "Total sales of the last {days} full days (refunds subtracted), compared with the {days} days before.",
        "es": "Ventas totales de los últimos {days} días completos (devoluciones restadas), frente a los {days} "
              "días anteriores.",
    },
    "overview.vs_before": {"en": "vs. previous {days} days", "es": "vs. {days} días anteriores"},
    "overview.forecast_next": {"en": "Forecast, next {days} days", "es": "Previsión, próximos {days} días"},
    "overview.forecast_help": {
        "en": "Expected total sales from today over the next {days} days, from the model in use.",
        "es": "Ventas totales esperadas desde hoy para los próximos {days} días, según el modelo en uso.",
    },
    "overview.vs_last": {"en": "vs. last {days} days", "es": "vs. últimos {days} días"},
    "overview.model": {"en": "Forecast model", "es": "Modelo de previsión"},
    "overview.model_in_use": {"en": "Model in use", "es": "Modelo en uso"},
    "overview.version": {"en": "Version {version}", "es": "Versión {version}"},
    "overview.last_trained": {"en": "Last trained", "es": "Último entrenamiento"},
    "overview.trained_ago": {"en": "{days} days ago", "es": "hace {days} días"},
    "overview.trained_today": {"en": "today", "es": "hoy"},
    "overview.trained_yesterday": {"en": "yesterday", "es": "ayer"},
    "overview.trained_until": {"en": "Learned from sales up to {day}.", "es": "Aprendió de las ventas hasta el {day}."},
    "overview.reliability": {"en": "How reliable it has been", "es": "Qué tan fiable ha sido"},
    "overview.off_by": {"en": "Off by {error}", "es": "Desvío del {error}"},
    "overview.unknown": {"en": "Not known yet", "es": "Aún no se sabe"},
    "overview.beats": {"en": "beats seasonal naive by {pct}", "es": "supera al ingenuo estacional en un {pct}"},
    "overview.worse": {"en": "{pct} worse than seasonal naive", "es": "{pct} peor que el ingenuo estacional"},
    "overview.reliability_issued": {
        "en": "Average gap between the forecasts made earlier and the sales that happened, over {days} days "
              "(as a share of sales), compared with repeating the same day of the week before. Sales fell inside "
              "the 80% range on {coverage} of those days.",
        "es": "Diferencia media entre las previsiones hechas antes y las ventas reales, en {days} días (como "
              "proporción de las ventas), comparada con repetir el mismo día de la semana anterior. Las ventas "
              "cayeron dentro del rango del 80% en el {coverage} de esos días.",
    },
    "overview.reliability_backtest": {
        "en": "Average gap between forecast and actual sales when the model was tested on past weeks it had not seen "
              "(as a share of sales), and how much smaller that gap is than repeating the same day of last week.",
        "es": "Diferencia media entre la previsión y las ventas reales al probar el modelo en semanas pasadas que no "
              "había visto (como proporción de las ventas), y cuánto menor es que repetir el mismo día de la semana "
              "pasada.",
    },
    "overview.score": {"en": "How the forecasts did", "es": "Cómo acertaron las previsiones"},
    "overview.score_caption": {
        "en": "Forecasts issued over the last {lookback} days, compared with the sales that happened on {days} days.",
        "es": "Previsiones hechas en los últimos {lookback} días, comparadas con las ventas reales de {days} días.",
    },
    "overview.score_early": {
        "en": "Only {days} day(s) so far: the figures will settle as more days are compared.",
        "es": "Solo {days} día(s) por ahora: las cifras se asentarán a medida que se comparen más días.",
    },
    "overview.score_none": {
        "en": "No forecast has been checked against sales yet: a forecast day is compared once that day is over. "
              "The first comparison appears on {day}, and this section fills in over the following weeks.",
        "es": "Todavía no se ha comparado ninguna previsión con las ventas: cada día previsto se compara cuando "
              "termina. La primera comparación aparecerá el {day} y esta sección se irá completando en las semanas "
              "siguientes.",
    },
    "overview.score_none_never": {
        "en": "No forecast has been checked against sales yet: forecasts are kept from the next retrain on, and "
              "each day is compared once it is over.",
        "es": "Todavía no se ha comparado ninguna previsión con las ventas: las previsiones se guardan a partir del "
              "próximo reentreno y cada día se compara cuando termina.",
    },
    "overview.score_error": {"en": "Typical error", "es": "Error típico"},
    "overview.score_error_help": {
        "en": "Average gap between the forecast and the sales of the same day, as a share of sales (WAPE).",
        "es": "Diferencia media entre la previsión y las ventas del mismo día, como proporción de las ventas (WAPE).",
    },
    "overview.score_vs_naive": {"en": "Against seasonal naive", "es": "Frente al ingenuo estacional"},
    "overview.score_vs_naive_help": {
        "en": "How much smaller our error was than that of repeating the same day of the week before, "
              "forecast on the same days.",
        "es": "Cuánto menor fue nuestro error que el de repetir el mismo día de la semana anterior, previsto en los "
              "mismos días.",
    },
    "overview.score_beats": {"en": "Beats it by {pct}", "es": "Lo supera en un {pct}"},
    "overview.score_worse": {"en": "{pct} worse", "es": "Un {pct} peor"},
    "overview.score_cov80": {"en": "Inside the likely range", "es": "Dentro del rango probable"},
    "overview.score_cov95": {"en": "Inside the wide range", "es": "Dentro del rango amplio"},
    "overview.score_aim": {"en": "aim: {pct}", "es": "objetivo: {pct}"},
    "overview.score_cov_help": {
        "en": "Share of days whose sales fell inside the {level} range drawn around the forecast.",
        "es": "Proporción de días cuyas ventas cayeron dentro del rango del {level} dibujado alrededor de la "
              "previsión.",
    },
    "overview.score_coverage": {
        "en": "The actual sales fell inside the likely range {c80} of the time (it aims at 80%) and inside the wide "
              "range {c95} of the time (it aims at 95%).",
        "es": "Las ventas reales cayeron dentro del rango probable el {c80} de las veces (apunta al 80%) y dentro del "
              "rango amplio el {c95} de las veces (apunta al 95%).",
    },
    "overview.score_verdict.ok": {"en": "The ranges are about right.", "es": "Los rangos son adecuados."},
    "overview.score_verdict.narrow": {
        "en": "Sales fell outside the likely range more often than it promises: the ranges are too narrow, so keep "
              "some extra margin when planning.",
        "es": "Las ventas se salieron del rango probable más a menudo de lo previsto: los rangos son demasiado "
              "estrechos, así que deja algo de margen al planificar.",
    },
    "overview.score_verdict.wide": {
        "en": "Sales fell inside the likely range more often than it promises: the ranges are wider than needed.",
        "es": "Las ventas cayeron dentro del rango probable más a menudo de lo previsto: los rangos son más amplios "
              "de lo necesario.",
    },
    "overview.score_over_time": {"en": "Error week by week", "es": "Error semana a semana"},
    "overview.score_by_step": {"en": "Error by days ahead", "es": "Error según los días de anticipación"},
    "overview.score_by_step_help": {
        "en": "1 = the forecast for the day it was made, 7 = six days later. Errors usually grow with the distance.",
        "es": "1 = la previsión para el mismo día en que se hizo, 7 = seis días después. El error suele crecer con la "
              "distancia.",
    },
    "overview.all": {"en": "All businesses", "es": "Todos los negocios"},
    "overview.all_caption": {
        "en": "The same figures for every business, each in its own currency. Error is the typical gap between "
              "forecast and sales; the last column compares it with seasonal naive.",
        "es": "Las mismas cifras para cada negocio, cada una en su moneda. El error es la diferencia típica entre "
              "previsión y ventas; la última columna la compara con el ingenuo estacional.",
    },

    # --- forecast ---------------------------------------------------------------------------------
    "forecast.title": {"en": "Forecast · {name}", "es": "Previsión · {name}"},
    "forecast.caption": {"en": "Model in use: {model}, trained {day}.",
                         "es": "Modelo en uso: {model}, entrenado el {day}."},
    "forecast.legend": {
        "en": "Dark line: actual sales. Teal line: forecast, with the range sales fall in 8 times out of 10 (darker) "
              "and 19 times out of 20 (lighter). Dashed grey: forecasts made earlier, under what really happened. "
              "Grey columns: weekends. Diamonds: public holidays. Drag to zoom, double-click to reset.",
        "es": "Línea oscura: ventas reales. Línea verde: previsión, con el rango en el que caen las ventas 8 de "
              "cada 10 veces (más oscuro) y 19 de cada 20 (más claro). Gris discontinuo: previsiones hechas antes, "
              "bajo lo que ocurrió de verdad. Columnas grises: fines de semana. Rombos: festivos. Arrastra para "
              "ampliar; doble clic para volver.",
    },
    "forecast.next_days": {"en": "Next {days} days", "es": "Próximos {days} días"},
    "forecast.download": {"en": "Download CSV", "es": "Descargar CSV"},
    "forecast.stale": {
        "en": "The stored forecast ends before today. Retrain to forecast the days ahead.",
        "es": "La previsión guardada termina antes de hoy. Reentrena para prever los próximos días.",
    },
    "chart.actual": {"en": "Actual sales", "es": "Ventas reales"},
    "chart.forecast": {"en": "Forecast", "es": "Previsión"},
    "chart.band80": {"en": "80% range", "es": "Rango 80%"},
    "chart.band95": {"en": "95% range", "es": "Rango 95%"},
    "chart.past_forecast": {"en": "Earlier forecasts", "es": "Previsiones anteriores"},
    "chart.holiday": {"en": "Holiday", "es": "Festivo"},
    "chart.today": {"en": " Today", "es": " Hoy"},
    "chart.expected": {"en": "Expected", "es": "Esperado"},
    "chart.anomaly": {"en": "Unusual day", "es": "Día atípico"},
    "chart.score": {"en": "score", "es": "puntuación"},
    "chart.step_axis": {"en": "Days ahead", "es": "Días de anticipación"},
    "chart.our_forecast": {"en": "Our forecast", "es": "Nuestra previsión"},
    "chart.error_axis": {"en": "Error (share of sales)", "es": "Error (proporción de ventas)"},
    "chart.fold_title": {"en": "Test {fold}: {start} – {end}", "es": "Prueba {fold}: {start} – {end}"},
    "chart.range.1m": {"en": "1m", "es": "1m"},
    "chart.range.3m": {"en": "3m", "es": "3m"},
    "chart.range.6m": {"en": "6m", "es": "6m"},
    "chart.range.1y": {"en": "1y", "es": "1a"},
    "chart.range.all": {"en": "All", "es": "Todo"},

    # --- model comparison -----------------------------------------------------------------------
    "comparison.title": {"en": "Model comparison · {name}", "es": "Comparación de modelos · {name}"},
    "comparison.version": {"en": "Model version", "es": "Versión del modelo"},
    "comparison.active_version": {"en": "Active model (latest training)", "es": "Modelo activo (último entrenamiento)"},
    "comparison.version_label": {"en": "{model} · trained {day}", "es": "{model} · entrenado {day}"},
    "comparison.no_cv": {
        "en": "This version has no cross-validation: the history was too short to test on. Retrain when there is "
              "more history.",
        "es": "Esta versión no tiene validación cruzada: el historial era demasiado corto para probar. Reentrena "
              "cuando haya más historial.",
    },
    "comparison.why": {
        "en": "**{model}** won: lowest {metric} ({value}) of {n} candidates, {margin} below the runner-up "
              "{runner} ({runner_value}). It was best in {won} of {folds} test periods.",
        "es": "**{model}** ganó: el {metric} más bajo ({value}) de {n} candidatos, un {margin} por debajo del segundo, "
              "{runner} ({runner_value}). Fue el mejor en {won} de {folds} periodos de prueba.",
    },
    "comparison.why_baseline": {
        "en": "Its error is {pct} lower than seasonal naive's (same day last week).",
        "es": "Su error es un {pct} menor que el del ingenuo estacional (mismo día de la semana pasada).",
    },
    "comparison.why_fixed": {
        "en": "**{model}** is used because model selection is off (ML_SELECT_BEST); the scores below are for "
              "reference.",
        "es": "Se usa **{model}** porque la selección de modelo está desactivada (ML_SELECT_BEST); las puntuaciones "
              "de abajo son de referencia.",
    },
    "comparison.setup": {
        "en": "Rolling-origin cross-validation: {folds} test periods of {horizon} days each, the model only ever sees "
              "days before the period it forecasts. Winner chosen by {metric}; lower is better for every metric.",
        "es": "Validación cruzada con origen móvil: {folds} periodos de prueba de {horizon} días; el modelo solo ve "
              "los días anteriores al periodo que prevé. Ganador elegido por {metric}; en todas las métricas, "
              "menos es mejor.",
    },
    "comparison.scores": {"en": "Scores of every candidate", "es": "Puntuaciones de cada candidato"},
    "comparison.metrics_help": {
        "en": "★ winner · bold: best value of each metric. MASE below 1 beats the in-sample seasonal naive; "
              "MAE and RMSE are in the business's currency; WAPE is the error as a share of sales.",
        "es": "★ ganador · negrita: mejor valor de cada métrica. Un MASE menor que 1 mejora al ingenuo estacional; "
              "MAE y RMSE están en la moneda del negocio; WAPE es el error como proporción de las ventas.",
    },
    "comparison.skipped": {"en": "Candidates that could not take part", "es": "Candidatos que no pudieron participar"},
    "comparison.by_fold": {"en": "{metric} in each test period", "es": "{metric} en cada periodo de prueba"},
    "comparison.by_step": {"en": "Error by days ahead", "es": "Error según días de anticipación"},
    "comparison.step_metric": {"en": "Metric", "es": "Métrica"},
    "comparison.by_weekday": {"en": "Error by weekday", "es": "Error por día de la semana"},
    "comparison.by_weekday_help": {"en": "Mean absolute error of the forecast day, over every test period.",
                                   "es": "Error absoluto medio del día previsto, en todos los periodos de prueba."},
    "comparison.folds": {"en": "Each test period: forecast against what happened",
                         "es": "Cada periodo de prueba: previsión frente a lo ocurrido"},
    "comparison.folds_models": {"en": "Models to draw", "es": "Modelos a dibujar"},

    # --- anomalies -------------------------------------------------------------------------------
    "anomalies.title": {"en": "Unusual days · {name}", "es": "Días atípicos · {name}"},
    "anomalies.threshold": {"en": "Threshold (higher = fewer days)", "es": "Umbral (más alto = menos días)"},
    "anomalies.threshold_help": {
        "en": "A day is unusual when its score (how far sales were from what the model expected, in robust standard "
              "deviations) is above this threshold. Moving it re-flags the days at once, without retraining; the "
              "training used {default}. To keep a new value, save it as ML_STL_ZTHRESH in the settings.",
        "es": "Un día es atípico cuando su puntuación (cuánto se alejaron las ventas de lo esperado, en desviaciones "
              "típicas robustas) supera este umbral. Moverlo vuelve a marcar los días al momento, sin reentrenar; el "
              "entrenamiento usó {default}. Para conservar un valor nuevo, guárdalo como ML_STL_ZTHRESH en los "
              "ajustes.",
    },
    "anomalies.count": {"en": "Unusual days", "es": "Días atípicos"},
    "anomalies.of_days": {"en": "of {days} days", "es": "de {days} días"},
    "anomalies.method": {"en": "Method", "es": "Método"},
    "anomalies.method.stl_resid": {"en": "STL residuals", "es": "Residuos STL"},
    "anomalies.method.stl_resid.help": {
        "en": "Each day's sales minus what the winning model expected; the weekly pattern of those gaps is removed "
              "(STL) and what is left is scored.",
        "es": "Ventas de cada día menos lo que esperaba el modelo ganador; se quita el patrón semanal de esas "
              "diferencias (STL) y se puntúa lo que queda.",
    },
    "anomalies.method.isolation_forest": {"en": "Isolation Forest", "es": "Isolation Forest"},
    "anomalies.method.isolation_forest.help": {
        "en": "An Isolation Forest on sales, the gap to the model and the weekday; its score is put on the same "
              "scale as the residual method.",
        "es": "Un Isolation Forest sobre ventas, diferencia con el modelo y día de la semana; su puntuación se pone "
              "en la misma escala que el método de residuos.",
    },
    "anomalies.threshold_used": {"en": "Threshold in the model", "es": "Umbral del modelo"},
    "anomalies.preview": {"en": "previewing {value}", "es": "probando {value}"},
    "anomalies.table": {"en": "Unusual days, newest first", "es": "Días atípicos, los más recientes primero"},
    "anomalies.none": {"en": "No day is above this threshold.", "es": "Ningún día supera este umbral."},

    # --- models and retrain ----------------------------------------------------------------------
    "models.title": {"en": "Models & retrain · {name}", "es": "Modelos y reentreno · {name}"},
    "models.retrain": {"en": "Retrain", "es": "Reentrenar"},
    "models.retrain_help": {
        "en": "Reads the sales, tests every candidate model on past weeks, fits the winner on all the history, "
              "saves the forecast and flags unusual days. The weekly schedule does the same on its own.",
        "es": "Lee las ventas, prueba cada modelo candidato en semanas pasadas, ajusta el ganador con todo el "
              "historial, guarda la previsión y marca los días atípicos. La tarea semanal hace lo mismo sola.",
    },
    "models.retrain_now": {"en": "Retrain now", "es": "Reentrenar ahora"},
    "models.retraining": {"en": "Retraining {name}…", "es": "Reentrenando {name}…"},
    "models.retrain_failed": {"en": "Retrain failed", "es": "El reentreno falló"},
    "models.retrain_done": {"en": "Retrain finished in {seconds} s: {model} wins",
                            "es": "Reentreno terminado en {seconds} s: gana {model}"},
    "models.retrain_error": {"en": "The retrain did not finish: {detail}", "es": "El reentreno no terminó: {detail}"},
    "models.retrain_error_hint": {
        "en": "The previous model and forecast are still in use. Check the data and try again.",
        "es": "Se siguen usando el modelo y la previsión anteriores. Revisa los datos e inténtalo de nuevo.",
    },
    "models.retrain_error_busy": {
        "en": "This business is being retrained right now (by the weekly schedule or another user). Its new forecast "
              "appears here when that run ends; there is no need to start another.",
        "es": "Este negocio se está reentrenando ahora mismo (por la tarea semanal u otra persona). Su nueva previsión "
              "aparecerá aquí cuando termine; no hace falta lanzar otro reentreno.",
    },
    "models.retrain_error_config": {
        "en": "The previous model and forecast are still in use. Correct the setting below, save, and retrain.",
        "es": "Se siguen usando el modelo y la previsión anteriores. Corrige el ajuste de abajo, guarda y reentrena.",
    },
    "models.retrain_summary": {
        "en": "New model: **{model}**, the best of {candidates} candidates on past weeks. Saved {days} forecast days; "
              "{anomalies} unusual days in {history} days of history. Took {seconds} s.",
        "es": "Nuevo modelo: **{model}**, el mejor de {candidates} candidatos en semanas pasadas. Se guardaron {days} "
              "días de previsión; {anomalies} días atípicos en {history} días de historial. Tardó {seconds} s.",
    },
    "models.retrain_skipped": {"en": "Not tested: {models}", "es": "Sin probar: {models}"},
    "models.retrain_drift": {
        "en": "Recent forecast error is above the alert threshold; a notification was raised.",
        "es": "El error reciente de la previsión supera el umbral de alerta; se creó un aviso.",
    },
    "models.versions": {"en": "Model versions", "es": "Versiones del modelo"},
    "models.versions_help": {
        "en": "Every training keeps its version; the active one makes the forecasts. CV scores are the winner's "
              "in its cross-validation.",
        "es": "Cada entrenamiento guarda su versión; la activa es la que hace las previsiones. Las puntuaciones CV "
              "son las del ganador en su validación cruzada.",
    },
    "models.no_versions": {"en": "No model has been trained yet — press Retrain now.",
                           "es": "Todavía no se ha entrenado ningún modelo: pulsa Reentrenar ahora."},
    "progress.series": {"en": "Reading sales", "es": "Leyendo ventas"},
    "progress.cv": {"en": "Testing {detail} on past weeks", "es": "Probando {detail} en semanas pasadas"},
    "progress.final_fit": {"en": "Fitting {detail} on all the history",
                           "es": "Ajustando {detail} con todo el historial"},
    "progress.saving": {"en": "Saving the {detail}", "es": "Guardando {detail}"},
    "progress.anomalies": {"en": "Flagging unusual days ({detail})", "es": "Marcando días atípicos ({detail})"},
    "progress.done": {"en": "Done: {detail} wins", "es": "Listo: gana {detail}"},
    "progress.detail.forecast": {"en": "forecast", "es": "la previsión"},
    "progress.detail.model": {"en": "model", "es": "el modelo"},
    "progress.detail.reading sales": {"en": "sales", "es": "ventas"},
    "progress.detail.stl_resid": {"en": "model residuals", "es": "residuos del modelo"},
    "progress.detail.isolation_forest": {"en": "Isolation Forest", "es": "Isolation Forest"},

    # --- settings form ----------------------------------------------------------------------------
    "import.title": {"en": "Import sales from a CSV file", "es": "Importar ventas desde un archivo CSV"},
    "import.caption": {
        "en": "Columns id, fecha (date and time) and total; optional producto_id and cantidad. Comma, semicolon "
              "or tab; decimal comma or point; refunds as negative totals. Every row is imported, or none if any "
              "is wrong; importing the same file again adds nothing.",
        "es": "Columnas id, fecha (fecha y hora) y total; opcionales producto_id y cantidad. Separadas por coma, "
              "punto y coma o tabulador; coma o punto decimal; devoluciones con total negativo. Se importan todas "
              "las filas, o ninguna si alguna está mal; volver a importar el mismo archivo no añade nada.",
    },
    "import.file": {"en": "CSV file", "es": "Archivo CSV"},
    "import.go": {"en": "Import", "es": "Importar"},
    "import.done": {"en": "Imported: {summary}", "es": "Importado: {summary}"},
    "import.failed": {"en": "Nothing was imported: {problems} problem(s) on {lines} line(s). Fix these rows and "
                            "upload the file again.",
                      "es": "No se importó nada: {problems} problema(s) en {lines} línea(s). Corrige estas filas y "
                            "vuelve a subir el archivo."},
    "settings.title": {"en": "Settings for this business", "es": "Ajustes de este negocio"},
    "settings.caption": {
        "en": "Changes apply from the next retrain. Only values that differ from the defaults are stored for this "
              "business (✎ marks them).",
        "es": "Los cambios se aplican desde el próximo reentreno. Solo se guardan para este negocio los valores que "
              "difieren de los predeterminados (marcados con ✎).",
    },
    "settings.group.models": {"en": "Models and selection", "es": "Modelos y selección"},
    "settings.group.seasonality": {"en": "Seasonality and holidays", "es": "Estacionalidad y festivos"},
    "settings.group.anomalies": {"en": "Unusual days", "es": "Días atípicos"},
    "settings.group.data": {"en": "History and alerts", "es": "Historial y alertas"},
    "settings.model_candidates": {"en": "Candidate models", "es": "Modelos candidatos"},
    "settings.model_candidates.help": {"en": "Models that compete in cross-validation.",
                                       "es": "Modelos que compiten en la validación cruzada."},
    "settings.select_best": {"en": "Pick the best model", "es": "Elegir el mejor modelo"},
    "settings.select_best.help": {"en": "When off, the first candidate is always used.",
                                  "es": "Si se desactiva, siempre se usa el primer candidato."},
    "settings.cv_primary_metric": {"en": "Metric that picks the winner", "es": "Métrica que elige al ganador"},
    "settings.cv_primary_metric.help": {"en": "Lower is better.", "es": "Menos es mejor."},
    "settings.ensemble_top_k": {"en": "Models averaged in the ensemble", "es": "Modelos promediados en el conjunto"},
    "settings.ensemble_top_k.help": {
        "en": "The average of the best K candidates competes as one more candidate; 0 or 1 turns it off.",
        "es": "El promedio de los K mejores candidatos compite como un candidato más; 0 o 1 lo desactiva.",
    },
    "settings.horizon_days": {"en": "Days to forecast", "es": "Días a prever"},
    "settings.horizon_days.help": {"en": "Also the length of each test period.",
                                   "es": "También la duración de cada periodo de prueba."},
    "settings.cv_folds": {"en": "Test periods", "es": "Periodos de prueba"},
    "settings.cv_folds.help": {"en": "Rolling-origin cross-validation folds, one horizon apart.",
                               "es": "Particiones de validación cruzada con origen móvil, separadas un horizonte."},
    "settings.holidays_country": {"en": "Holidays country (ISO code)", "es": "País de los festivos (código ISO)"},
    "settings.holidays_country.help": {"en": "Two-letter code such as ES, MX, AR, CO, US, CL; empty for none.",
                                       "es": "Código de dos letras como ES, MX, AR, CO, US, CL; vacío para ninguno."},
    "settings.seasonality_mode": {"en": "Prophet seasonality", "es": "Estacionalidad de Prophet"},
    "settings.seasonality_mode.help": {"en": "Multiplicative when the weekly swing grows with sales.",
                                       "es": "Multiplicativa si la oscilación semanal crece con las ventas."},
    "settings.log_transform": {"en": "Fit Prophet on log sales", "es": "Ajustar Prophet sobre log de ventas"},
    "settings.log_transform.help": {"en": "Helps with sales that vary a lot in size.",
                                    "es": "Ayuda con ventas de tamaño muy variable."},
    "settings.sarimax_order": {"en": "SARIMAX order (p,d,q)", "es": "Orden SARIMAX (p,d,q)"},
    "settings.sarimax_order.help": {"en": "Three non-negative integers, e.g. 1,1,1.",
                                    "es": "Tres enteros no negativos, p. ej. 1,1,1."},
    "settings.sarimax_seasonal": {"en": "SARIMAX seasonal order (P,D,Q,s)", "es": "Orden estacional SARIMAX (P,D,Q,s)"},
    "settings.sarimax_seasonal.help": {"en": "Four non-negative integers, e.g. 1,1,1,7.",
                                       "es": "Cuatro enteros no negativos, p. ej. 1,1,1,7."},
    "settings.anomaly_method": {"en": "Unusual-day method", "es": "Método de días atípicos"},
    "settings.anomaly_method.help": {"en": "How unusual days are scored.", "es": "Cómo se puntúan los días atípicos."},
    "settings.stl_period": {"en": "Seasonal period (days)", "es": "Periodo estacional (días)"},
    "settings.stl_period.help": {"en": "7 for a weekly pattern.", "es": "7 para un patrón semanal."},
    "settings.stl_zthresh": {"en": "Unusual-day threshold", "es": "Umbral de día atípico"},
    "settings.stl_zthresh.help": {"en": "Score above which a day is flagged; must be above 0.",
                                  "es": "Puntuación a partir de la cual se marca un día; debe ser mayor que 0."},
    "settings.max_train_window_days": {"en": "Days of history used", "es": "Días de historial usados"},
    "settings.max_train_window_days.help": {"en": "The most recent days the models learn from.",
                                            "es": "Los días más recientes de los que aprenden los modelos."},
    "settings.error_alert_mape": {"en": "Error alert threshold", "es": "Umbral de alerta de error"},
    "settings.error_alert_mape.help": {
        "en": "Recent forecast error (0.30 = 30%) above which a drift notification is raised; must be above 0.",
        "es": "Error reciente de la previsión (0,30 = 30%) por encima del cual se crea un aviso; debe ser mayor que 0.",
    },
    "settings.env_hint": {"en": "Setting `{env}`; default `{default_value}`.",
                          "es": "Ajuste `{env}`; predeterminado `{default_value}`."},
    "settings.save": {"en": "Save settings", "es": "Guardar ajustes"},
    "settings.saved": {"en": "Saved: {count} setting(s) differ from the defaults. They apply from the next retrain.",
                       "es": "Guardado: {count} ajuste(s) difieren de los predeterminados. Se aplican desde el "
                             "próximo reentreno."},
    "settings.saved_none": {"en": "Saved: this business uses the defaults.",
                            "es": "Guardado: este negocio usa los valores predeterminados."},
    "settings.invalid": {"en": "Not saved. {detail}", "es": "No se guardó. {detail}"},
    "settings.stored_invalid": {
        "en": "The stored settings of this business are invalid ({detail}); the form shows the defaults. Save it to "
              "repair them.",
        "es": "Los ajustes guardados de este negocio no son válidos ({detail}); el formulario muestra los "
              "predeterminados. Guárdalo para repararlos.",
    },
    "settings.reset": {"en": "Reset to defaults", "es": "Volver a los predeterminados"},
    "settings.reset_help": {"en": "Removes every setting stored for this business.",
                            "es": "Elimina todos los ajustes guardados para este negocio."},
    "settings.reset_done": {"en": "This business uses the default settings again.",
                            "es": "Este negocio vuelve a usar los ajustes predeterminados."},
    "choice.mase": {"en": "MASE", "es": "MASE"},
    "choice.mae": {"en": "MAE", "es": "MAE"},
    "choice.rmse": {"en": "RMSE", "es": "RMSE"},
    "choice.smape": {"en": "sMAPE", "es": "sMAPE"},
    "choice.wape": {"en": "WAPE", "es": "WAPE"},
    "choice.mape": {"en": "MAPE", "es": "MAPE"},
    "choice.additive": {"en": "Additive", "es": "Aditiva"},
    "choice.multiplicative": {"en": "Multiplicative", "es": "Multiplicativa"},
    "choice.stl_resid": {"en": "Model residuals (STL)", "es": "Residuos del modelo (STL)"},
    "choice.isolation_forest": {"en": "Isolation Forest", "es": "Isolation Forest"},

    # --- notifications -------------------------------------------------------------------------
    "notifications.title": {"en": "Notifications · {name}", "es": "Avisos · {name}"},
    "notifications.unread_only": {"en": "Unread only", "es": "Solo sin leer"},
    "notifications.mark_all": {"en": "Mark all as read", "es": "Marcar todo como leído"},
    "notifications.mark_read": {"en": "Mark as read", "es": "Marcar como leído"},
    "notifications.new": {"en": "new", "es": "nuevo"},
    "notifications.count": {"en": "{total} shown · {unread} unread", "es": "{total} mostrados · {unread} sin leer"},
    "notifications.empty": {"en": "No notifications for this business yet.",
                            "es": "Todavía no hay avisos para este negocio."},
    "notifications.empty_unread": {"en": "Everything is read.", "es": "Todo está leído."},
    "notifications.meta": {"en": "{when} · {kind} · {severity}", "es": "{when} · {kind} · {severity}"},
    "notifications.kind.drift": {"en": "forecast error alert", "es": "alerta de error de previsión"},
    "notifications.kind.daily_summary": {"en": "daily summary", "es": "resumen diario"},
    "notifications.kind.anomaly": {"en": "unusual day", "es": "día atípico"},
    "notifications.kind.forecast_drop": {"en": "expected drop in sales", "es": "caída prevista de ventas"},
    "notifications.kind.low_stock": {"en": "low stock", "es": "poco stock"},
    "notifications.severity.info": {"en": "information", "es": "información"},
    "notifications.severity.warning": {"en": "warning", "es": "advertencia"},
    "notifications.severity.error": {"en": "error", "es": "error"},

    # --- scheduled jobs ---------------------------------------------------------------------------
    "nav.jobs": {"en": "Jobs", "es": "Tareas"},
    "jobs.title": {"en": "Scheduled jobs", "es": "Tareas programadas"},
    "jobs.caption": {
        "en": "Background work of this deployment: retraining, notifications, clean-ups and the database check. "
              "Times in {timezone} (SCHEDULER_TIMEZONE).",
        "es": "El trabajo de fondo de esta instalación: reentrenos, avisos, limpiezas y la comprobación de la base de "
              "datos. Horas en {timezone} (SCHEDULER_TIMEZONE).",
    },
    "jobs.scheduler": {"en": "Scheduler in this process", "es": "Planificador en este proceso"},
    "jobs.scheduler_leading": {"en": "On · running the schedule", "es": "Activo · ejecuta el calendario"},
    "jobs.scheduler_leading_help": {
        "en": "This process holds the scheduler lease: scheduled runs happen here.",
        "es": "Este proceso tiene el turno del planificador: las ejecuciones programadas ocurren aquí.",
    },
    "jobs.scheduler_standby": {"en": "On · standing by", "es": "Activo · en espera"},
    "jobs.scheduler_standby_help": {
        "en": "Another process runs the schedule; this one takes over within seconds if that one stops.",
        "es": "Otro proceso ejecuta el calendario; este toma el relevo en segundos si aquel se detiene.",
    },
    "jobs.scheduler_off": {"en": "Off", "es": "Desactivado"},
    "jobs.scheduler_off_help": {
        "en": "SCHEDULER_ENABLED is off here, so this process runs no schedule. Run now still runs a job, in this "
              "process.",
        "es": "SCHEDULER_ENABLED está desactivado aquí, así que este proceso no ejecuta el calendario. «Ejecutar "
              "ahora» sigue ejecutando la tarea, en este proceso.",
    },
    "jobs.leader": {"en": "Scheduler leader", "es": "Proceso al mando"},
    "jobs.leader_us": {"en": "This process", "es": "Este proceso"},
    "jobs.leader_none": {"en": "Nobody", "es": "Nadie"},
    "jobs.leader_none_help": {
        "en": "No process holds the scheduler lease, so no scheduled run happens. Start a process with "
              "SCHEDULER_ENABLED on (the dashboard, or `python -m forecasting scheduler`).",
        "es": "Ningún proceso tiene el turno del planificador, así que no hay ejecuciones programadas. Arranca un "
              "proceso con SCHEDULER_ENABLED activado (el panel, o `python -m forecasting scheduler`).",
    },
    "jobs.lease_until": {"en": "Lease renewed until {time} ({relative}).",
                         "es": "Turno renovado hasta las {time} ({relative})."},
    "jobs.lease_expired": {"en": "The lease of {holder} expired {relative}.",
                           "es": "El turno de {holder} caducó {relative}."},
    "jobs.process": {"en": "This process: {holder}", "es": "Este proceso: {holder}"},
    "jobs.running_now": {"en": "Running now", "es": "En curso"},
    "jobs.running_none": {"en": "Nothing", "es": "Nada"},
    "jobs.running_refresh": {"en": "This page refreshes every {seconds} s while a job runs.",
                             "es": "Esta página se actualiza cada {seconds} s mientras una tarea está en curso."},
    "jobs.idle_refresh": {"en": "This page refreshes every {seconds} s.",
                          "es": "Esta página se actualiza cada {seconds} s."},
    "jobs.schedule": {"en": "Runs {trigger} · next {when} ({relative})",
                      "es": "Se ejecuta {trigger} · próxima: {when} ({relative})"},
    "jobs.schedule_no_next": {"en": "Runs {trigger}", "es": "Se ejecuta {trigger}"},
    "jobs.never_ran": {"en": "Not run yet", "es": "Aún no se ha ejecutado"},
    "jobs.last_run": {"en": "{when} · {trigger} · {duration}", "es": "{when} · {trigger} · {duration}"},
    "jobs.run_now": {"en": "Run now", "es": "Ejecutar ahora"},
    "jobs.run_now_help": {
        "en": "Runs the job once now, recorded as a manual run. The scheduled runs are not affected.",
        "es": "Ejecuta la tarea una vez ahora, registrada como ejecución manual. Las programadas no cambian.",
    },
    "jobs.running_button": {"en": "Running…", "es": "En curso…"},
    "jobs.started_toast": {"en": "Started: {job}", "es": "Iniciada: {job}"},
    "jobs.already_running": {
        "en": "Not started again: it is already running since {time} (in {holder}).",
        "es": "No se inició otra vez: ya está en curso desde las {time} (en {holder}).",
    },
    "jobs.already_starting": {"en": "Not started again: it is already starting.",
                              "es": "No se inició otra vez: ya se está iniciando."},
    "jobs.progress": {"en": "{done} of {total} businesses done, {failed} failed · running for {duration}",
                      "es": "{done} de {total} negocios hechos, {failed} fallidos · en curso desde hace {duration}"},
    "jobs.progress_single": {"en": "Running for {duration}…", "es": "En curso desde hace {duration}…"},
    "jobs.last_failed": {"en": "The last run failed ({when}): {error}",
                         "es": "La última ejecución falló ({when}): {error}"},
    "jobs.last_partial": {
        "en": "The last run finished, but {failed} business(es) failed ({when}): {error}",
        "es": "La última ejecución terminó, pero fallaron {failed} negocio(s) ({when}): {error}",
    },
    "jobs.last_interrupted": {"en": "The last run was interrupted ({when}): {error}",
                              "es": "La última ejecución se interrumpió ({when}): {error}"},
    "jobs.last_stalled": {
        "en": "The last run stopped reporting progress at {when}: the process running it has probably stopped. "
              "The next scheduler leader marks it interrupted; Run now is available meanwhile.",
        "es": "La última ejecución dejó de informar a las {when}: probablemente el proceso que la ejecutaba se "
              "detuvo. El próximo proceso al mando la marcará como interrumpida; mientras tanto puedes ejecutarla.",
    },
    "jobs.no_error_text": {"en": "no error text was recorded", "es": "no se registró el texto del error"},
    "jobs.runs": {"en": "Last runs", "es": "Últimas ejecuciones"},
    "jobs.no_runs": {"en": "No runs recorded yet.", "es": "Aún no hay ejecuciones registradas."},
    "jobs.this_process": {"en": "this process", "es": "este proceso"},
    "jobs.status.success": {"en": "Success", "es": "Correcta"},
    "jobs.status.partial": {"en": "Partly failed", "es": "Falló en parte"},
    "jobs.status.failed": {"en": "Failed", "es": "Fallida"},
    "jobs.status.running": {"en": "Running", "es": "En curso"},
    "jobs.status.interrupted": {"en": "Interrupted", "es": "Interrumpida"},
    "jobs.status.stalled": {"en": "No heartbeat", "es": "Sin señal"},
    "jobs.trigger.schedule": {"en": "scheduled", "es": "programada"},
    "jobs.trigger.manual": {"en": "run now", "es": "manual"},
    "job.retrain_all": {"en": "Retrain all businesses", "es": "Reentrenar todos los negocios"},
    "job.retrain_all.help": {
        "en": "Tests the candidate models again on each business's latest sales, keeps the best and saves fresh "
              "forecasts.",
        "es": "Vuelve a probar los modelos candidatos con las últimas ventas de cada negocio, se queda con el mejor "
              "y guarda previsiones nuevas.",
    },
    "job.refresh_features": {"en": "Refresh sales features", "es": "Actualizar variables de ventas"},
    "job.refresh_features.help": {
        "en": "Rewrites recent sales features and the stock snapshot, so new sales show within the hour.",
        "es": "Reescribe las variables recientes de ventas y la foto del stock, para que las ventas nuevas se vean "
              "en menos de una hora.",
    },
    "job.daily_notifications": {"en": "Daily summaries", "es": "Resúmenes diarios"},
    "job.daily_notifications.help": {"en": "Writes each business's summary of yesterday's sales.",
                                     "es": "Escribe para cada negocio el resumen de las ventas de ayer."},
    "job.check_notification_rules": {"en": "Check alert rules", "es": "Revisar reglas de aviso"},
    "job.check_notification_rules.help": {
        "en": "Checks low stock, expected drops, unusual days and forecast error for each business, and raises "
              "notifications.",
        "es": "Revisa poco stock, caídas previstas, días atípicos y error de previsión de cada negocio, y crea avisos.",
    },
    "job.cleanup_notifications": {"en": "Delete old notifications", "es": "Borrar avisos antiguos"},
    "job.cleanup_notifications.help": {"en": "Deletes notifications older than 30 days.",
                                       "es": "Borra los avisos de hace más de 30 días."},
    "job.cleanup_predictions": {"en": "Delete old predictions", "es": "Borrar predicciones antiguas"},
    "job.cleanup_predictions.help": {
        "en": "Deletes predictions not rewritten for 90 days and forecast history older than 400 days.",
        "es": "Borra las predicciones sin reescribir en 90 días y el historial de previsiones de más de 400 días.",
    },
    "job.health_check": {"en": "Database health check", "es": "Comprobación de la base de datos"},
    "job.health_check.help": {"en": "Reaches the database and times a round trip.",
                              "es": "Conecta con la base de datos y mide el tiempo de respuesta."},
    "trigger.every_second": {"en": "every second", "es": "cada segundo"},
    "trigger.every_seconds": {"en": "every {n} seconds", "es": "cada {n} segundos"},
    "trigger.every_minute": {"en": "every minute", "es": "cada minuto"},
    "trigger.every_minutes": {"en": "every {n} minutes", "es": "cada {n} minutos"},
    "trigger.every_hour": {"en": "every hour", "es": "cada hora"},
    "trigger.every_hours": {"en": "every {n} hours", "es": "cada {n} horas"},
    "trigger.every_day": {"en": "every day", "es": "cada día"},
    "trigger.every_days": {"en": "every {n} days", "es": "cada {n} días"},
    "trigger.every_week": {"en": "every week", "es": "cada semana"},
    "trigger.every_weeks": {"en": "every {n} weeks", "es": "cada {n} semanas"},
    "trigger.hourly_at": {"en": "every hour at :{minute}", "es": "cada hora, en el minuto {minute}"},
    "trigger.at": {"en": "at {times}", "es": "a las {times}"},
    "trigger.at_one": {"en": "at {times}", "es": "a la {times}"},
    "trigger.daily": {"en": "daily {at}", "es": "todos los días {at}"},
    "trigger.on_days": {"en": "{days} {at}", "es": "{days} {at}"},
    "trigger.monthly": {"en": "on day {days} of each month {at}", "es": "el día {days} de cada mes {at}"},
    "trigger.day_range": {"en": "{first} to {last}", "es": "de {first} a {last}"},
    "trigger.and": {"en": " and ", "es": " y "},
    "trigger.cron": {"en": "on the cron schedule `{expression}`", "es": "según el cron `{expression}`"},
    "weekday.mon": {"en": "Monday", "es": "lunes"},
    "weekday.tue": {"en": "Tuesday", "es": "martes"},
    "weekday.wed": {"en": "Wednesday", "es": "miércoles"},
    "weekday.thu": {"en": "Thursday", "es": "jueves"},
    "weekday.fri": {"en": "Friday", "es": "viernes"},
    "weekday.sat": {"en": "Saturday", "es": "sábado"},
    "weekday.sun": {"en": "Sunday", "es": "domingo"},
    "weekday.mon.plural": {"en": "Mondays", "es": "los lunes"},
    "weekday.tue.plural": {"en": "Tuesdays", "es": "los martes"},
    "weekday.wed.plural": {"en": "Wednesdays", "es": "los miércoles"},
    "weekday.thu.plural": {"en": "Thursdays", "es": "los jueves"},
    "weekday.fri.plural": {"en": "Fridays", "es": "los viernes"},
    "weekday.sat.plural": {"en": "Saturdays", "es": "los sábados"},
    "weekday.sun.plural": {"en": "Sundays", "es": "los domingos"},

    # --- tables -----------------------------------------------------------------------------------
    "table.business": {"en": "Business", "es": "Negocio"},
    "table.currency": {"en": "Currency", "es": "Moneda"},
    "table.sales_7": {"en": "Sales 7 d", "es": "Ventas 7 d"},
    "table.change_7": {"en": "Δ 7 d", "es": "Δ 7 d"},
    "table.sales_30": {"en": "Sales 30 d", "es": "Ventas 30 d"},
    "table.change_30": {"en": "Δ 30 d", "es": "Δ 30 d"},
    "table.forecast_7": {"en": "Forecast 7 d", "es": "Previsión 7 d"},
    "table.forecast_30": {"en": "Forecast 30 d", "es": "Previsión 30 d"},
    "table.model": {"en": "Model", "es": "Modelo"},
    "table.not_trained": {"en": "not trained", "es": "sin entrenar"},
    "table.last_trained": {"en": "Last trained", "es": "Último entrenamiento"},
    "table.error": {"en": "Error", "es": "Error"},
    "table.vs_baseline": {"en": "vs. naive", "es": "vs. ingenuo"},
    "table.day": {"en": "Day", "es": "Día"},
    "table.forecast": {"en": "Forecast", "es": "Previsión"},
    "table.range80": {"en": "Likely range (80%)", "es": "Rango probable (80%)"},
    "table.range95": {"en": "Wide range (95%)", "es": "Rango amplio (95%)"},
    "table.rank": {"en": "#", "es": "#"},
    "table.reason": {"en": "Reason", "es": "Motivo"},
    "table.fold": {"en": "Test {fold} · {start}–{end}", "es": "Prueba {fold} · {start}–{end}"},
    "table.sales": {"en": "Sales", "es": "Ventas"},
    "table.expected": {"en": "Expected", "es": "Esperado"},
    "table.gap": {"en": "Gap", "es": "Diferencia"},
    "table.score": {"en": "Score", "es": "Puntuación"},
    "table.kind": {"en": "Kind", "es": "Tipo"},
    "table.kind.spike": {"en": "spike", "es": "pico"},
    "table.kind.drop": {"en": "drop", "es": "caída"},
    "table.active": {"en": "Active", "es": "Activo"},
    "table.version": {"en": "Version", "es": "Versión"},
    "table.trained": {"en": "Trained", "es": "Entrenado"},
    "table.trained_until": {"en": "Data until", "es": "Datos hasta"},
    "table.history_days": {"en": "Days of history", "es": "Días de historial"},
    "table.cv_mase": {"en": "CV MASE", "es": "MASE (CV)"},
    "table.cv_wape": {"en": "CV WAPE", "es": "WAPE (CV)"},
    "table.accuracy": {"en": "Accuracy", "es": "Precisión"},
    "table.status": {"en": "Status", "es": "Estado"},
    "table.trigger": {"en": "Started by", "es": "Origen"},
    "table.started": {"en": "Started", "es": "Inicio"},
    "table.duration": {"en": "Duration", "es": "Duración"},
    "table.done": {"en": "Done", "es": "Hechos"},
    "table.failed": {"en": "Failed", "es": "Fallidos"},
    "table.error_text": {"en": "Error", "es": "Error"},
    "table.process": {"en": "Process", "es": "Proceso"},

    # --- a stored model that can't forecast (the overview reports it; pages never retrain on their own) ----------
    "overview.model_stale": {
        "en": "The stored model was made with other versions of the forecasting libraries, so this installation "
              "can't use it: forecasts past the stored days are missing. Retrain to replace it.",
        "es": "El modelo guardado se hizo con otras versiones de las bibliotecas de previsión, así que esta "
              "instalación no puede usarlo: faltan las previsiones más allá de los días guardados. Reentrena para "
              "reemplazarlo.",
    },
    "overview.model_unusable": {
        "en": "The stored model can't be used ({detail}): forecasts past the stored days are missing. Retrain to "
              "replace it.",
        "es": "El modelo guardado no se puede usar ({detail}): faltan las previsiones más allá de los días "
              "guardados. Reentrena para reemplazarlo.",
    },
    "overview.retrain_help": {
        "en": "Trains a new model from the sales now, as the Models page does (it can take a minute).",
        "es": "Entrena ahora un modelo nuevo con las ventas, como la página de Modelos (puede tardar un minuto).",
    },
    "overview.retrained": {
        "en": "New model in use: **{model}**. The figures above come from it.",
        "es": "Nuevo modelo en uso: **{model}**. Las cifras de arriba salen de él.",
    },
}


def t(key: str, lang: str, default: str | None = None, **values: Any) -> str:
    """The string for `key` in `lang` with `values` filled in (English, then `default`, then the key if missing)."""
    entry = STRINGS.get(key)
    if entry is None:
        # A fallback is data (a model name, an engine message), not a template: never formatted.
        return default if default is not None else key
    text = entry.get(lang) or entry.get("en") or key
    return text.format(**values) if values else text


# What Streamlit's Markdown gives meaning to: CommonMark and GitHub's punctuation, `$` (LaTeX), `:`
# (emoji, icons and `:red[...]` colours) and `<` (HTML, off here anyway). A backslash before ASCII
# punctuation always shows the character itself.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~$:])")


# GitHub's autolinks (`https://...`, `www.`, e-mail addresses) survive backslash escapes in Streamlit's
# renderer; an invisible zero-width space after the scheme, `www` or `@` is what stops them (tried in Chromium).
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|www)(?=[:.])|@)")


def escape_markdown(value: Any) -> str:
    """`value` as text that Markdown shows literally: no link, image, emphasis, formula or heading.

    Line breaks become spaces (a line starting with `#` or `-` would be a heading or a list).
    """
    text = " ".join(str(value).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINK.sub("\\1\u200b", text))


def md(key: str, lang: str, default: str | None = None, **values: Any) -> str:
    """`t` for Streamlit elements, which render Markdown: the template's own Markdown stays, every
    value filled in (a business's name, an error detail, an amount with `$`) and a fallback
    `default` are shown literally."""
    if key not in STRINGS:
        return t(key, lang, default=None if default is None else escape_markdown(default))
    return t(key, lang, **{name: escape_markdown(value) for name, value in values.items()})


def model_label(name: str | None, lang: str, *, short: bool = False) -> str:
    """A candidate's name for people ("Seasonal naive (same day last week)"); unknown names as they are.

    `short` gives the compact name charts use in legends ("Seasonal naive").
    """
    if not name:
        return "—"
    if short and f"model.{name}.short" in STRINGS:
        return t(f"model.{name}.short", lang)
    return t(f"model.{name}", lang, default=name)
