"""Publication bundles (SPEC 13): ``publish``, ``export bundle``, ``score --verify``.

The worked example (tests/data/small) is published through the command line; its bundle
must re-score to the same result in an empty database, verify untouched, fail to verify
(naming what differs) when one punch, one rule value or one result total is edited, and
stay byte for byte the same after a correction, a hall settings change, a roster change
and a second revision. Hostile zips are refused with exit status 2.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from kiosk import create_app
from kiosk.extensions import db
from kiosk.interchange import store
from kiosk.models import (
    AuditEntry,
    Hall,
    PublishedFile,
    PublishedPeriod,
    Punch,
    Staff,
    User,
    Window,
)
from kiosk.rules.calendar import Period
from kiosk.rules.ruleset import default_rules
from kiosk.rules.scoring import score_period, to_spec_json
from kiosk.services import bundle, publishing
from kiosk.services.accounts import create_user
from kiosk.services.errors import BundleError
from kiosk.services.halls import resolve_hall
from kiosk.services.records import add_correction_punch
from kiosk.services.scoring import load_period_data
from tests.conftest import PG_SERVER, _base_config

AS_OF = "2026-11-05T12:00:00+08:00"
PERIOD = "2026-B5"


@pytest.fixture
def leader(app: Flask, example_hall: Path) -> str:
    """A leader of the example hall, who publishes."""
    with app.app_context():
        create_user(
            db.session,
            username="lingdao",
            password="long-enough-1",
            role="leader",
            hall=resolve_hall(db.session, None),
        )
        db.session.commit()
    return "lingdao"


def _publish(runner: FlaskCliRunner, reason: str | None = None, by: str = "lingdao") -> Any:
    args = ["publish", PERIOD, "--as-of", AS_OF, "--by", by]
    if reason is not None:
        args += ["--reason", reason]
    return runner.invoke(args=args)


def _export(runner: FlaskCliRunner, out: Path, revision: int | None = None) -> bytes:
    args = ["export", "bundle", PERIOD, "--output", str(out)]
    if revision is not None:
        args += ["--revision", str(revision)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(files: dict[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def published(runner: FlaskCliRunner, leader: str, tmp_path: Path) -> bytes:
    """The example published once (revision 1) and its bundle's bytes."""
    result = _publish(runner)
    assert result.exit_code == 0, result.output
    return _export(runner, tmp_path / "r1.zip")


@pytest.fixture
def empty_app(database_template: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    """A second application on an empty, migrated database of its own."""
    instance = tmp_path / "instance2"
    instance.mkdir()
    name = None
    if database_template["backend"] == "postgresql":
        name = f"kiosk_bundle_{uuid.uuid4().hex[:10]}"
        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        uri = f"{PG_SERVER}/{name}"
    else:
        path = tmp_path / "empty.sqlite"
        shutil.copyfile(database_template["template"], path)
        uri = f"sqlite:///{path}"
    application = create_app(_base_config(uri, instance))
    application.instance_path = str(instance)
    if name is not None:
        with application.app_context():
            upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    if name is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ----------------------------------------------------------------------------- publish


def test_publish_publishes_as_the_back_office_does(
    app: Flask, runner: FlaskCliRunner, leader: str
) -> None:
    result = _publish(runner)
    assert result.exit_code == 0, result.output
    assert "revision 1" in result.output
    with app.app_context():
        row = db.session.scalar(select(PublishedPeriod))
        assert row is not None and row.revision == 1 and row.reason is None
        hall = resolve_hall(db.session, None)
        assert publishing.as_of_local(row, hall).isoformat() == AS_OF
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "period.publish"))
        assert entry is not None and entry.user_id == row.published_by
        user = db.session.get(User, entry.user_id)
        assert user is not None and user.username == leader
        names = set(
            db.session.scalars(
                select(PublishedFile.name).where(PublishedFile.published_id == row.id)
            )
        )
        assert names == {*bundle.INPUT_FILES, "rules.toml"}


