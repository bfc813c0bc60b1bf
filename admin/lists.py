"""What every growing list of the back office does alike: read the filter from the
query string, page it through :mod:`kiosk.services.listing`, and send the Excel export.

The views of punches, absences, events, ratings, work orders and the audit log call
these; the query, paging and export logic itself lives in the service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from flask import flash, request, send_file
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement

from admin.blueprint import bp
from admin.context import current_hall, viewer_unit_id
from kiosk.extensions import db
from kiosk.localtime import to_local
from kiosk.models import Hall, Unit
from kiosk.services import listing


def list_filter() -> listing.ListFilter:
    """The filter of this request's query string; every dropped part is flashed once."""
    flt = listing.parse_filter(request.args)
    for message in flt.messages:
        flash(message, "info")
    return flt


def wants_export() -> bool:
    """Whether this GET asks for the Excel file of the filtered list (``export=xlsx``)."""
    return request.args.get("export") == "xlsx"


def filter_context(hall: Hall, flt: listing.ListFilter) -> dict[str, Any]:
    """What the filter bar (``admin/lists/_filter.html``) shows; a unit viewer sees no
    unit choice (their unit always applies) and only their unit's windows."""
    unit_id = viewer_unit_id()
    units = listing.unit_choices(db.session, hall) if unit_id is None else []
    windows = listing.window_choices(db.session, hall)
    if unit_id is not None:
        unit = db.session.get(Unit, unit_id)
        codes = {w.code for w in unit.windows} if unit is not None else set()
        windows = [(code, text) for code, text in windows if code in codes]
    return {"flt": flt, "unit_options": units, "window_options": windows}


def page_of(
    spec: listing.ListSpec,
    flt: listing.ListFilter,
    extra: Sequence[ColumnElement[bool]] = (),
) -> listing.Page:
    """One page of ``spec`` for the signed-in user (a unit viewer: their unit only)."""
    return listing.list_page(
        db.session, current_hall(), spec, flt, viewer_unit_id=viewer_unit_id(), extra=extra
    )


def xlsx_download(
    name: str, title: str, headers: list[str], rows: Iterable[list[Any]]
) -> ResponseReturnValue:
    """Send a workbook of ``rows`` (written to a temporary file, deleted once sent)."""
    handle = listing.write_xlsx(title, headers, rows)
    hall = current_hall()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    return send_file(
        handle,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"{name}-{hall.code}-{stamp}.xlsx",
    )


def export_of(
    spec: listing.ListSpec,
    flt: listing.ListFilter,
    title: str,
    extra: Sequence[ColumnElement[bool]] = (),
) -> ResponseReturnValue:
    """The Excel file of the filtered set of ``spec`` (bounded, see the service)."""
    hall = current_hall()
    rows = listing.export_rows(
        db.session, hall, spec, flt, viewer_unit_id=viewer_unit_id(), extra=extra
    )
    return xlsx_download(spec.name, title, spec.headers(), rows)


@bp.app_template_filter("localtime")
def localtime_filter(value: dt.datetime | None, zone: Any) -> dt.datetime | None:
    """A stored naive-UTC instant as hall-local time, for a table cell."""
    return to_local(value, zone) if value is not None else None
