"""``flask --app kiosk score PERIOD``: the bimonthly scoring on the command line (SPEC 5.7)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from kiosk.extensions import db
from kiosk.rules.calendar import Period
from kiosk.rules.explain import explain
from kiosk.rules.scoring import AsOfBeforePeriod, ScoreResult, round_half_up, to_spec_json
from kiosk.services import bundle
from kiosk.services.errors import BundleError
from kiosk.services.halls import HallNotFound
from kiosk.services.rulefile import rules_in_force
from kiosk.services.scoring import rules_for, score_hall_period

__all__ = ["format_table", "register_cli", "score_command"]

_VETO = {"absence": "旷工", "discipline": "违纪", "unrectified_bad_review": "差评未整改"}
_REASON = {
    "veto": "否决",
    "too_few_ratings": "评价不足",
    "too_few_duty_days": "在岗不足",
    "below_threshold": "未达分数线",
}
_AWARD = {"advanced": "先进个人", "red_flag": "红旗窗口"}


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(_width(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _n(value: object) -> str:
    return "—" if value is None else str(round_half_up(value))  # type: ignore[arg-type]


def format_table(result: ScoreResult) -> str:
    """A human-readable Chinese report of a scoring result."""
    period = result.period
    lines = [
        f"{result.hall} 评分 {period.code}（{period.first_day} 至 {period.last_day}），"
        f"截至 {result.as_of.isoformat(timespec='seconds')}",
        f"规则：{result.rules.name}（sha256 {result.rules.sha256[:12]}…）",
    ]
    lines += [f"提示：{w}" for w in result.warnings]
    lines += ["", f"个人（先进个人名额 {result.individual_quota}）"]
    rows = []
    for p in result.individuals:
        a = p.attendance_detail
        rows.append(
            [
                str(p.rank),
                p.staff_no,
                p.name,
                p.window,
                _n(p.total),
                _n(p.satisfaction),
                _n(p.attendance),
                _n(p.workload),
                _n(p.discipline),
                _n(p.bonus),
                str(p.ratings.valid),
                f"{a.on_duty_days}/{a.workdays}",
                "、".join(_VETO[v] for v in p.vetoes) or "—",
                "符合" if p.eligible else "、".join(_REASON[r] for r in p.ineligible_reasons),
                _AWARD.get(p.award or "", ""),
            ]
        )
    header = [
        "名次",
        "工号",
        "姓名",
        "窗口",
        "总分",
        "满意度",
        "考勤",
        "办件",
        "纪律",
        "加分",
        "有效评价",
        "在岗",
        "否决",
        "资格",
        "奖项",
    ]
    lines += _table(header, rows)
    lines += ["", f"窗口（红旗窗口名额 {result.window_quota}）"]
    window_rows = [
        [
            str(w.rank),
            w.window,
            w.name,
            w.unit,
            _n(w.total),
            str(w.valid_ratings),
            "、".join(w.members),
            "、".join(_VETO[v] for v in w.vetoes) or "—",
            "符合" if w.eligible else "、".join(_REASON[r] for r in w.ineligible_reasons),
            _AWARD.get(w.award or "", ""),
        ]
        for w in result.windows
    ]
    header = ["名次", "窗口", "名称", "单位", "总分", "有效评价", "成员", "否决", "资格", "奖项"]
    lines += _table(header, window_rows)
    return "\n".join(lines)


def _parse_as_of(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f'"{value}" is not an ISO 8601 instant, e.g. 2026-11-05T12:00:00+08:00',
            param_hint="--as-of",
        ) from None


def verify_bundle(path: Path) -> None:
    """``score --verify FILE.zip``: recompute a bundle alone; exit 0, 1 (differs) or 2."""
    try:
        manifest, found = bundle.verify_file(path)
    except BundleError as exc:
        click.echo(f"error: {path}: {exc.message}", err=True)
        sys.exit(2)
    what = f"{manifest.get('period')} revision {manifest.get('revision')} of {manifest.get('hall')}"
    if found.ok:
        click.echo(
            f"verified {what}: every sha256 matches and the recomputed result equals result.json"
        )
        return
    for name in found.files:
        click.echo(f"file differs: {name} (sha256 is not the manifest's)")
    for staff_no, name in found.people:
        click.echo(f"person differs: {staff_no} {name}")
    for window, name in found.windows:
        click.echo(f"window differs: {window} {name}")
    for key in found.fields:
        click.echo(f"result differs: {key}")
    for problem in found.problems:
        click.echo(f"cannot recompute: {problem}")
    click.echo(f"error: {path} ({what}) does not verify", err=True)
    sys.exit(1)


@click.command("score")
@click.argument("period", required=False)
@click.option(
    "--as-of", "as_of", help="Instant the deadlines are judged at (ISO 8601; default now)."
)
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json prints exactly the result object of SPEC 5.7.",
)
@click.option("--explain", "explain_staff", metavar="STAFF_NO", help="Explain one person's score.")
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Rule file (default: the rule file in force: adopted in the back office, else "
    "SCORING_RULES, else the shipped default rules).",
)
@click.option(
    "--verify",
    "verify_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Recompute a publication bundle (zip) alone; exit 0 when it holds, 1 when not.",
)
@with_appcontext
def score_command(
    period: str | None,
    as_of: str | None,
    hall_code: str | None,
    output: str,
    explain_staff: str | None,
    rules_path: str | None,
    verify_path: Path | None,
) -> None:
    """Score PERIOD (YYYY-Bn, e.g. 2026-B5): 先进个人 and 红旗窗口.

    ``score --verify FILE.zip`` re-computes a publication bundle from the bundle alone
    (SPEC 13), in a fresh in-memory database; the running database is not touched.
    """
    if verify_path is not None:
        if period or as_of or hall_code or explain_staff or rules_path:
            raise click.UsageError("--verify takes the bundle alone (no PERIOD or other options)")
        verify_bundle(verify_path)
        return
    if period is None:
        raise click.UsageError("PERIOD is required (or --verify FILE.zip)")
    try:
        # Without --rules: the rule file in force (adopted in the back office, else
        # SCORING_RULES, else the shipped default), as every other service reads it.
        rules = rules_for(rules_path) if rules_path else rules_in_force(current_app.config)
    except (OSError, ValueError) as exc:
        click.echo(f"error: rule file: {exc}", err=True)
        sys.exit(1)
    try:
        scored_period = Period.parse(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="PERIOD") from None
    when = _parse_as_of(as_of)
    try:
        result = score_hall_period(db.session, scored_period, when, hall_code, rules)
    except AsOfBeforePeriod as exc:
        # SPEC 5.1: a refused as_of is a usage error (exit 2), like a malformed one.
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (HallNotFound, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if explain_staff is not None:
        try:
            items = explain(result, explain_staff)
        except KeyError:
            click.echo(f"error: {explain_staff} is not scored in {result.period.code}", err=True)
            sys.exit(1)
        if output == "json":
            click.echo(
                json.dumps(
                    [{"part": i.part, "text": i.text} for i in items], ensure_ascii=False, indent=2
                )
            )
        else:
            click.echo("\n".join(i.text for i in items))
        return
    if output == "json":
        click.echo(json.dumps(to_spec_json(result), ensure_ascii=False, indent=2))
    else:
        click.echo(format_table(result))


def register_cli(app: Flask) -> None:
    """Register ``score`` on the application's CLI."""
    app.cli.add_command(score_command)