def test_publish_refuses_with_exit_2_and_stores_nothing(
    app: Flask, runner: FlaskCliRunner, leader: str
) -> None:
    with app.app_context():
        create_user(
            db.session,
            username="zhiban",
            password="long-enough-1",
            role="duty",
            hall=resolve_hall(db.session, None),
        )
        db.session.commit()
    cases = [
        (["--by", "nobody"], "不存在"),
        (["--by", "zhiban"], "不是中心领导"),
        (["--by", leader, "--as-of", "2026-10-20T12:00:00+08:00"], "尚未结束"),
        (["--by", leader, "--as-of", "2099-12-20T12:00:00+08:00"], "不能晚于当前时间"),
        (["--by", leader, "--as-of", "yesterday"], "ISO 8601"),
        (["--by", leader, "--reason", "a\x00b"], "control character"),
        (["--by", leader, "--reason", "长" * 1001], "不能超过"),
    ]
    for extra, message in cases:
        args = ["publish", PERIOD, "--as-of", AS_OF, *extra]
        result = runner.invoke(args=args)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output, (extra, result.output)
    bad_period = runner.invoke(args=["publish", "2026-B9", "--as-of", AS_OF, "--by", leader])
    assert bad_period.exit_code == 2 and "不是有效的考评期" in bad_period.output
    with app.app_context():
        assert db.session.scalar(select(func.count(PublishedPeriod.id))) == 0
        assert db.session.scalar(select(func.count(PublishedFile.id))) == 0


def test_a_second_publish_is_a_revision_that_needs_a_reason(
    app: Flask, runner: FlaskCliRunner, leader: str
) -> None:
    assert _publish(runner).exit_code == 0
    again = _publish(runner)
    assert again.exit_code == 2 and "必须填写原因" in again.output
    same = _publish(runner, reason="复核")
    assert same.exit_code == 2 and "完全相同" in same.output
    _correct_s005(app)
    revised = _publish(runner, reason="补录 S005 10 月 10 日上午打卡")
    assert revised.exit_code == 0, revised.output
    assert "revision 2" in revised.output
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "period.revise"))
        assert entry is not None and entry.reason == "补录 S005 10 月 10 日上午打卡"


# ----------------------------------------------------------------------------- bundles


def _correct_s005(app: Flask) -> None:
    """S005 had no punch on Sat 10 Oct: an officer adds the morning one after publication."""
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        add_correction_punch(
            db.session,
            hall,
            staff_no="S005",
            local_time=dt.datetime(2026, 10, 10, 8, 20),
            reason="指纹机故障，监控核实到岗",
            user_id=None,  # type: ignore[arg-type]
        )
        db.session.commit()


def test_a_bundle_holds_the_files_of_spec_13(app: Flask, published: bytes) -> None:
    files = _files(published)
    assert set(files) == {*bundle.BUNDLE_FILES, "MANIFEST.json"}
    manifest = json.loads(files["MANIFEST.json"])
    assert list(manifest) == ["period", "hall", "revision", "as_of", "published_at", "files"]
    assert manifest["period"] == PERIOD and manifest["hall"] == "QJ"
    assert manifest["revision"] == 1 and manifest["as_of"] == AS_OF
    assert set(manifest["files"]) == set(bundle.BUNDLE_FILES)
    for name, digest in manifest["files"].items():
        assert bundle._sha(files[name]) == digest
    assert files["rules.toml"] == default_rules().source
    with app.app_context():
        row = db.session.scalar(select(PublishedPeriod))
        assert row is not None
        assert json.loads(files["result.json"]) == json.loads(row.result_json)
        assert files["result.json"].decode() == (
            json.dumps(json.loads(row.result_json), ensure_ascii=False, indent=2) + "\n"
        )
    # The CSV files have exactly the headers import reads.
    assert files["punches.csv"].startswith(b"staff_no,punched_at,source\n")
    assert b"S008" in files["roster.csv"]  # the whole roster: S008 left in August


def test_the_bundle_re_scores_to_the_same_result_in_an_empty_database(
    app: Flask, published: bytes, empty_app: Flask, tmp_path: Path
) -> None:
    files = _files(published)
    folder = tmp_path / "unzipped"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    other = empty_app.test_cli_runner()
    for name, kind in bundle.INPUT_FILES.items():
        result = other.invoke(args=["import", kind, str(folder / name)])
        assert result.exit_code == 0, (name, result.output)
    scored = other.invoke(
        args=[
            "score",
            PERIOD,
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--rules",
            str(folder / "rules.toml"),
        ]
    )
    assert scored.exit_code == 0, scored.output
    assert scored.output.encode("utf-8") == files["result.json"]
    # Not only the result: the scorer read exactly the inputs it read at publication.
    with app.app_context():
        row = db.session.scalar(select(PublishedPeriod))
        assert row is not None
        published_inputs = row.inputs_sha256
    with empty_app.app_context():
        hall = resolve_hall(db.session, None)
        again = publishing.compute(
            db.session,
            hall,
            publishing.parse_period(PERIOD),
            dt.datetime.fromisoformat(AS_OF),
            default_rules(),
        )
        assert again.inputs_sha256 == published_inputs


