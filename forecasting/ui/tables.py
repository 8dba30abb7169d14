"""Display tables: `forecasting.views` frames with localized headers and formatted values.

Amounts become strings because each tenant has its own currency (a column
of the analysts' table mixes euros and pesos); percentages and scores are
formatted with the locale's decimal mark. The CV scores table is a pandas
Styler so the winner's row and each metric's best value stand out.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from ..core.demand.engine import method_parts
from ..core.metrics import METRICS
from ..i18n.catalog import md, model_label, t
from ..i18n.formatting import MISSING, Formatter, formatter_for
from ..services.exports import write_csv
from ..services.importer import RowError
from ..views.comparison import CVView
from ..views.forecast import ForecastView
from ..views.overview import Overview, Period, overview_table

WINNER_BACKGROUND = "background-color: rgba(15, 118, 110, 0.14); font-weight: 600"
BEST_VALUE = "font-weight: 700; color: #0F766E"


def tenants_table(overviews: Sequence[Overview], lang: str) -> pd.DataFrame:
    """All tenants' overview figures, each amount in its tenant's currency (ISO code: the column mixes them)."""
    raw = overview_table(list(overviews))
    rows = []
    problems = any(o.problem for o in overviews)
    for o, row in zip(overviews, raw.itertuples(), strict=True):
        # A bad row's currency or time zone may be what is wrong with it: its (empty) figures use neither.
        fmt = Formatter(lang) if o.problem else formatter_for(o.tenant, lang)
        rows.append({
            t("table.business", lang): o.tenant.nombre,
            t("table.sales_7", lang): fmt.money(row.sales_7, whole=True, code=True),
            t("table.change_7", lang): fmt.percent(row.change_7, signed=True),
            t("table.sales_30", lang): fmt.money(row.sales_30, whole=True, code=True),
            t("table.change_30", lang): fmt.percent(row.change_30, signed=True),
            t("table.forecast_7", lang): fmt.money(row.forecast_7, whole=True, code=True),
            t("table.forecast_30", lang): fmt.money(row.forecast_30, whole=True, code=True),
            t("table.model", lang): (model_label(row.model, lang, short=True) if row.model
                                     else t("table.not_trained", lang)),
            t("table.last_trained", lang): fmt.date(row.last_trained, "short"),
            t("table.error", lang): fmt.percent(row.error),
            t("table.vs_baseline", lang): fmt.percent(row.vs_baseline, signed=True),
            **({t("table.problem", lang): o.problem or ""} if problems else {}),
        })
    return pd.DataFrame(rows)


def forecast_table(view: ForecastView, fmt: Formatter) -> pd.DataFrame:
    """The days ahead: date, forecast, the 80% and 95% ranges, and what the shop's calendar says of the day.

    A closed day reads "Closed" instead of amounts; a holiday or event is named.
    """
    lang = fmt.lang
    future = view.future
    closed = view.closed.reindex(future.index, fill_value=False).astype(bool).to_numpy()
    shut = t("calendar.kind.closed", lang)

    def band(lower: str, upper: str) -> list[str]:
        return ["" if c else f"{fmt.money(lo, whole=True)} – {fmt.money(hi, whole=True)}"
                for c, lo, hi in zip(closed, future[lower], future[upper], strict=True)]

    return pd.DataFrame({
        t("table.day", lang): [fmt.day(d) for d in future.index],
        t("table.forecast", lang): [shut if c else fmt.money(v, whole=True)
                                    for c, v in zip(closed, future["yhat"], strict=True)],
        t("table.range80", lang): band("yhat_lower", "yhat_upper"),
        t("table.range95", lang): band("yhat_lower_95", "yhat_upper_95"),
        t("table.calendar", lang): list(view.holidays.reindex(future.index).fillna("")),
    })


def weekly_table(view: ForecastView, fmt: Formatter) -> pd.DataFrame:
    """The days ahead by week (Monday to Sunday): the forecast total, how many of its days the forecast
    covers (a week cut by today or by the horizon says so) and how many the shop is closed."""
    lang = fmt.lang
    future = view.future
    closed = view.closed.reindex(future.index, fill_value=False).astype(bool)
    weeks = future.index.to_period("W-SUN").start_time
    grouped = pd.DataFrame({"yhat": future["yhat"].to_numpy(), "closed": closed.to_numpy(), "week": weeks}).groupby(
        "week", sort=True)
    return pd.DataFrame({
        t("table.week", lang): [t("overview.period.range", lang, start=fmt.month_day(week),
                                  end=fmt.month_day(week + pd.Timedelta(days=6))) for week in grouped.groups],
        t("table.forecast", lang): [fmt.money(total, whole=True) for total in grouped["yhat"].sum()],
        t("table.days_forecast", lang): [fmt.number(n) for n in grouped["yhat"].size()],
        t("table.days_closed", lang): [fmt.number(n) if n else "" for n in grouped["closed"].sum()],
    })


def scores_table(cv: CVView, fmt: Formatter) -> Styler:
    """Every candidate's mean CV score on every metric, best first; winner row and best values highlighted."""
    lang = fmt.lang
    scores = cv.scores
    metrics = list(METRICS)
    frame = pd.DataFrame({
        t("table.rank", lang): scores["rank"].astype(int).to_numpy(),
        t("table.model", lang): [model_label(m, lang) + (" ★" if m == cv.winner else "") for m in scores.index],
        **{t(f"metric.{m}.short", lang): scores[m].to_numpy() for m in metrics},
    })
    metric_columns = [t(f"metric.{m}.short", lang) for m in metrics]
    percent_like = {t(f"metric.{m}.short", lang) for m in ("smape", "wape", "mape")}
    money_like = {t(f"metric.{m}.short", lang) for m in ("mae", "rmse")}

    def number(column: str):
        if column in percent_like:
            return lambda v: fmt.percent(v, 1)
        if column in money_like:
            return lambda v: fmt.money(v, whole=True)
        return lambda v: fmt.number(v, 3)

    winner_rows = [i for i, m in enumerate(scores.index) if m == cv.winner]

    def highlight_winner(row: pd.Series) -> list[str]:
        return [WINNER_BACKGROUND if row.name in winner_rows else ""] * len(row)

    def highlight_best(column: pd.Series) -> list[str]:
        best = column.min(skipna=True)
        return [BEST_VALUE if pd.notna(v) and v == best else "" for v in column]

    styler = frame.style.format({c: number(c) for c in metric_columns}, na_rep=MISSING)
    styler = styler.apply(highlight_winner, axis=1).apply(highlight_best, subset=metric_columns)
    return styler.hide(axis="index")


