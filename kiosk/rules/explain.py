"""Why a person scored what they did: the data behind each part, as Chinese lines.

For the "为什么我不是先进个人？" view and ``flask score --explain``. Built only from a
:class:`~kiosk.rules.scoring.ScoreResult`, so it always agrees with the published figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from kiosk.rules.attendance import SlotStatus
from kiosk.rules.scoring import IndividualScore, ScoreResult, round_half_up

__all__ = ["ExplanationItem", "explain", "explain_lines"]

_VETO_TEXT = {
    "absence": "有旷工",
    "discipline": "有一票否决的违纪事件",
    "unrectified_bad_review": "有差评未按期整改",
}
_REASON_TEXT = {
    "veto": "被一票否决",
    "too_few_ratings": "有效评价不足",
    "too_few_duty_days": "在岗天数不足",
    "below_threshold": "总分未达标",
}
_BAD_REVIEW_TEXT = {
    "on_time": "已按期整改",
    "late": "整改晚于期限（否决）",
    "overdue": "逾期未整改（否决）",
    "pending": "尚未整改，期限未到",
}
_EVENT_KIND = {"spot_check": "巡查抽查", "complaint": "投诉", "commendation": "表扬"}


@dataclass(frozen=True, slots=True)
class ExplanationItem:
    """One line of an explanation: which part it belongs to and what it says.

    ``part`` is one of summary, satisfaction, attendance, workload, discipline, bonus,
    veto, eligibility, award.
    """

    part: str
    text: str


def _f(value: Fraction | int | None) -> str:
    return "—" if value is None else str(round_half_up(Fraction(value)))


def _n(value: Fraction | int) -> str:
    """A rule constant: 20 rather than 20.00."""
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else str(round_half_up(value))


def _signed(points: object) -> str:
    """Event points with their sign: +2, -3, +0.5 (a float 2.0 from the database reads 2)."""
    value = Fraction(str(points))
    return ("+" if value > 0 else "") + _n(value)


def _t(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _satisfaction(p: IndividualScore, result: ScoreResult) -> list[ExplanationItem]:
    r, rules = p.ratings, result.rules
    items = [
        ExplanationItem(
            "satisfaction",
            f"满意度 {_f(p.satisfaction)}/{_n(rules.satisfaction_max)}：有效评价 {r.valid} 条，"
            f"其中差评 {r.bad} 条，平均 {_f(r.mean)}；全中心平均 C = {_f(result.hall_mean)}，"
            f"调整后 S* = (n×平均 + {_n(rules.prior_weight)}×C)/(n + {_n(rules.prior_weight)}) = {_f(r.adjusted)}",
        )
    ]
    if result.hall_mean is None:
        items.append(ExplanationItem("satisfaction", "本期全中心没有有效评价，S* 按满分计"))
    for rating_id, why in r.excluded:
        text = (
            f"误触（距上一条柜台评价不足 {_n(rules.misuse_seconds)} 秒）"
            if why == "misuse"
            else ("默认好评（逾期未评自动生成）" if why == "default" else "经核实为不实差评")
        )
        items.append(ExplanationItem("satisfaction", f"评价 {rating_id} 不计分：{text}"))
    return items


def _attendance(p: IndividualScore, result: ScoreResult) -> list[ExplanationItem]:
    a, rules = p.attendance_detail, result.rules
    items = [
        ExplanationItem(
            "attendance",
            f"考勤 {_f(p.attendance)}/{_n(rules.attendance_max)}：排班工作日 {a.workdays} 天，在岗 {a.on_duty_days} 天；"
            f"迟到 {a.late} 次、早退 {a.early} 次（其中超过 {_n(rules.long_defect_minutes)} 分钟 {a.long_defects} 次）、"
            f"缺卡 {a.missing} 次、旷工 {a.absent_half_days} 个半天",
        )
    ]
    for day in a.days:
        if day.schedule is None:
            items.append(ExplanationItem("attendance", f"{day.day}：无适用作息时间，不计考勤"))
            continue
        sessions = (day.slots[:2], day.slots[2:])
        for name, session in zip(("上午", "下午"), sessions, strict=True):
            if all(s.status is SlotStatus.MISSING for s in session):
                items.append(
                    ExplanationItem(
                        "attendance",
                        f"{day.day} {name}：两次打卡都没有，记旷工半天 "
                        f"−{_n(rules.absent_half_day_points)}",
                    )
                )
                continue
            for s in session:
                if s.status is SlotStatus.MISSING:
                    items.append(
                        ExplanationItem(
                            "attendance",
                            f"{day.day} {s.slot.label}：时段内无打卡，记缺卡 −{_n(rules.missing_punch_points)}",
                        )
                    )
                elif s.status in (SlotStatus.LATE, SlotStatus.EARLY):
                    word = "迟到" if s.status is SlotStatus.LATE else "早退"
                    points = (
                        rules.long_defect_points
                        if s.minutes > rules.long_defect_minutes
                        else rules.short_defect_points
                    )
                    items.append(
                        ExplanationItem(
                            "attendance",
                            f"{day.day} {s.slot.label}：打卡 {s.punch:%H:%M:%S}，{word} "
                            f"{s.minutes:.2f} 分钟 −{_n(points)}",
                        )
                    )
        if not day.on_duty:
            on_leave = any(s.excused_by == "leave" for s in day.slots)
            why = "请假（请假不计在岗）" if on_leave else "无有效打卡，也无外出登记"
            items.append(ExplanationItem("attendance", f"{day.day}：不在岗，{why}"))
        for dup in day.duplicates:
            items.append(
                ExplanationItem("attendance", f"{day.day} {dup:%H:%M:%S} 的打卡为重复打卡，不计")
            )
    return items


def _workload(p: IndividualScore, result: ScoreResult) -> list[ExplanationItem]:
    c, rules = p.cases, result.rules
    if p.workload is None:
        return [
            ExplanationItem(
                "workload",
                f"所在窗口 {p.window} 不办件：无办件量得分，总分 = (满意度 + 考勤 + 纪律) × "
                f"{_n(rules.no_workload_scale)} + 加分",
            )
        ]
    items = [
        ExplanationItem(
            "workload",
            f"办件量 {_f(p.workload)}/{_n(rules.workload_max)}：本期办结 {c.completed} 件，"
            f"加权 w = {_f(c.weighted)}（全中心最高 W = {_f(result.max_weighted)}），按时办结 {c.on_time} 件",
        )
    ]
    if result.max_weighted == 0:
        items.append(ExplanationItem("workload", "本期没有办件数据，办件量按满分计"))
    if c.overdue:
        items.append(ExplanationItem("workload", "超期办结：" + "、".join(c.overdue)))
    return items


def _events(p: IndividualScore, result: ScoreResult) -> list[ExplanationItem]:
    items = [
        ExplanationItem("discipline", f"纪律 {_f(p.discipline)}/{_n(result.rules.discipline_max)}"),
        ExplanationItem("bonus", f"加分 {_f(p.bonus)}（上限 {_n(result.rules.bonus_max)}）"),
    ]
    for e in p.events:
        part = "bonus" if e.points > 0 else "discipline"
        kind = _EVENT_KIND.get(e.kind, e.kind)
        veto = "，一票否决" if e.veto else ""
        label = f"（{e.category}）" if e.category else ""
        items.append(
            ExplanationItem(
                part, f"{_t(e.at)} {kind}{label} {_signed(e.points)} 分{veto}（{e.event_id}）"
            )
        )
    return items


def explain(result: ScoreResult, staff_no: str) -> tuple[ExplanationItem, ...]:
    """The explanation of one scored person; raises ``KeyError`` for someone not scored."""
    p = result.individual(staff_no)
    if p is None:
        raise KeyError(staff_no)
    rules = result.rules
    items = [
        ExplanationItem(
            "summary",
            f"{p.staff_no} {p.name}，窗口 {p.window}，总分 {_f(p.total)}，第 {p.rank} 名",
        )
    ]
    items += _satisfaction(p, result)
    items += _attendance(p, result)
    items += _workload(p, result)
    items += _events(p, result)
    for check in p.ratings.bad_reviews:
        items.append(
            ExplanationItem(
                "veto" if check.vetoes else "satisfaction",
                f"差评 {check.rating_id}（{_t(check.rated_at)}）整改期限 {_t(check.deadline)}，"
                f"整改时间 {_t(check.rectified_at)}：{_BAD_REVIEW_TEXT[check.status]}",
            )
        )
    for veto in p.vetoes:
        items.append(ExplanationItem("veto", f"一票否决：{_VETO_TEXT[veto]}"))
    a = p.attendance_detail
    needed = rules.individual_min_duty_ratio * a.workdays
    for reason in p.ineligible_reasons:
        detail = {
            "veto": "",
            "too_few_ratings": f"（{p.ratings.valid} 条，需至少 {rules.individual_min_ratings} 条）",
            "too_few_duty_days": f"（在岗 {a.on_duty_days} 天，需至少 {_f(needed)} 天）",
            "below_threshold": f"（{_f(p.total)} 分，需至少 {_n(rules.individual_threshold)} 分）",
        }[reason]
        items.append(
            ExplanationItem("eligibility", f"不具备先进个人资格：{_REASON_TEXT[reason]}{detail}")
        )
    if p.award == "advanced":
        items.append(ExplanationItem("award", "评为先进个人"))
    elif p.eligible:
        items.append(
            ExplanationItem(
                "award",
                f"具备资格，但本期名额 {result.individual_quota} 个"
                f"（符合条件人数 ÷ {rules.individual_quota_divisor}，向上取整）已按排名评出",
            )
        )
    return tuple(items)


def explain_lines(result: ScoreResult, staff_no: str) -> list[str]:
    """:func:`explain` as plain text lines."""
    return [item.text for item in explain(result, staff_no)]