def test_verify_an_untouched_bundle(
    app: Flask, runner: FlaskCliRunner, published: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "b.zip"
    path.write_bytes(published)
    with app.app_context():
        punches = db.session.scalar(select(func.count(Punch.id)))
        halls = db.session.scalar(select(func.count(Hall.id)))
    result = runner.invoke(args=["score", "--verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "verified 2026-B5 revision 1 of QJ" in result.output
    with app.app_context():
        # The running database was not touched.
        assert db.session.scalar(select(func.count(Punch.id))) == punches
        assert db.session.scalar(select(func.count(Hall.id))) == halls


def test_verify_in_an_empty_running_database(
    published: bytes, empty_app: Flask, tmp_path: Path
) -> None:
    path = tmp_path / "b.zip"
    path.write_bytes(published)
    result = empty_app.test_cli_runner().invoke(args=["score", "--verify", str(path)])
    assert result.exit_code == 0, result.output
    with empty_app.app_context():
        assert db.session.scalar(select(func.count(Hall.id))) == 0


def _edited_punch(files: dict[str, bytes]) -> tuple[dict[str, bytes], str]:
    """S001's first punch of 1 Sep moved from 07:49 to 09:49: late over 30 minutes."""
    text = files["punches.csv"].decode()
    assert "S001,2026-09-01T07:49:43," in text
    edited = text.replace("S001,2026-09-01T07:49:43,", "S001,2026-09-01T09:49:43,", 1)
    return {**files, "punches.csv": edited.encode()}, "S001"


def _edited_rule(files: dict[str, bytes]) -> tuple[dict[str, bytes], str]:
    """The long-defect points 2 -> 5: S002, late over 30 minutes, loses more."""
    text = files["rules.toml"].decode()
    assert "long_defect_points = 2 " in text
    return {
        **files,
        "rules.toml": text.replace(
            "long_defect_points = 2 ", "long_defect_points = 5 ", 1
        ).encode(),
    }, "S002"


def _edited_total(files: dict[str, bytes]) -> tuple[dict[str, bytes], str]:
    """The first individual's total in result.json raised by one point."""
    result = json.loads(files["result.json"])
    person = result["individuals"][0]
    person["total"] = round(person["total"] + 1, 2)
    text = json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    return {**files, "result.json": text.encode()}, person["staff_no"]


@pytest.mark.parametrize(
    ("edit", "file"),
    [(_edited_punch, "punches.csv"), (_edited_rule, "rules.toml"), (_edited_total, "result.json")],
)
def test_verify_names_the_edited_file_and_the_person(
    runner: FlaskCliRunner,
    published: bytes,
    tmp_path: Path,
    edit: Callable[[dict[str, bytes]], tuple[dict[str, bytes], str]],
    file: str,
) -> None:
    files, staff_no = edit(_files(published))
    path = _zip(files, tmp_path / "edited.zip")
    result = runner.invoke(args=["score", "--verify", str(path)])
    assert result.exit_code == 1, result.output
    assert f"file differs: {file}" in result.output
    differing = [line for line in result.output.splitlines() if line.startswith("file differs")]
    assert len(differing) == 1, result.output
    assert f"person differs: {staff_no} " in result.output
    assert "does not verify" in result.output


def test_an_edited_rule_file_also_shows_in_the_result_rules(
    runner: FlaskCliRunner, published: bytes, tmp_path: Path
) -> None:
    files, _ = _edited_rule(_files(published))
    result = runner.invoke(args=["score", "--verify", str(_zip(files, tmp_path / "r.zip"))])
    assert result.exit_code == 1 and "result differs: rules" in result.output


def test_revision_1_bundle_is_unchanged_after_corrections_and_revision_2(
    app: Flask, runner: FlaskCliRunner, published: bytes, tmp_path: Path
) -> None:
    # After publication: a correction punch, a hall setting, a window renamed, a
    # staff member renamed, and a voided punch (through the records service's void).
    _correct_s005(app)
    with app.app_context():
        hall = resolve_hall(db.session, None)
        hall.settings = {**hall.settings, "grace_minutes": 15}
        window = db.session.scalar(select(Window).where(Window.code == "W01"))
        assert window is not None
        window.name = "企业开办"
        person = db.session.scalar(select(Staff).where(Staff.staff_no == "S001"))
        assert person is not None
        person.name = "张敏敏"
        db.session.commit()
    assert _export(runner, tmp_path / "again.zip", revision=1) == published
    revised = _publish(runner, reason="补录打卡，调整宽限")
    assert revised.exit_code == 0, revised.output
    assert _export(runner, tmp_path / "r1-later.zip", revision=1) == published
    second = _export(runner, tmp_path / "r2.zip")
    assert second != published
    assert json.loads(_files(second)["MANIFEST.json"])["revision"] == 2
    assert b"grace_minutes = 15" in _files(second)["hall.toml"]
    assert b"grace_minutes = 15" not in _files(published)["hall.toml"]
    for data in (published, second):
        path = tmp_path / "v.zip"
        path.write_bytes(data)
        result = runner.invoke(args=["score", "--verify", str(path)])
        assert result.exit_code == 0, result.output


def test_the_frozen_files_are_append_only(app: Flask, published: bytes) -> None:
    with app.app_context():
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text("UPDATE published_files SET sha256 = 'x'"))
        db.session.rollback()
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text("DELETE FROM published_files"))
        db.session.rollback()


def test_export_bundle_refuses_what_is_not_published(
    runner: FlaskCliRunner, leader: str, tmp_path: Path
) -> None:
    out = tmp_path / "x.zip"
    none = runner.invoke(args=["export", "bundle", PERIOD, "--output", str(out)])
    assert none.exit_code == 1 and "is not published" in none.output
    assert _publish(runner).exit_code == 0
    wrong = runner.invoke(
        args=["export", "bundle", PERIOD, "--revision", "2", "--output", str(out)]
    )
    assert wrong.exit_code == 1 and "revision 2" in wrong.output
    no_output = runner.invoke(args=["export", "bundle", PERIOD])
    assert no_output.exit_code == 2 and "--output" in no_output.output
    mixed = runner.invoke(args=["export", "punches", PERIOD])
    assert mixed.exit_code == 2
    assert not out.exists()


# ----------------------------------------------------------------------------- hostile


def _hostile_cases(files: dict[str, bytes], tmp_path: Path) -> list[tuple[Path, str]]:
    cases: list[tuple[Path, str]] = []
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"PK\x03\x04 this is not a zip at all")
    cases.append((not_zip, "不是有效的复核包"))
    text_file = tmp_path / "text.zip"
    text_file.write_text("hello", encoding="utf-8")
    cases.append((text_file, "不是有效的复核包"))
    missing = dict(files)
    del missing["punches.csv"]
    cases.append((_zip(missing, tmp_path / "missing.zip"), "缺少文件：punches.csv"))
    traversal = {**files, "../../etc/cron.d/evil": b"x"}
    cases.append((_zip(traversal, tmp_path / "traversal.zip"), "文件名不安全"))
    absolute = {**files, "/tmp/evil.csv": b"x"}
    cases.append((_zip(absolute, tmp_path / "absolute.zip"), "文件名不安全"))
    extra = {**files, "notes.txt": b"x"}
    cases.append((_zip(extra, tmp_path / "extra.zip"), "多余的文件"))
    many = {**files, **{f"f{i}.csv": b"" for i in range(20)}}
    cases.append((_zip(many, tmp_path / "many.zip"), "文件过多"))
    bad_manifest = {**files, "MANIFEST.json": b"{not json"}
    cases.append((_zip(bad_manifest, tmp_path / "manifest.zip"), "MANIFEST.json"))
    return cases