def skipped_table(cv: CVView, lang: str) -> pd.DataFrame:
    """Candidates that could not be cross-validated, with the model's own reason."""
    return pd.DataFrame({
        t("table.model", lang): [model_label(name, lang) for name in cv.skipped],
        t("table.reason", lang): list(cv.skipped.values()),
    })


def import_errors_table(errors: Sequence[RowError], lang: str) -> pd.DataFrame:
    """A refused import's problems, sorted by line: the line, the column and value as the file writes them,
    and what is wrong, in `lang`."""
    rows = [(e.line, e.column, e.value, e.reason_in(lang)) for e in errors]
    columns = [t(f"import.col.{name}", lang) for name in ("line", "column", "value", "reason")]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(columns[0], kind="stable").reset_index(drop=True)


def folds_table(cv: CVView, fmt: Formatter) -> Styler | pd.DataFrame:
    """Primary metric per candidate and test period (best in bold), so a winner that won only on average shows."""
    lang = fmt.lang
    metric = cv.reason.metric
    if cv.by_fold.empty:
        return pd.DataFrame()
    pivot = cv.by_fold.pivot_table(index="model", columns="fold", values=metric).reindex(cv.scores.index)
    frame = pd.DataFrame({t("table.model", lang): [model_label(m, lang) + (" ★" if m == cv.winner else "")
                                                   for m in pivot.index]})
    labels = []
    for fold in pivot.columns:
        days = cv.predictions.loc[cv.predictions["fold"] == fold, "ds"]
        label = t("table.fold", lang, fold=int(fold), start=fmt.month_day(days.min()), end=fmt.month_day(days.max()))
        frame[label] = pivot[fold].to_numpy()
        labels.append(label)
    percent = metric in ("smape", "wape", "mape")

    def best(column: pd.Series) -> list[str]:
        return [BEST_VALUE if pd.notna(v) and v == column.min(skipna=True) else "" for v in column]

    return (frame.style.format({label: (lambda v: fmt.percent(v, 1)) if percent else (lambda v: fmt.number(v, 3))
                                for label in labels}, na_rep=MISSING)
            .apply(best, subset=labels).hide(axis="index"))


