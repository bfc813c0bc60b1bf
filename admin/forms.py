"""The back office's forms (Flask-WTF: every one carries a CSRF token).

Field checks here are about shape (required, length, number); the service functions
check meaning (staff of this hall, end after start, not voided twice...).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from kiosk.models import Event
from kiosk.textlimits import (
    EARLIEST_DAY,
    LATEST_DAY,
    control_character,
    day_in_range,
    max_length,
)

LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
REQUIRED = _l("此项必填。")
# Row ids are 32-bit INTEGER columns: a larger number names no row (and would overflow).
MAX_ID = 2**31 - 1
ID_RANGE = NumberRange(min=1, max=MAX_ID, message=_l("编号无效。"))


def day_range_message() -> str:
    """The message for a date outside the accepted range (kiosk.textlimits)."""
    return _(
        "日期应在 %(first)s 至 %(last)s 之间。",
        first=EARLIEST_DAY.isoformat(),
        last=LATEST_DAY.isoformat(),
    )


def in_day_range(form: Any, field: Any) -> None:
    """WTForms validator: a date or date-time inside the accepted range (year 1 overflows)."""
    if isinstance(field.data, dt.date) and not day_in_range(field.data):
        raise ValidationError(day_range_message())


def finite(form: Any, field: Any) -> None:
    """WTForms validator: a number that is not NaN (NumberRange lets NaN through)."""
    if isinstance(field.data, float) and field.data != field.data:
        raise ValidationError(_("请输入一个数字。"))


class HallForm(FlaskForm):
    """A back-office form that refuses control characters (NUL and the like) in any text."""

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and control_character(field.data):
                field.errors = [*field.errors, _("不能包含控制字符。")]
                valid = False
        return valid


def parse_day(text: str | None) -> dt.date:
    """A ``YYYY-MM-DD`` query parameter in the accepted range; ValueError with the message."""
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValueError(_("日期格式应为 2026-11-02。")) from None
    if not day_in_range(day):
        raise ValueError(day_range_message())
    return day


def parse_id(text: str | None) -> int | None:
    """A row id from a form or query string; None unless it is a number 1..MAX_ID."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


class AddPunchForm(HallForm):
    """Add a punch with source ``correction`` (补录打卡)."""

    staff_no = SelectField(_l("工作人员"), validators=[DataRequired(REQUIRED)])
    punched_at = DateTimeLocalField(
        _l("打卡时间"), format=LOCAL_FORMATS, validators=[InputRequired(REQUIRED), in_day_range]
    )
    reason = TextAreaField(_l("原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


class VoidPunchForm(HallForm):
    """Void a punch (作废打卡) with a reason."""

    punch_id = IntegerField(validators=[InputRequired(REQUIRED), ID_RANGE])
    reason = StringField(_l("作废原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


class AbsenceForm(HallForm):
    """Register leave or an out-of-office trip."""

    staff_no = SelectField(_l("工作人员"), validators=[DataRequired(REQUIRED)])
    kind = SelectField(
        _l("类型"),
        choices=[SelectChoice("out", _l("外出登记")), SelectChoice("leave", _l("请假"))],
        validators=[DataRequired(REQUIRED)],
    )
    start = DateTimeLocalField(
        _l("开始时间"), format=LOCAL_FORMATS, validators=[InputRequired(REQUIRED), in_day_range]
    )
    end = DateTimeLocalField(
        _l("结束时间"), format=LOCAL_FORMATS, validators=[InputRequired(REQUIRED), in_day_range]
    )
    note = StringField(_l("事由"), validators=[Optional(), Length(max=500)])


class WithdrawForm(HallForm):
    """Withdraw a registration made by mistake, with a reason."""

    absence_id = IntegerField(validators=[InputRequired(REQUIRED), ID_RANGE])
    reason = StringField(_l("撤销原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


class EventWithdrawForm(HallForm):
    """Withdraw an event recorded by mistake (its veto too), with a reason."""

    event_id = StringField(_l("编号"), validators=[DataRequired(REQUIRED), Length(max=64)])
    reason = StringField(_l("撤销原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


class EventForm(HallForm):
    """A spot check, complaint or commendation."""

    staff_no = SelectField(_l("工作人员"), validators=[DataRequired(REQUIRED)])
    kind = SelectField(
        _l("类型"),
        choices=[
            SelectChoice("spot_check", _l("巡查抽查")),
            SelectChoice("complaint", _l("投诉")),
            SelectChoice("commendation", _l("表扬")),
        ],
        validators=[DataRequired(REQUIRED)],
    )
    at = DateTimeLocalField(
        _l("发生时间"), format=LOCAL_FORMATS, validators=[InputRequired(REQUIRED), in_day_range]
    )
    category = StringField(
        _l("事项"), validators=[Optional(), Length(max=max_length(Event.__table__.c.category))]
    )
    points = FloatField(
        _l("分值（扣分填负数）"),
        validators=[InputRequired(REQUIRED), finite, NumberRange(min=-100, max=100)],
    )
    veto = BooleanField(_l("一票否决"))
    note = StringField(_l("说明"), validators=[Optional(), Length(max=500)])


class DutyForm(HallForm):
    """Set (or clear) the officer on duty for a day."""

    day = DateField(_l("日期"), validators=[InputRequired(REQUIRED), in_day_range])
    user_id = SelectField(_l("带班人员"), coerce=str, validators=[Optional()])
    reason = StringField(_l("备注"), validators=[Optional(), Length(max=500)])


class PublishForm(HallForm):
    """Publish a computed period (or a new revision of a published one)."""

    period = HiddenField(validators=[DataRequired(REQUIRED)])
    as_of = HiddenField(validators=[DataRequired(REQUIRED)])
    inputs_sha256 = HiddenField(validators=[DataRequired(REQUIRED)])
    reason = TextAreaField(
        _l("修订原因（发布修订版时必填）"), validators=[Optional(), Length(max=1000)]
    )


def select_choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


def first_error(form: FlaskForm) -> str:
    """The first field error of ``form`` as "label: message", for a flash message."""
    for name, errors in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None and hasattr(field, "label") else name
        if name == "csrf_token":
            return str(_l("页面已过期，请刷新后重试。"))
        return f"{label}：{errors[0]}"
    return ""
