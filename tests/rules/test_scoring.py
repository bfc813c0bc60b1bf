"""Every formula of SPEC 5, on small hand-built halls (exact fractions, no database)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from kiosk.rules.calendar import Period
from kiosk.rules.ruleset import DEFAULT_RULES_PATH, RuleSet, default_rules, parse_rules
from kiosk.rules.scoring import (
    Absence,
    Assignment,
    Case,
    IndividualScore,
    Rating,
    ScoreResult,
    Window,
    _rank,
    round_half_up,
    score_period,
    to_spec_json,
)
from tests.rules.builders import WEEK, Person, build, clock, event

RULES = default_rules()
W3 = Window("W3", "咨询台", "U2", handles_cases=False)
WINDOWS = (Window("W1", "窗口一", "U1"), Window("W2", "窗口二", "U1"), W3)


def score(people: list[Person], rules: RuleSet = RULES, **kwargs: object) -> ScoreResult:
    kwargs.setdefault("windows", WINDOWS)
    return score_period(build(people, **kwargs), rules)  # type: ignore[arg-type]


def one(result: ScoreResult, staff_no: str) -> IndividualScore:
    person = result.individual(staff_no)
    assert person is not None, staff_no
    return person


def rating(staff_no: str, rid: str, when: datetime, level: int, **kw: object) -> Rating:
    return Rating(rid, staff_no, when, level, **kw)  # type: ignore[arg-type]


def rules_with(**changes: str) -> RuleSet:
    """The default rule file with some values replaced; keys are ``section__key``."""
    lines = DEFAULT_RULES_PATH.read_text(encoding="utf-8").splitlines()
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        current = None
        hits = []
        for i, line in enumerate(lines):
            if line.startswith("["):
                current = line.split("]")[0].strip("[")
            elif current == section and line.split("=")[0].strip() == key:
                hits.append(i)
        assert len(hits) == 1, dotted
        lines[hits[0]] = f"{key} = {value}"
    return parse_rules(("\n".join(lines) + "\n").encode("utf-8"), name="custom")


# --------------------------------------------------------------------------- satisfaction


def test_adjusted_satisfaction_uses_hall_mean() -> None:
    a = Person("A", levels=[5, 5, 5])
    b = Person("B", levels=[1])
    result = score([a, b])
    assert result.hall_mean == Fraction(300, 4)
    sa, sb = one(result, "A"), one(result, "B")
    assert sa.ratings.adjusted == Fraction(300 + 20 * 75, 3 + 20)
    assert sb.ratings.adjusted == Fraction(0 + 20 * 75, 1 + 20)
    assert sa.satisfaction == 40 * Fraction(1800, 23) / 100
    assert (sa.ratings.valid, sa.ratings.bad, sa.ratings.mean) == (3, 0, 100)
    assert (sb.ratings.valid, sb.ratings.bad, sb.ratings.mean) == (1, 1, 0)
    spec = {p["staff_no"]: p for p in to_spec_json(result)["individuals"]}
    assert spec["A"]["ratings"] == {"valid": 3, "bad": 0, "mean": 100.0, "adjusted": 78.26}
    assert spec["A"]["satisfaction"] == 31.3


def test_misuse_unfounded_and_out_of_period_ratings_are_left_out() -> None:
    a = Person(
        "A",
        levels=[],
        ratings=[
            rating("A", "in1", datetime(2026, 9, 1, 0, 0, 0), 5),
            rating("A", "in2", datetime(2026, 10, 31, 23, 59, 59), 3),
            rating("A", "before", datetime(2026, 8, 31, 23, 59, 59), 1),
            rating("A", "after", datetime(2026, 11, 1, 0, 0, 0), 1),
            rating("A", "mis", datetime(2026, 10, 1, 9), 1, misuse=True),
            rating("A", "unf", datetime(2026, 10, 1, 9), 1, review="unfounded"),
        ],
    )
    result = score([a])
    person = one(result, "A")
    assert (person.ratings.valid, person.ratings.value_sum) == (2, 160)
    assert result.hall_mean == 80
    assert sorted(person.ratings.excluded) == [("mis", "misuse"), ("unf", "unfounded")]


def test_no_valid_rating_in_hall_gives_full_adjusted_score() -> None:
    result = score([Person("A", levels=[]), Person("B", levels=[])])
    assert result.hall_mean is None
    for staff_no in ("A", "B"):
        person = one(result, staff_no)
        assert person.ratings.adjusted == 100 and person.satisfaction == 40
        assert person.ratings.mean is None
    spec = to_spec_json(result)["individuals"][0]
    assert spec["ratings"] == {"valid": 0, "bad": 0, "mean": None, "adjusted": 100.0}


def test_prior_weight_comes_from_rule_file() -> None:
    result = score(
        [Person("A", levels=[5, 5, 5]), Person("B", levels=[1])],
        rules_with(satisfaction__prior_weight="10"),
    )
    assert one(result, "A").ratings.adjusted == Fraction(300 + 10 * 75, 13)
    assert result.rules.name == "default"  # the file's own name wins over the argument


# --------------------------------------------------------------------------- attendance part


def test_attendance_deductions() -> None:
    d = [date(2026, 10, day) for day in range(26, 31)]
    punches = [
        *(
            clock(d[0], t) for t in ("09:00:00", "12:02", "13:55", "17:35")
        ),  # late exactly 30 min: −1
        *(clock(d[1], t) for t in ("09:00:01", "12:02", "13:55", "17:35")),  # late 30 min 1 s: −2
        *(clock(d[2], t) for t in ("08:20", "11:25", "13:55", "17:35")),  # early 35 min: −2
        *(clock(d[3], t) for t in ("08:20", "13:55", "17:35")),  # missing AM_OUT: −1
        # d[4]: nothing, two absent half-days: −6
    ]
    person = one(score([Person("A", days_punched=0, extra_punches=punches)]), "A")
    detail = person.attendance_detail
    assert (detail.late, detail.early, detail.missing, detail.absent_half_days) == (2, 1, 1, 2)
    assert detail.long_defects == 2
    assert person.attendance == 30 - 1 - 2 - 2 - 1 - 6
    assert (detail.workdays, detail.on_duty_days) == (5, 4)
    assert person.vetoes == ("absence",)


def test_attendance_is_not_below_zero() -> None:
    # Fri 23 Oct to Fri 30 Oct: six workdays without a punch, 12 half-days, −36.
    person = one(score([Person("A", start=date(2026, 10, 23), days_punched=0)]), "A")
    assert person.attendance_detail.absent_half_days == 12
    assert person.attendance == 0


def test_long_defect_threshold_from_rule_file() -> None:
    punches = [clock(date(2026, 10, 26), t) for t in ("08:50", "12:02", "13:55", "17:35")]
    person = Person("A", days_punched=0, extra_punches=punches, start=WEEK[0], end=WEEK[0])
    assert one(score([person]), "A").attendance == 29
    assert (
        one(score([person], rules_with(attendance__long_defect_minutes="15")), "A").attendance == 28
    )


# --------------------------------------------------------------------------- workload


def test_workload_formula_and_zero_cases() -> None:
    a = Person("A", cases=[(2, True), (0, True), (0, False)])  # w = 4, c = 3, t = 2
    b = Person("B", cases=[(0, True), (0, True)])  # w = 2, c = 2, t = 2
    c = Person("C")  # c = 0 while W > 0: the on-time half is 0
    result = score([a, b, c])
    assert result.max_weighted == 4
    assert one(result, "A").workload == 10 + Fraction(20, 3)
    assert one(result, "B").workload == 5 + 10
    assert one(result, "C").workload == 0
    assert result.warnings == ()
    spec = {p["staff_no"]: p for p in to_spec_json(result)["individuals"]}
    assert spec["A"]["cases"] == {"completed": 3, "weighted": 4.0, "on_time": 2}
    assert spec["A"]["workload"] == 16.67


def test_cases_count_by_completion_date_and_due_time() -> None:
    data = build([Person("A")])
    extra = [
        Case("on-due", "A", datetime(2026, 10, 1, 9), datetime(2026, 10, 1, 9), Decimal("0.5")),
        Case("late", "A", datetime(2026, 10, 1, 9), datetime(2026, 10, 1, 9, 0, 1), None),
        Case("next", "A", datetime(2026, 12, 1), datetime(2026, 11, 1, 0, 0, 0), None),
        Case("prev", "A", datetime(2026, 9, 1), datetime(2026, 8, 31, 23, 59, 59), None),
        Case("open", "A", datetime(2026, 9, 1), None, None),
    ]
    result = score_period(dataclasses.replace(data, cases=extra, windows=WINDOWS), RULES)
    cases = one(result, "A").cases
    assert (cases.completed, cases.weighted, cases.on_time, cases.overdue) == (
        2,
        Fraction(3, 2),
        1,
        ("late",),
    )


def test_no_case_data_gives_full_workload_and_a_warning() -> None:
    result = score([Person("A"), Person("Z", window="W3")])
    assert result.max_weighted == 0
    assert one(result, "A").workload == 20
    assert one(result, "Z").workload is None
    assert len(result.warnings) == 1 and "办件" in result.warnings[0]


def test_window_without_cases_rescales_total() -> None:
    punches = [
        clock(date(2026, 10, 26), t) for t in ("08:20", "13:55", "17:35")
    ]  # one missing punch
    z = Person(
        "Z",
        window="W3",
        levels=[5, 4],
        days_punched=0,
        extra_punches=punches,
        start=WEEK[0],
        end=WEEK[0],
        cases=[(0, True)],
        events=[event("Z", "2"), event("Z", "-1")],
    )
    other = Person("A", levels=[3], cases=[(0, True)])
    result = score([z, other])
    person = one(result, "Z")
    assert person.workload is None and person.attendance == 29 and person.discipline == 9
    assert person.total == (person.satisfaction + 29 + 9) * Fraction(100, 80) + 2
    spec = {p["staff_no"]: p for p in to_spec_json(result)["individuals"]}
    assert spec["Z"]["workload"] is None and spec["A"]["workload"] == 20.0
    # Cases of a person at such a window are still reported.
    assert person.cases.completed == 1


# --------------------------------------------------------------------------- discipline, bonus


@pytest.mark.parametrize(
    ("points", "discipline", "bonus"),
    [
        (["3", "3"], 10, 5),  # bonus capped at 5
        (["2"], 10, 2),
        (["-2"], 8, 0),
        (["-4", "-7"], 0, 0),  # discipline not below 0
        (["-3", "4", "0.5"], 7, Fraction(9, 2)),  # signs kept apart, decimals exact
        ([], 10, 0),
    ],
)
def test_discipline_and_bonus(points: list[str], discipline: int, bonus: Fraction) -> None:
    person = one(score([Person("A", events=[event("A", p) for p in points])]), "A")
    assert (person.discipline, person.bonus) == (discipline, bonus)


def test_events_outside_period_count_for_nothing() -> None:
    events = [event("A", "-5", veto=True, at=datetime(2026, 11, 1, 0, 0))]
    person = one(score([Person("A", events=events)]), "A")
    assert (person.discipline, person.vetoes) == (10, ())


def test_total_is_the_sum_of_unrounded_parts() -> None:
    a = Person(
        "A", levels=[5, 4, 4], cases=[(0, True), (0, False), (0, True)], events=[event("A", "1")]
    )
    b = Person("B", levels=[3], cases=[(3, True)])
    person = one(score([a, b]), "A")
    assert person.total == (
        person.satisfaction + person.attendance + person.workload + person.discipline + person.bonus  # type: ignore[operator]
    )


# --------------------------------------------------------------------------- vetoes

# Tue 27 Oct 10:00 rating: workdays after it are 28, 29, 30 Oct, 2 and 3 Nov -> 4 Nov 00:00.
RATED = datetime(2026, 10, 27, 10)
DEADLINE = datetime(2026, 11, 4)


@pytest.mark.parametrize(
    ("level", "extra", "as_of", "veto", "status"),
    [
        (
            2,
            {"review": "upheld", "rectified_at": DEADLINE},
            "2026-12-01T00:00:00+08:00",
            False,
            "on_time",
        ),
        (
            2,
            {"review": "upheld", "rectified_at": datetime(2026, 11, 4, 0, 0, 1)},
            "2026-12-01T00:00:00+08:00",
            True,
            "late",
        ),
        (
            1,
            {"review": "upheld"},
            "2026-11-04T00:00:00+08:00",
            False,
            "pending",
        ),  # deadline == as_of
        (1, {"review": "upheld"}, "2026-11-04T00:00:01+08:00", True, "overdue"),
        (1, {"review": "upheld"}, "2026-11-03T16:00:01Z", True, "overdue"),  # instants in any zone
        (1, {"review": "upheld"}, "2026-11-03T16:00:00Z", False, "pending"),
        (1, {"review": "upheld", "misuse": True}, "2026-12-01T00:00:00+08:00", False, None),
        (1, {"review": "unfounded"}, "2026-12-01T00:00:00+08:00", False, None),
        (1, {}, "2026-12-01T00:00:00+08:00", False, None),  # not yet verified: no work-order veto
        (3, {"review": "upheld"}, "2026-12-01T00:00:00+08:00", False, None),  # not a bad review
    ],
)
def test_unrectified_bad_review_veto(
    level: int, extra: dict[str, object], as_of: str, veto: bool, status: str | None
) -> None:
    person_in = Person("A", ratings=[rating("A", "bad", RATED, level, **extra)])
    person = one(score([person_in], as_of=datetime.fromisoformat(as_of)), "A")
    assert (person.vetoes == ("unrectified_bad_review",)) is veto
    checks = person.ratings.bad_reviews
    assert [c.status for c in checks] == ([status] if status else [])
    if checks:
        assert checks[0].deadline == DEADLINE


def test_vetoes_and_reasons_in_spec_order() -> None:
    person_in = Person(
        "A",
        days_punched=2,  # three workdays without a punch: absent, and 2/5 on duty
        levels=[1] * 5,
        ratings=[rating("A", "bad", RATED, 1, review="upheld")],
        events=[event("A", "-1", veto=True)],
    )
    result = score([person_in, Person("B", levels=[5] * 30)])
    person = one(result, "A")
    assert person.vetoes == ("absence", "discipline", "unrectified_bad_review")
    assert person.ineligible_reasons == (
        "veto",
        "too_few_ratings",
        "too_few_duty_days",
        "below_threshold",
    )
    assert person.eligible is False and person.award is None
    spec = {p["staff_no"]: p for p in to_spec_json(result)["individuals"]}
    assert spec["A"]["vetoes"] == ["absence", "discipline", "unrectified_bad_review"]


@pytest.mark.parametrize(
    ("absences", "on_duty", "reasons"),
    [
        # day 4 out all day (on duty), day 5 on leave: 4/5 = 80 % is enough
        ((("out", 29), ("leave", 30)), 4, ()),
        # two leave days: 3/5 on duty
        ((("leave", 29), ("leave", 30)), 3, ("too_few_duty_days",)),
    ],
)
def test_duty_ratio_boundary(
    absences: tuple[tuple[str, int], ...], on_duty: int, reasons: tuple[str, ...]
) -> None:
    rows = [
        Absence("A", kind, datetime(2026, 10, day, 8), datetime(2026, 10, day, 18))
        for kind, day in absences
    ]
    person = one(score([Person("A", days_punched=3, absences=rows)]), "A")
    detail = person.attendance_detail
    assert (detail.on_duty_days, detail.absent_half_days, detail.missing) == (on_duty, 0, 0)
    assert person.ineligible_reasons == reasons


def test_minimum_ratings_boundary() -> None:
    result = score([Person("A", levels=[5] * 20), Person("B", levels=[5] * 19)])
    assert one(result, "A").ineligible_reasons == ()
    assert one(result, "B").ineligible_reasons == ("too_few_ratings",)


def test_threshold_compares_the_total_rounded_up() -> None:
    # No case data (workload 20), S* 100: total = 40 + 30 + 20 + 10 + 4.995 = 104.995,
    # which is reported as 105.00 and so reaches a threshold of 105.
    person_in = Person("A", events=[event("A", "4.995")])
    person = one(score([person_in], rules_with(individual__threshold="105")), "A")
    assert person.total == Fraction(104995, 1000)
    assert person.eligible is True
    person = one(score([person_in], rules_with(individual__threshold="105.01")), "A")
    assert person.ineligible_reasons == ("below_threshold",)


def test_window_threshold_compares_the_rounded_mean() -> None:
    person_in = Person("A", levels=[5] * 30, events=[event("A", "4.995")])
    result = score([person_in], rules_with(window__threshold="105"))
    assert result.windows[0].total == Fraction(104995, 1000)
    assert result.windows[0].eligible is True
    result = score([person_in], rules_with(window__threshold="105.01"))
    assert result.windows[0].ineligible_reasons == ("below_threshold",)


def test_threshold_compares_the_rounded_total() -> None:
    a = Person("A", levels=[5, 4, 3] * 7, cases=[(0, True), (0, False)])
    b = Person("B", cases=[(0, True)] * 3)
    total = one(score([a, b]), "A").total
    rounded = round_half_up(total)
    assert rounded != total  # the test needs a total with more than 2 decimals
    at_threshold = rules_with(individual__threshold=str(rounded))
    assert one(score([a, b], at_threshold), "A").eligible is True
    above = rules_with(individual__threshold=str(rounded + Decimal("0.01")))
    assert one(score([a, b], above), "A").ineligible_reasons == ("below_threshold",)


# --------------------------------------------------------------------------- ranking and awards


def test_ranking_ties_and_quota_tie_extension() -> None:
    bonuses = {
        "P01": "5",
        "P02": "4",
        "P03": "4",
        "P04": "3",
        "P05": "2.5",
        "P06": "2",
        "P07": "1.5",
        "P08": "1",
        "P09": "0.5",
        "P10": "0.25",
        "P11": "0",
    }
    people = [Person(no, events=[event(no, b)] if b != "0" else []) for no, b in bonuses.items()]
    # P12 has P02's key but only 19 ratings: ranked with them, never awarded.
    people.append(Person("P12", levels=[5] * 19, events=[event("P12", "4")]))
    result = score(people)
    order = [(p.staff_no, p.rank, p.award) for p in result.individuals]
    assert order[:6] == [
        ("P01", 1, "advanced"),
        ("P02", 2, "advanced"),  # quota ceil(11 / 10) = 2 ...
        ("P03", 2, "advanced"),  # ... extended to the eligible tie
        ("P12", 2, None),
        ("P04", 5, None),
        ("P05", 6, None),
    ]
    assert result.individual_quota == 2
    assert [p["staff_no"] for p in to_spec_json(result)["individuals"]][:4] == [
        "P01",
        "P02",
        "P03",
        "P12",
    ]


@pytest.mark.parametrize(
    ("keys", "eligible", "ranks", "awarded", "quota"),
    [
        # rounded total ties broken by S*, then w, then attendance
        (
            [(90, 95, 10, 30), (90, 96, 0, 0), (90, 95, 11, 0), (90, 95, 10, 29)],
            [True] * 4,
            [3, 1, 2, 4],
            {1},
            1,
        ),
        (
            [(90, 1, 1, 1), (90, 1, 1, 1), (80, 1, 1, 1), (90, 1, 1, 1)],
            [True] * 4,
            [1, 1, 4, 1],
            {0, 1, 3},
            1,
        ),
        # the tie extension only reaches eligible entries
        ([(90, 1, 1, 1), (90, 1, 1, 1), (80, 1, 1, 1)], [True, False, True], [1, 1, 3], {0}, 1),
        ([(90, 1, 1, 1)], [False], [1], set(), 0),  # nobody eligible, no award
        ([], [], [], set(), 0),
    ],
)
def test_rank_and_quota(
    keys: list[tuple[int, ...]],
    eligible: list[bool],
    ranks: list[int],
    awarded: set[int],
    quota: int,
) -> None:
    ids = [f"S{i}" for i in range(len(keys))]
    _, got_ranks, got_awarded, got_quota = _rank(keys, ids, eligible, 10)
    assert (got_ranks, got_awarded, got_quota) == (ranks, awarded, quota)


@pytest.mark.parametrize(("eligible", "quota"), [(1, 1), (10, 1), (11, 2), (20, 2), (21, 3)])
def test_quota_is_ceiling_of_a_tenth(eligible: int, quota: int) -> None:
    keys = [(100 - i,) for i in range(eligible)]
    _, _, awarded, got = _rank(keys, [f"S{i:02d}" for i in range(eligible)], [True] * eligible, 10)
    assert got == quota and awarded == set(range(quota))


# --------------------------------------------------------------------------- windows


def test_window_scoring() -> None:
    a = Person("A", levels=[5, 4] * 10, events=[event("A", "-1", veto=True)])
    b = Person("B", levels=[5] * 20, days_punched=4)  # one day absent: absence veto
    c = Person("C", window="W2", levels=[5] * 20)  # 20 ratings < 30 for a window
    d = Person("D", window="W3", levels=[5] * 15 + [4] * 15)
    result = score([a, b, c, d])
    windows = {w.window: w for w in result.windows}
    assert set(windows) == {"W1", "W2", "W3"}
    sa, sb = one(result, "A"), one(result, "B")
    w1 = windows["W1"]
    assert w1.members == ("A", "B")
    assert w1.total == (sa.total + sb.total) / 2
    assert w1.adjusted == (sa.ratings.adjusted + sb.ratings.adjusted) / 2
    assert w1.attendance == (sa.attendance + sb.attendance) / 2
    assert w1.valid_ratings == 40
    assert w1.vetoes == ("absence", "discipline")
    assert w1.ineligible_reasons == ("veto",)
    assert windows["W2"].ineligible_reasons == ("too_few_ratings",)
    assert windows["W3"].eligible is True and windows["W3"].award == "red_flag"
    assert result.window_quota == 1
    spec = to_spec_json(result)["windows"]
    assert [w["window"] for w in spec] == [w.window for w in result.windows]
    assert spec[0]["rank"] == 1


def test_window_without_members_is_not_scored() -> None:
    result = score([Person("A")], windows=(*WINDOWS, Window("W9", "空窗口", "U1")))
    assert [w.window for w in result.windows] == ["W1"]


def test_window_ties_share_rank() -> None:
    result = score([Person("A"), Person("C", window="W2")])
    assert [(w.window, w.rank, w.award) for w in result.windows] == [
        ("W1", 1, None),
        ("W2", 1, None),
    ]


# --------------------------------------------------------------------------- roster and home window


def test_home_window_tie_goes_to_later_assignment() -> None:
    assignments = (
        Assignment("W1", date(2026, 10, 26), date(2026, 10, 27)),
        Assignment("W2", date(2026, 10, 28), date(2026, 10, 29)),
    )
    person = one(score([Person("A", assignments=assignments, end=date(2026, 10, 29))]), "A")
    assert person.window == "W2"
    assert person.attendance_detail.workdays == 4


def test_home_window_tie_counts_the_latest_assignment_of_each_window() -> None:
    # W1 on 26 and 29 Oct (two assignments), W2 on 27 and 28 Oct: a tie that the later
    # assignment (W1 from 29 Oct) wins.
    assignments = (
        Assignment("W1", date(2026, 10, 26), date(2026, 10, 26)),
        Assignment("W2", date(2026, 10, 27), date(2026, 10, 28)),
        Assignment("W1", date(2026, 10, 29), date(2026, 10, 29)),
    )
    person = one(score([Person("A", assignments=assignments, end=date(2026, 10, 29))]), "A")
    assert person.window == "W1"
    assert person.attendance_detail.workdays == 4


def test_overlapping_assignments_later_start_holds() -> None:
    assignments = (
        Assignment("W1", date(2026, 10, 26)),
        Assignment("W2", date(2026, 10, 28), date(2026, 10, 29)),
    )
    result = score([Person("A", assignments=assignments)])
    person = one(result, "A")
    assert person.window == "W1"  # W1 holds 26, 27 and 30 Oct; W2 only 28 and 29
    assert person.attendance_detail.workdays == 5


def test_staff_off_roster_in_period_is_not_scored() -> None:
    gone = Person("X", start=date(2026, 1, 1), end=date(2026, 8, 31), levels=[1])
    result = score([Person("A"), gone])
    assert result.individual("X") is None
    assert [w.members for w in result.windows] == [("A",)]


def test_roster_days_only_count_workdays_of_the_assignment() -> None:
    # Starts Wed 28 Oct: three roster workdays; Monday's punches are not on the roster.
    punches = [clock(date(2026, 10, 26), t) for t in ("08:20", "12:02", "13:55", "17:35")]
    person = one(score([Person("A", start=date(2026, 10, 28), extra_punches=punches)]), "A")
    detail = person.attendance_detail
    assert (detail.workdays, detail.on_duty_days) == (3, 3)
    assert [d.day for d in detail.days] == [
        date(2026, 10, 28),
        date(2026, 10, 29),
        date(2026, 10, 30),
    ]


# --------------------------------------------------------------------------- warnings, output


def test_uncovered_year_warning() -> None:
    period = Period.parse("2003-B5")
    result = score([Person("A", start=date(2003, 9, 1), end=None)], period=period)
    assert any("2003" in w for w in result.warnings)
    # National Day 2003 falls back to an ordinary Wednesday workday.
    assert date(2003, 10, 1) in [d.day for d in one(result, "A").attendance_detail.days]
    covered = score([Person("A")])
    assert not any("2003" in w or "2026" in w for w in covered.warnings)


def test_deadline_in_uncovered_year_warns() -> None:
    period = Period.parse("2026-B6")
    late_rating = rating("A", "bad", datetime(2026, 12, 29, 10), 1, review="upheld")
    result = score(
        [Person("A", start=date(2026, 12, 1), end=None, ratings=[late_rating])],
        period=period,
        as_of=datetime.fromisoformat("2027-01-31T00:00:00+08:00"),
    )
    assert any("2027" in w for w in result.warnings)
    assert one(result, "A").ratings.bad_reviews[0].deadline.year == 2027


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(85005, 1000), "85.01"),  # exactly half: up
        (Fraction(85004999, 1000000), "85.00"),
        (Fraction(2675, 1000), "2.68"),  # a float would round 2.675 down
        (Fraction(1, 8), "0.13"),
        (Fraction(-1005, 1000), "-1.01"),
        (Fraction(100), "100.00"),
        (Decimal("99.995"), "100.00"),
    ],
)
def test_round_half_up(value: Fraction | Decimal, expected: str) -> None:
    assert round_half_up(value) == Decimal(expected)
    assert str(round_half_up(value)) == expected


def test_spec_json_header() -> None:
    result = score([Person("A")], as_of=datetime.fromisoformat("2026-11-04T16:00:00Z"))
    spec = to_spec_json(result)
    assert list(spec) == [
        "period",
        "hall",
        "from",
        "to",
        "as_of",
        "rules",
        "warnings",
        "individuals",
        "windows",
    ]
    assert (spec["period"], spec["hall"], spec["from"], spec["to"]) == (
        "2026-B5",
        "QJ",
        "2026-09-01",
        "2026-10-31",
    )
    assert spec["as_of"] == "2026-11-05T00:00:00+08:00"
    assert spec["rules"] == {"name": "default", "sha256": RULES.sha256}