def anomaly_table(frame: pd.DataFrame, fmt: Formatter) -> pd.DataFrame:
    """Flagged days, newest first: sales, what was expected, the gap and the score."""
    lang = fmt.lang
    flagged = frame[frame["is_anomaly"]].sort_values("ds", ascending=False)
    gap = (flagged["y"] - flagged["expected"]) / flagged["expected"].where(flagged["expected"].abs() > 0)
    return pd.DataFrame({
        t("table.day", lang): [fmt.day(d) + " " + str(pd.Timestamp(d).year) for d in flagged["ds"]],
        t("table.sales", lang): [fmt.money(v, whole=True) for v in flagged["y"]],
        t("table.expected", lang): [fmt.money(v, whole=True) for v in flagged["expected"]],
        t("table.gap", lang): [fmt.percent(v, signed=True) for v in gap],
        t("table.score", lang): [fmt.number(v, 1) for v in flagged["score"]],
        t("table.kind", lang): [t("table.kind.spike" if y > e else "table.kind.drop", lang)
                                for y, e in zip(flagged["y"], flagged["expected"], strict=True)],
    })


def versions_table(versions: pd.DataFrame, fmt: Formatter) -> pd.DataFrame:
    """Model versions, newest first: which is active, when trained, how it scored in CV."""
    lang = fmt.lang
    # The version id goes last: it is for reference, and the first thing to scroll out of a narrow screen.
    return pd.DataFrame({
        t("table.active", lang): versions["is_active"].astype(bool).to_numpy(),
        t("table.model", lang): [model_label(m, lang, short=True) for m in versions["model_type"]],
        t("table.trained", lang): [fmt.datetime(v, "short") for v in versions["last_trained"]],
        t("table.trained_until", lang): [fmt.date(v) for v in versions["trained_until"]],
        t("table.history_days", lang): [fmt.number(v) for v in versions["train_days"]],
        t("table.cv_mase", lang): [fmt.number(v, 3) for v in versions["mase"]],
        t("table.cv_wape", lang): [fmt.percent(v, 1) for v in versions["wape"]],
        t("table.accuracy", lang): [fmt.percent(v, 1) for v in versions["accuracy"]],
        t("table.version", lang): versions["model_version"].astype(str),
    })


#: Text colour per run state in the runs table (the words carry the meaning; colour helps the eye).
RUN_STATE_COLORS = {"success": "#15803D", "partial": "#B45309", "failed": "#DC2626", "running": "#1D4ED8",
                    "interrupted": "#475569", "stalled": "#7C3AED"}


def run_state_label(state: str, lang: str) -> str:
    """ "Success", "Fallida" ...: a run's state for people."""
    return t(f"jobs.status.{state}", lang, default=state)


def job_runs_table(runs: pd.DataFrame, fmt: Formatter, holder: str) -> Styler:
    """A job's runs, newest first: state, how it started, when, how long, tenants done/failed, error text.

    `holder` is this process's id: its runs say "this process" instead of
    the id. States are words coloured by outcome (emoji need a font that
    servers and some browsers lack).
    """
    lang = fmt.lang
    status = t("table.status", lang)
    frame = pd.DataFrame({
        status: [run_state_label(state, lang) for state in runs["state"]],
        t("table.trigger", lang): [t(f"jobs.trigger.{trigger}", lang, default=str(trigger))
                                   for trigger in runs["trigger"]],
        t("table.started", lang): [fmt.moment(value) for value in runs["started_at"]],
        t("table.duration", lang): [fmt.duration(value) for value in runs["seconds"]],
        t("table.done", lang): runs["tenants_done"].astype(int).to_numpy(),
        t("table.failed", lang): runs["tenants_failed"].astype(int).to_numpy(),
        t("table.error_text", lang): [error or "" for error in runs["error"]],
        t("table.process", lang): [t("jobs.this_process", lang) if value == holder else str(value)
                                   for value in runs["holder"]],
    })
    colors = [f"color: {RUN_STATE_COLORS.get(state, '#1F2933')}; font-weight: 600" for state in runs["state"]]
    return frame.style.apply(lambda _column: colors, subset=[status]).hide(axis="index")


