"""``/indicators``: the public evaluation indicators per unit and published period.

No sign-in. Only published periods are shown (at their current revision), computed from
what the publication froze (:mod:`kiosk.services.indicators`), each indicator with its
formula in words; ``/indicators/<period>.csv`` gives the same table as CSV.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Hall
from kiosk.rules.calendar import Period
from kiosk.rules.indicators import Indicators
from kiosk.services.errors import BundleError
from kiosk.services.indicators import PeriodIndicators, indicator_periods, period_indicators

bp = Blueprint("indicators", __name__)

CSV_HEADER = (
    "unit_code",
    "unit_name",
    "valid_ratings",
    "good",
    "good_rate",
    "bad",
    "called_back",
    "callback_rate",
    "upheld",
    "rectified",
    "rectification_rate",
    "rectified_on_time",
    "on_time_rectification_rate",
    "cases_completed",
    "cases_on_time",
    "on_time_rate",
)


def percent(value: Fraction | None) -> str:
    """A rate as a percentage with one decimal, half up (四舍五入); empty for None."""
    if value is None:
        return ""
    exact = Decimal(value.numerator * 100) / Decimal(value.denominator)
    return str(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


bp.add_app_template_filter(percent, "percent")


def _hall() -> Hall:
    """``?hall=CODE``, else ``DEFAULT_HALL``, else the first hall (as the display picks)."""
    code = request.args.get("hall") or current_app.config["DEFAULT_HALL"]
    if code:
        hall = db.session.scalar(select(Hall).where(Hall.code == str(code)[:32]))
    else:
        hall = db.session.scalars(select(Hall).order_by(Hall.code)).first()
    if hall is None:
        abort(404)
    return hall


def _period(code: str) -> str:
    try:
        return Period.parse(code).code
    except ValueError:
        abort(404)


@bp.get("/indicators")
def index() -> ResponseReturnValue:
    """The latest published period's indicators, or a page saying none is published."""
    hall = _hall()
    periods = indicator_periods(db.session, hall)
    if periods:
        args = {"hall": request.args["hall"]} if request.args.get("hall") else {}
        return redirect(url_for("indicators.period", period=periods[0], **args))
    return render_template("indicators.html", hall=hall, data=None, periods=[], missing=False)


def _data(hall: Hall, period: str) -> tuple[PeriodIndicators | None, bool]:
    """The period's indicators and whether its publication predates frozen inputs."""
    try:
        data = period_indicators(db.session, hall, period)
    except BundleError:
        return None, True
    if data is None:
        abort(404)
    return data, False


@bp.get("/indicators/<period>")
def period(period: str) -> ResponseReturnValue:
    """One published period's indicators per unit, with the formulas in words."""
    hall = _hall()
    data, missing = _data(hall, _period(period))
    return render_template(
        "indicators.html",
        hall=hall,
        data=data,
        period=_period(period),
        periods=indicator_periods(db.session, hall),
        missing=missing,
    )


def _csv_line(code: str, name: str, line: Indicators) -> list[str]:
    def count(value: int | None) -> str:
        return "" if value is None else str(value)

    return [
        code,
        name,
        str(line.valid_ratings),
        str(line.good),
        percent(line.good_rate),
        str(line.bad),
        count(line.called_back),
        percent(line.callback_rate),
        str(line.upheld),
        str(line.rectified),
        percent(line.rectification_rate),
        str(line.rectified_on_time),
        percent(line.on_time_rectification_rate),
        str(line.cases_completed),
        str(line.cases_on_time),
        percent(line.on_time_rate),
    ]


@bp.get("/indicators/<period>.csv")
def period_csv(period: str) -> ResponseReturnValue:
    """The same table as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese)."""
    hall = _hall()
    data, missing = _data(hall, _period(period))
    if missing or data is None:
        abort(404)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for code, name, line in data.units:
        writer.writerow(_csv_line(code, name, line))
    writer.writerow(_csv_line("", "全中心", data.hall))
    name = f"indicators-{hall.code}-{data.period}-r{data.revision}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
