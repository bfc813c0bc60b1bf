"""The back office's forms (Flask-WTF: every one carries a CSRF token).

Field checks here are about shape (required, length, number); the service functions
check meaning (staff of this hall, end after start, not voided twice...).
"""

from __future__ import annotations

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
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
REQUIRED = _l("此项必填。")


class AddPunchForm(FlaskForm):
    """Add a punch with source ``correction`` (补录打卡)."""

    staff_no = SelectField(_l("工作人员"), validators=[DataRequired(REQUIRED)])
    punched_at = DateTimeLocalField(
        _l("打卡时间"), format=LOCAL_FORMATS, validators=[InputRequired(REQUIRED)]
    )
    reason = TextAreaField(_l("原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


class VoidPunchForm(FlaskForm):
    """Void a punch (作废打卡) with a reason."""

    punch_id = IntegerField(validators=[InputRequired(REQUIRED)])
    reason = StringField(_l("作废原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


class AbsenceForm(FlaskForm):
    """Register leave or an out-of-office trip."""

    staff_no = SelectField(_l("工作人员"), validators=[DataRequired(REQUIRED)])
    kind = SelectField(
        _l("类型"),
        choices=[SelectChoice("out", _l("外出登记")), SelectChoice("leave", _l("请假"))],
        validators=[DataRequired(REQUIRED)],
    )
    start = DateTimeLocalField(
        _l("开始时间"), format=LOCAL_FORMATS, validators=[InputRequired(REQUIRED)]
    )
    end = DateTimeLocalField(
        _l("结束时间"), format=LOCAL_FORMATS, validators=[InputRequired(REQUIRED)]
    )
    note = StringField(_l("事由"), validators=[Optional(), Length(max=500)])


class WithdrawForm(FlaskForm):
    """Withdraw a registration made by mistake, with a reason."""

    absence_id = IntegerField(validators=[InputRequired(REQUIRED)])
    reason = StringField(_l("撤销原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


class EventForm(FlaskForm):
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
        _l("发生时间"), format=LOCAL_FORMATS, validators=[InputRequired(REQUIRED)]
    )
    category = StringField(_l("事项"), validators=[Optional(), Length(max=100)])
    points = FloatField(
        _l("分值（扣分填负数）"),
        validators=[InputRequired(REQUIRED), NumberRange(min=-100, max=100)],
    )
    veto = BooleanField(_l("一票否决"))
    note = StringField(_l("说明"), validators=[Optional(), Length(max=500)])


class DutyForm(FlaskForm):
    """Set (or clear) the officer on duty for a day."""

    day = DateField(_l("日期"), validators=[InputRequired(REQUIRED)])
    user_id = SelectField(_l("带班人员"), coerce=str, validators=[Optional()])
    reason = StringField(_l("备注"), validators=[Optional(), Length(max=500)])


class PublishForm(FlaskForm):
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
