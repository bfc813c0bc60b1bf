"""The demo hall's data: a hall file and interchange CSV files, generated from a seed.

The data run from the start of the previous bimonthly period to now: one complete
period to score and publish, and today's hall filling up.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from dataclasses import dataclass

from kiosk.interchange import EXPORT_HEADER
from kiosk.interchange.hallfile import parse_hall_file
from kiosk.rules.calendar import schedule_for, workdays
from kiosk.rules.settings import calendar_from_settings

DEMO_HALL = "QJ"
DEMO_PASSWORD = "demo12345"
DEMO_USERS = (
    ("admin", "系统管理员", "admin", None),
    ("leader", "中心主任", "leader", None),
    ("duty", "带班 王主任", "duty", None),
    ("duty2", "带班 李主任", "duty", None),
    ("scjg", "市场监管局联络员", "unit", "SCJG"),
)

# (unit code, unit name, [(window name, handles_cases)])
UNITS: tuple[tuple[str, str, tuple[tuple[str, bool], ...]], ...] = (
    (
        "SCJG",
        "市场监督管理局",
        (("企业登记", True), ("食品经营许可", True), ("个体工商户登记", True)),
    ),
    ("SWJ", "国家税务总局潜江市税务局", (("涉税综合", True), ("发票领用", True))),
    ("GAJ", "公安局", (("户政", True), ("出入境", True), ("交管车驾管", True))),
    ("RSJ", "人力资源和社会保障局", (("社保经办", True), ("就业创业", True))),
    ("YBJ", "医疗保障局", (("医保经办", True),)),
    ("ZRZY", "自然资源和规划局", (("不动产登记", True), ("规划许可", True))),
    ("GJJ", "住房公积金中心", (("公积金提取", True),)),
    ("ZJJ", "住房和城乡建设局", (("建设工程许可", True),)),
    ("WJW", "卫生健康委员会", (("医疗机构许可", True),)),
    ("MZJ", "民政局", (("婚姻登记", True),)),
    ("JTJ", "交通运输局", (("道路运输许可", True),)),
    ("SHJ", "生态环境局", (("环评审批", True),)),
    ("SLJ", "水利和湖泊局", (("水利许可", True),)),
    ("NYJ", "农业农村局", (("农业许可", True),)),
    ("CGJ", "城市管理执法局", (("城管审批", True),)),
    ("SWUJ", "商务局", (("商务备案", True),)),
    ("FGW", "发展和改革委员会", (("投资项目审批", True),)),
    ("CL", "残疾人联合会", (("残疾人证办理", True),)),
    ("ZWB", "政务服务和大数据管理局", (("综合咨询", False), ("帮办代办", False))),
    ("YZ", "邮政EMS", (("证照寄递", False),)),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玲红鹏飞慧建国志文斌宇浩然晨曦佳怡"
REASONS = ["态度不好", "效率低", "业务不熟", "推诿扯皮", "解释不清", "其他"]

SCHEDULES = """
[[schedule]]
name = "winter"
from = "10-01"
to = "04-30"
am = ["08:30", "12:00"]
pm = ["14:00", "17:30"]