# --- products ----------------------------------------------------------------------------------

#: Colour per stock risk (`views.products.RISKS`): red when it runs out before help can come, amber to order.
RISK_STYLES = {"out": "background-color: rgba(220, 38, 38, 0.16); color: #991B1B; font-weight: 600",
               "order_now": "background-color: rgba(220, 38, 38, 0.10); color: #991B1B; font-weight: 600",
               "order": "background-color: rgba(217, 119, 6, 0.14); color: #92400E; font-weight: 600",
               "ok": "color: #15803D", "discontinued": "color: #64748B", "no_history": "color: #64748B",
               "check": "color: #7C3AED; font-weight: 600"}


def units_text(value, fmt: Formatter) -> str:
    """Units as people count them: whole when whole, one decimal for kilograms and the like."""
    if value is None or pd.isna(value):
        return MISSING
    value = float(value)
    return fmt.number(value, 0 if abs(value - round(value)) < 0.05 or abs(value) >= 100 else 1)


def days_left_text(plan: dict, fmt: Formatter, horizon: int = 28) -> str:
    """ "3 days", "today", "> 28 days" or "—" (no plan)."""
    lang = fmt.lang
    if plan.get("risk") not in ("out", "order_now", "order", "ok"):
        return MISSING
    days = plan.get("days_left")
    if days is None or pd.isna(days):
        return t("products.beyond", lang, n=horizon, days=horizon)
    days = int(days)
    if days <= 1:
        return t("products.today", lang)
    return t("products.days", lang, n=days, days=days)


def stock_table(table: pd.DataFrame, fmt: Formatter) -> Styler:
    """Every product, first to run out first: status, days left, the suggested order, stock, run-out day,
    demand over 7 and 28 days, and the sales of the last four weeks (a sparkline, `column_config` "recent")."""
    lang = fmt.lang
    risk = t("products.col.risk", lang)
    # What an owner acts on first (status, how long it lasts, what to order) comes first: a phone shows 3-4 columns.
    frame = pd.DataFrame({
        t("products.col.product", lang): table["name"].astype(str).to_numpy(),
        risk: [t(f"products.risk.{r}", lang) for r in table["risk"]],
        t("products.col.days_left", lang): [days_left_text(r, fmt) for r in table.to_dict(orient="records")],
        t("products.col.order", lang): [units_text(v, fmt) if v else MISSING for v in table["order_quantity"].fillna(0)],
        t("products.col.stock", lang): [units_text(v, fmt) for v in table["stock"]],
        t("products.col.runout", lang): [fmt.day(v) if v is not None and pd.notna(v) else MISSING
                                         for v in table["runout_date"]],
        t("products.col.units_7", lang): [units_text(v, fmt) for v in table.get("units_7", pd.Series(dtype=float))],
        t("products.col.units_28", lang): [units_text(v, fmt) for v in table.get("units_28", pd.Series(dtype=float))],
        "recent": table["recent"].to_list(),
    })
    styles = [RISK_STYLES.get(r, "") for r in table["risk"]]
    return frame.style.apply(lambda _column: styles, subset=[risk]).hide(axis="index")


def order_list_csv(view_table: pd.DataFrame, fmt: Formatter) -> bytes:
    """The order list for a spreadsheet set to the reader's language: headers in that language; in Spanish
    `;` between fields and a decimal comma (what a Spanish Excel or LibreOffice expects); UTF-8 with a byte
    order mark, so accents survive Excel's guess. Dates are ISO (every spreadsheet reads them)."""
    lang = fmt.lang
    frame = pd.DataFrame({
        t("products.csv.product_id", lang): view_table["product_id"].astype(str).to_numpy(),
        t("products.col.product", lang): view_table["name"].astype(str).to_numpy(),
        t("products.col.stock", lang): view_table["stock"].round(2).to_numpy(),
        t("products.col.order", lang): view_table["order_quantity"].round(2).to_numpy(),
        t("products.csv.order_by", lang): [
            None if r is None or pd.isna(r) else (pd.Timestamp(r) - pd.Timedelta(days=int(lead))).date().isoformat()
            for r, lead in zip(view_table["runout_date"], view_table["lead_time_days"], strict=True)],
        t("products.col.runout", lang): [None if v is None or pd.isna(v) else pd.Timestamp(v).date().isoformat()
                                         for v in view_table["runout_date"]],
        t("products.col.units_28", lang): view_table["units_28"].round(1).to_numpy()
        if "units_28" in view_table else None,
        t("products.csv.lead_time", lang): view_table["lead_time_days"].to_numpy(),
        t("products.csv.service_level", lang): view_table["service_level"].round(3).to_numpy(),
    })
    return spreadsheet_csv(frame, fmt)