def test_hostile_bundles_are_refused_with_exit_2(
    runner: FlaskCliRunner, published: bytes, tmp_path: Path
) -> None:
    for path, message in _hostile_cases(_files(published), tmp_path):
        result = runner.invoke(args=["score", "--verify", str(path)])
        assert result.exit_code == 2, (path.name, result.output)
        assert message in result.output, (path.name, result.output)


def test_a_zip_bomb_is_refused_before_it_is_inflated(
    runner: FlaskCliRunner,
    published: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 64 MB of zeros deflate to about 64 kB; the limit is lowered so the test stays small.
    monkeypatch.setattr(bundle, "MAX_BUNDLE_BYTES", 32 * 1024 * 1024)
    files = {**_files(published), "punches.csv": bytes(64 * 1024 * 1024)}
    path = _zip(files, tmp_path / "bomb.zip")
    assert path.stat().st_size < 1024 * 1024
    result = runner.invoke(args=["score", "--verify", str(path)])
    assert result.exit_code == 2 and "超过 32 MB" in result.output, result.output


def test_a_member_larger_than_it_declares_is_refused(published: bytes) -> None:
    # A forged header declaring a small size: reading stops at the limit or the CRC fails.
    files = _files(published)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data if name != "punches.csv" else bytes(4 * 1024 * 1024))
    raw = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = archive.getinfo("punches.csv")
    # Patch the central directory's uncompressed size of punches.csv to 10 bytes.
    pos = 0
    while True:
        pos = raw.find(b"PK\x01\x02", pos)
        assert pos >= 0
        length = int.from_bytes(raw[pos + 28 : pos + 30], "little")
        if raw[pos + 46 : pos + 46 + length] == b"punches.csv":
            raw[pos + 24 : pos + 28] = (10).to_bytes(4, "little")
            break
        pos += 4
    assert info.file_size == 4 * 1024 * 1024
    with pytest.raises(BundleError):
        bundle.read_bundle(bytes(raw), limit=1024 * 1024)