[[schedule]]
name = "summer"
from = "05-01"
to = "09-30"
am = ["08:00", "12:00"]
pm = ["14:30", "17:30"]
"""


@dataclass(frozen=True)
class DemoStaff:
    """A generated staff member: number, name, window and how diligent they are."""

    staff_no: str
    name: str
    window: str
    handles_cases: bool
    diligence: float  # 0..1: higher means fewer defects and better ratings


def period_start(today: dt.date) -> dt.date:
    """First day of the bimonthly period before the one holding ``today``."""
    first_month = ((today.month - 1) // 2) * 2 + 1
    start = dt.date(today.year, first_month, 1)
    month = start.month - 2
    return dt.date(start.year - 1, 11, 1) if month < 1 else dt.date(start.year, month, 1)


def hall_toml() -> str:
    """The demo hall file."""
    lines = [
        "[hall]",
        f'code = "{DEMO_HALL}"',
        'name = "潜江市政务服务中心（演示）"',
        'timezone = "Asia/Shanghai"',
        SCHEDULES,
        "[attendance]\ngrace_minutes = 5\ndebounce_seconds = 60\n",
        "[ratings]",
        "reasons = [" + ", ".join(f'"{r}"' for r in REASONS) + "]\n",
        '[notice]\nnumber_prefix = "潜政服通"\n',
    ]
    number = 0
    windows = []
    for code, name, desks in UNITS:
        lines.append(f'[[unit]]\ncode = "{code}"\nname = "{name}"\n')
        for desk, handles in desks:
            number += 1
            windows.append(
                f'[[window]]\ncode = "W{number:02d}"\nname = "{desk}"\nunit = "{code}"\n'
                f"handles_cases = {'true' if handles else 'false'}\n"
            )
    return "\n".join(lines + windows)


def make_staff(rng: random.Random) -> list[DemoStaff]:
    """About 70 staff, two or three per window, with distinct Chinese names."""
    staff: list[DemoStaff] = []
    used: set[str] = set()
    number = 0
    window_no = 0
    for _code, _name, desks in UNITS:
        for _desk, handles in desks:
            window_no += 1
            for _ in range(3 if window_no % 2 == 1 else 2):
                while True:
                    name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
                    if name not in used:
                        used.add(name)
                        break
                number += 1
                diligence = min(1.0, max(0.0, rng.gauss(0.8, 0.15)))
                staff.append(
                    DemoStaff(f"S{number:03d}", name, f"W{window_no:02d}", handles, diligence)
                )
    return staff


def _csv(header: tuple[str, ...], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def generate(now: dt.datetime, seed: int = 2026) -> dict[str, str]:
    """The demo's interchange files by kind, from the previous period's start to ``now`` (local)."""
    rng = random.Random(seed)
    staff = make_staff(rng)
    first = period_start(now.date())
    # The hall's own calendar and schedules, read from the demo hall file by the rules.
    calendar = calendar_from_settings(parse_hall_file(hall_toml().encode()).settings)
    days = list(workdays(first, now.date(), calendar))
    punches: list[list[str]] = []
    absences: list[list[str]] = []
    ratings: list[list[str]] = []
    cases: list[list[str]] = []
    events: list[list[str]] = []
    rating_no = case_no = event_no = 0

    def at(day: dt.date, clock: dt.time, minutes: float) -> dt.datetime:
        return dt.datetime.combine(day, clock) + dt.timedelta(minutes=minutes)

    for person in staff:
        slip = 1.0 - person.diligence
        for day in days:
            schedule = schedule_for(day, calendar.schedules)
            if schedule is None:
                continue
            (a0, a1), (p0, p1) = schedule.am, schedule.pm
            roll = rng.random()
            if roll < 0.015:  # a day of leave
                absences.append(
                    [
                        person.staff_no,
                        "leave",
                        f"{day}T00:00:00",
                        f"{day}T23:59:59",
                        rng.choice(["事假", "病假", "年休假"]),
                    ]
                )
                continue
            out_pm = roll < 0.04
            if out_pm:  # an afternoon out of office on the window head's arrangement
                absences.append(
                    [
                        person.staff_no,
                        "out",
                        f"{day}T13:45:00",
                        f"{day}T18:00:00",
                        rng.choice(["上门服务", "业务培训", "送达文书"]),
                    ]
                )
            slots = [
                at(
                    day,
                    a0,
                    rng.uniform(-25, -2) if rng.random() > slip * 0.1 else rng.uniform(6, 40),
                ),
                at(
                    day,
                    a1,
                    rng.uniform(1, 20) if rng.random() > slip * 0.05 else rng.uniform(-20, -6),
                ),
                at(
                    day,
                    p0,
                    rng.uniform(-25, -2) if rng.random() > slip * 0.1 else rng.uniform(6, 45),
                ),
                at(day, p1, rng.uniform(1, 25)),
            ]
            if out_pm:
                slots = slots[:2]
            if rng.random() < slip * 0.03:
                slots.pop(rng.randrange(len(slots)))  # a forgotten punch
            if rng.random() < 0.05 and slots:
                slots.append(slots[0] + dt.timedelta(seconds=rng.randint(5, 50)))  # pressed twice
            for punched in slots:
                if punched <= now:
                    punches.append(
                        [person.staff_no, punched.isoformat(timespec="seconds"), "device"]
                    )
            # Ratings and cases of the day.
            for _ in range(rng.randint(0, 3)):
                rated = at(day, a0, rng.uniform(20, 480))
                if rated > now:
                    continue
                rating_no += 1
                weights = [
                    0.55 + 0.35 * person.diligence,
                    0.3,
                    0.08,
                    0.03 * slip + 0.005,
                    0.02 * slip + 0.003,
                ]
                level = rng.choices([5, 4, 3, 2, 1], weights=weights)[0]
                reasons = review = rectified = ""
                if level <= 2:
                    reasons = "|".join(rng.sample(REASONS, rng.randint(1, 2)))
                    if rated < now - dt.timedelta(days=2):
                        review = rng.choice(["upheld", "upheld", "unfounded"])
                        if review == "upheld" and rng.random() < 0.85:
                            rectified = (rated + dt.timedelta(days=rng.randint(1, 5))).isoformat(
                                timespec="seconds"
                            )
                ratings.append(
                    [
                        f"D{rating_no:06d}",
                        rated.isoformat(timespec="seconds"),
                        person.staff_no,
                        str(level),
                        rng.choice(["counter", "qr"]),
                        "",
                        reasons,
                        "false",
                        review,
                        rectified,
                    ]
                )
            if person.handles_cases:
                for _ in range(rng.randint(0, 3)):
                    accepted = at(day, a0, rng.uniform(10, 470))
                    if accepted > now:
                        continue
                    case_no += 1
                    due = accepted + dt.timedelta(days=rng.choice([1, 3, 5, 10]))
                    done = accepted + dt.timedelta(
                        hours=rng.uniform(1, 24 * 9 * (1.2 - person.diligence))
                    )
                    cases.append(
                        [
                            f"QJ{day:%Y}{case_no:06d}",
                            person.staff_no,
                            rng.choice(["设立登记", "变更登记", "许可申请", "证照补办"]),
                            accepted.isoformat(timespec="seconds"),
                            due.isoformat(timespec="seconds"),
                            done.isoformat(timespec="seconds") if done <= now else "",
                            rng.choice(["", "", "", "2", "0.5"]),
                        ]
                    )
        # A few events per person over the months.
        for _ in range(rng.randint(0, 2)):
            event_no += 1
            day = rng.choice(days)
            kind = rng.choices(["commendation", "spot_check", "complaint"], [0.5, 0.4, 0.1])[0]
            points = {
                "commendation": rng.choice([1, 2, 3]),
                "spot_check": rng.choice([-1, -2]),
                "complaint": -3,
            }[kind]
            category = {
                "commendation": "群众表扬",
                "spot_check": rng.choice(["玩手机", "脱岗", "着装不规范"]),
                "complaint": "服务态度",
            }[kind]
            veto = "true" if kind == "complaint" and rng.random() < 0.3 else "false"
            events.append(
                [
                    f"DE{event_no:04d}",
                    person.staff_no,
                    at(day, dt.time(10, 0), rng.uniform(0, 300)).isoformat(timespec="seconds"),
                    kind,
                    category,
                    str(points),
                    veto,
                    "带班巡查" if kind == "spot_check" else "",
                ]
            )

    roster = [[p.staff_no, p.name, p.window, "2024-01-02", ""] for p in staff]
    return {
        "hall": hall_toml(),
        "roster": _csv(EXPORT_HEADER["roster"], roster),
        "punches": _csv(EXPORT_HEADER["punches"], punches),
        "ratings": _csv(EXPORT_HEADER["ratings"], ratings),
        "cases": _csv(EXPORT_HEADER["cases"], cases),
        "absences": _csv(EXPORT_HEADER["absences"], absences),
        "events": _csv(EXPORT_HEADER["events"], events),
    }