def spreadsheet_csv(frame: pd.DataFrame, fmt: Formatter) -> bytes:
    """CSV that a spreadsheet set to the reader's locale opens in columns, numbers as numbers.

    The decimal mark is the locale's (Spain's and Colombia's comma, Mexico's point); where it is a comma the
    fields are separated by `;`, as Excel and LibreOffice expect there. UTF-8 with a byte order mark, so
    accents survive Excel's guess. Dates stay ISO (every spreadsheet reads them); formulas are neutralized.
    """
    decimal = fmt.separators[0]
    return b"\xef\xbb\xbf" + write_csv(frame, sep=";" if decimal == "," else ",", decimal=decimal)


def forecast_csv(view: ForecastView, fmt: Formatter) -> bytes:
    """The forecast from today on, for a spreadsheet in the reader's language (`spreadsheet_csv`): headers
    in that language, the model by its name, closed days and holidays named."""
    lang = fmt.lang
    future = view.future
    closed = view.closed.reindex(future.index, fill_value=False).astype(bool).to_numpy()
    labels = view.holidays.reindex(future.index).fillna("").to_numpy()
    shut = t("calendar.kind.closed", lang)
    frame = pd.DataFrame({
        t("export.date", lang): future.index.strftime("%Y-%m-%d"),
        t("export.forecast", lang): future["yhat"].round(2).to_numpy(),
        t("export.low", lang, level=80): future["yhat_lower"].round(2).to_numpy(),
        t("export.high", lang, level=80): future["yhat_upper"].round(2).to_numpy(),
        t("export.low", lang, level=95): future["yhat_lower_95"].round(2).to_numpy(),
        t("export.high", lang, level=95): future["yhat_upper_95"].round(2).to_numpy(),
        t("table.calendar", lang): [", ".join(filter(None, (shut if c else "", label)))
                                    for c, label in zip(closed, labels, strict=True)],
        t("export.currency", lang): view.tenant.currency,
        t("export.model", lang): model_label(view.model_type, lang) if view.model_type else "",
        t("export.version", lang): view.model_version or "",
    })
    return spreadsheet_csv(frame, fmt)


def demand_method_text(code: str | None, fmt: Formatter) -> str:
    """A product's forecasting method in words, in the reader's language (`core.demand.engine.method_parts`)."""
    if not code:
        return MISSING
    lang = fmt.lang
    members, factor = method_parts(code)
    names = [t(f"demand.method.{name}", lang, default=name)
             + (t(f"demand.suffix.{kind}", lang) if kind else "") for name, kind in members]
    text = names[0] if len(names) == 1 else t("demand.mean_of", lang, models=t("demand.and", lang).join(names))
    return text + (t("demand.times", lang, factor=fmt.number(factor, 2)) if factor else "")


def product_methods_table(table: pd.DataFrame, fmt: Formatter) -> pd.DataFrame:
    """For analysts: per product, its demand class and how it is forecast."""
    lang = fmt.lang
    return pd.DataFrame({
        t("products.col.product", lang): table["name"].astype(str).to_numpy(),
        t("products.col.class", lang): [t(f"demand.class.{c}", lang, default=str(c)) if isinstance(c, str)
                                        else MISSING for c in table.get("demand_class", pd.Series(dtype=object))],
        t("products.col.method", lang): [demand_method_text(m if isinstance(m, str) else None, fmt)
                                         for m in table.get("method", pd.Series(dtype=object))],
    })