def test_the_demo_halls_publication_verifies(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    loaded = runner.invoke(args=["demo", "load"])
    assert loaded.exit_code == 0, loaded.output
    with app.app_context():
        row = db.session.scalar(select(PublishedPeriod))
        assert row is not None
        period = row.period
    out = tmp_path / "demo.zip"
    exported = runner.invoke(args=["export", "bundle", period, "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    verified = runner.invoke(args=["score", "--verify", str(out)])
    assert verified.exit_code == 0, verified.output
    manifest = json.loads(_files(out.read_bytes())["MANIFEST.json"])
    assert manifest["hall"] == "QJ" and manifest["period"] == period


def _forged(files: dict[str, bytes], name: str, data: bytes) -> dict[str, bytes]:
    """``files`` with ``name`` replaced and the manifest's sha256 of it made to match."""
    manifest = json.loads(files["MANIFEST.json"])
    manifest["files"][name] = bundle._sha(data)
    return {**files, name: data, "MANIFEST.json": json.dumps(manifest).encode()}


def test_a_bundle_that_import_refuses_does_not_verify_at_any_size(
    runner: FlaskCliRunner, published: bytes, tmp_path: Path
) -> None:
    # 50,000 more ratings of 2025 (outside the period: the result does not move), then the
    # first rating again. The manifest is forged to match, so only the import can tell.
    # Verify once imported big files in separately imported pieces of 50,000 rows: the
    # repeated rating_id was an "unchanged" row of the second piece and this verified.
    files = _files(published)
    text = files["ratings.csv"].decode()
    lines = text.splitlines(keepends=True)
    extra = "".join(
        f"X{n:06d},2025-03-0{1 + n % 5}T10:00:00,S001,5,counter,,,false,,\n" for n in range(50_000)
    )
    data = (text + extra + lines[1]).encode()
    forged = _zip(_forged(files, "ratings.csv", data), tmp_path / "forged.zip")
    expected = f"line {len(lines) + 50_001}: duplicate rating_id (first on line 2)"
    result = runner.invoke(args=["score", "--verify", str(forged)])
    assert result.exit_code == 1, result.output
    assert "file differs" not in result.output
    assert f"cannot recompute: ratings.csv: {expected}" in result.output, result.output
    # The normal importer refuses the same file with the same words.
    path = tmp_path / "ratings.csv"
    path.write_bytes(data)
    imported = runner.invoke(args=["import", "ratings", str(path)])
    assert imported.exit_code == 1 and expected in imported.output, imported.output


def test_verify_imports_in_batches_with_the_files_own_line_numbers(
    runner: FlaskCliRunner, published: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 7 rows: the same answer, and a bad row's line is the file's.
    monkeypatch.setattr(store, "WRITE_ROWS", 7)
    path = tmp_path / "b.zip"
    path.write_bytes(published)
    assert runner.invoke(args=["score", "--verify", str(path)]).exit_code == 0
    files = _files(published)
    lines = files["punches.csv"].decode().splitlines(keepends=True)
    broken = list(lines)
    broken[30] = "S001,not-a-time,\n"
    result = runner.invoke(
        args=[
            "score",
            "--verify",
            str(_zip({**files, "punches.csv": "".join(broken).encode()}, tmp_path / "x.zip")),
        ]
    )
    assert result.exit_code == 1 and "file differs: punches.csv" in result.output
    assert "cannot recompute: punches.csv: line 31" in result.output, result.output
    # A punch repeated 40 rows (six batches) later is refused, naming both lines.
    repeated = "".join([*lines[:45], lines[5], *lines[45:]]).encode()
    result = runner.invoke(
        args=[
            "score",
            "--verify",
            str(_zip(_forged(files, "punches.csv", repeated), tmp_path / "r.zip")),
        ]
    )
    assert result.exit_code == 1, result.output
    assert (
        "cannot recompute: punches.csv: line 46: duplicate staff_no + punched_at "
        "(first on line 6)" in result.output
    ), result.output


def test_the_verify_database_keeps_every_key_and_check(app: Flask) -> None:
    # Only the non-unique indexes are left out of the fresh database verify imports into.
    engine = create_engine("sqlite://")
    bundle._create_schema(engine)
    with engine.connect() as conn:
        made = {
            name: sql for name, sql in conn.execute(text("SELECT name, sql FROM sqlite_master"))
        }
    engine.dispose()
    for table in db.metadata.sorted_tables:
        assert table.name in made
        for constraint in table.constraints:
            if constraint.name and not constraint.name.startswith("pk_"):
                assert constraint.name in made[table.name], (table.name, constraint.name)
        for index in table.indexes:
            assert (index.name in made) == bool(index.unique), index.name
    assert "uq_punches_staff_id" in made["punches"] and "ck_ratings_level" in made["ratings"]


def test_lazy_period_data_reads_the_same_rows_every_time(app: Flask, published: bytes) -> None:
    with app.app_context():
        hall = resolve_hall(db.session, None)
        period, as_of = Period.parse(PERIOD), dt.datetime.fromisoformat(AS_OF)
        eager = load_period_data(db.session.connection(), hall.id, period, as_of)
        lazy = load_period_data(db.session.connection(), hall.id, period, as_of, lazy=True)
        for kind in ("punches", "absences", "ratings", "cases", "events"):
            rows = getattr(eager, kind)
            assert isinstance(rows, list) and rows, kind
            assert list(getattr(lazy, kind)) == rows == list(getattr(lazy, kind)), kind
        assert to_spec_json(score_period(lazy, default_rules())) == to_spec_json(
            score_period(eager, default_rules())
        )


def test_the_hall_file_of_a_bundle_imports_back_as_the_same_hall() -> None:
    from kiosk.interchange.hallfile import parse_hall_file, write_hall_file

    original = parse_hall_file(
        (Path(__file__).parent / "data" / "small" / "hall.toml").read_bytes()
    )
    settings = {
        **original.settings,
        "notice": {"number_prefix": "潜政服通"},
        "callback_workdays": 2,
        "closed_days": ["2026-10-16"],
    }
    name = '潜江市"行政"服务中心\\'
    text = write_hall_file(
        original.code, name, original.timezone, settings, original.units, original.windows
    )
    again = parse_hall_file(text.encode("utf-8"))
    assert (again.code, again.name, again.timezone) == (original.code, name, original.timezone)
    assert again.units == original.units and again.windows == original.windows
    # The loop's day counts are written all the same (a parser without them skips them).
    assert "callback_workdays = 2" in text
    without_loop = {k: v for k, v in settings.items() if k != "callback_workdays"}
    assert again.settings in (settings, without_loop)


def test_a_publication_made_before_freezing_has_no_bundle(
    app: Flask,
    runner: FlaskCliRunner,
    leader: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As a revision published before this feature: nothing frozen with it.
    monkeypatch.setattr(bundle, "freeze", lambda *args, **kwargs: None)
    assert _publish(runner).exit_code == 0
    out = tmp_path / "old.zip"
    result = runner.invoke(args=["export", "bundle", PERIOD, "--output", str(out)])
    assert result.exit_code == 1 and "尚未保存输入数据" in result.output
    assert not out.exists()
    client = app.test_client()
    page = client.get("/indicators/2026-B5")
    assert page.status_code == 200 and "暂无指标" in page.get_data(as_text=True)
    assert client.get("/indicators/2026-B5.csv").status_code == 404