def product_scores_table(metrics: dict, fmt: Formatter) -> pd.DataFrame:
    """For analysts: the CV scores per demand class and candidate, best first within each class."""
    lang = fmt.lang
    scores = pd.DataFrame(metrics.get("scores") or [])
    if scores.empty:
        return scores
    scores = scores.sort_values(["demand_class", "score"])
    chosen = {cls: "+".join(models) for cls, models in (metrics.get("selection") or {}).items()}
    return pd.DataFrame({
        t("products.col.class", lang): [t(f"demand.class.{c}", lang, default=str(c)) for c in scores["demand_class"]],
        t("products.col.method", lang): [demand_method_text(m.replace("+", " + "), fmt) for m in scores["model"]],
        t("products.col.chosen", lang): [chosen.get(c) == m for c, m in zip(scores["demand_class"], scores["model"],
                                                                               strict=True)],
        "MASE": [fmt.number(v, 3) for v in scores["mase"]],
        "RMSSE": [fmt.number(v, 3) for v in scores["rmsse"]],
        t("products.col.pairs", lang): [fmt.number(v) for v in scores["pairs"]],
    })


def product_reliability_table(reliability: dict, fmt: Formatter) -> pd.DataFrame:
    """For analysts: how the stored product forecasts did per demand class (error, band coverage)."""
    lang = fmt.lang
    rows = reliability.get("by_class") or {}
    return pd.DataFrame({
        t("products.col.class", lang): [t(f"demand.class.{c}", lang, default=c) for c in rows],
        t("products.col.product_days", lang): [fmt.number(r["product_days"]) for r in rows.values()],
        t("products.col.error", lang): [fmt.percent(r["wape"]) if r["wape"] is not None else MISSING
                                        for r in rows.values()],
        t("products.col.coverage_80", lang): [fmt.percent(r["coverage_80"]) for r in rows.values()],
        t("products.col.coverage_95", lang): [fmt.percent(r["coverage_95"]) for r in rows.values()],
    })


def changes_table(before: dict, after: dict, fmt: Formatter) -> pd.DataFrame | None:
    """What a retrain changed, for owners: the forecast of the next 7 and 30 days, the typical error when
    tested on past weeks and the model, before and after (`views.models.Snapshot.as_dict`). None when there
    was no model before (a first training changes nothing the owner had seen)."""
    if not before.get("version") or not after.get("version"):
        return None
    lang = fmt.lang

    def money(value):
        return fmt.money(value, whole=True) if value is not None else MISSING

    def share(value):
        return fmt.percent(value) if value is not None else MISSING

    def change(old, new):
        return fmt.percent(new / old - 1, signed=True) if old and new is not None else ""

    rows = [(t("models.changed.forecast", lang, n=days, days=days), money(before.get(key)), money(after.get(key)),
             change(before.get(key), after.get(key))) for days, key in ((7, "forecast_7"), (30, "forecast_30"))]
    rows.append((t("models.changed.error", lang), share(before.get("error")), share(after.get("error")), ""))
    rows.append((t("models.changed.model", lang), model_label(before.get("model"), lang),
                 model_label(after.get("model"), lang), ""))
    what = t("models.changed.what", lang)
    return pd.DataFrame(rows, columns=[what, t("models.changed.before", lang), t("models.changed.after", lang),
                                       t("models.changed.change", lang)]).set_index(what)


def period_lines(period: Period, fmt: Formatter) -> list[str]:
    """One period of the owner's summary in words, as Markdown lines: sold so far and still expected, the
    busiest and the hardest-to-call day, the closed days, and each holiday or event with its days."""
    lang = fmt.lang
    lines = []
    if period.total is None:
        lines.append(md("overview.period.no_forecast", lang))
    elif period.actual > 0:
        lines.append(md("overview.period.so_far", lang, sold=fmt.money(period.actual, whole=True),
                        ahead=fmt.money(period.ahead, whole=True)))
    if period.busiest:
        lines.append(md("overview.period.busiest", lang, day=fmt.day(period.busiest[0]),
                        amount=fmt.money(period.busiest[1], whole=True)))
    if period.uncertain:
        day, low, high = period.uncertain
        lines.append(md("overview.period.uncertain", lang, day=fmt.day(day), low=fmt.money(low, whole=True),
                        high=fmt.money(high, whole=True)))
    if period.closed:
        lines.append(md("overview.period.closed", lang, days=", ".join(fmt.day(d) for d in period.closed)))
    by_name: dict[str, list] = {}
    for day, name in period.named:
        by_name.setdefault(name, []).append(day)
    return lines + [md("overview.period.named", lang, name=name, days=", ".join(fmt.day(d) for d in days))
                    for name, days in by_name.items()]
