"""Publication bundles (SPEC 13): a published period anyone can re-compute.

A bundle is a zip of the publication's inputs in their import format (``hall.toml`` and
the six CSV files of SPEC 6), ``rules.toml`` (the rule file that produced the result),
``result.json`` (the published result exactly as ``score --format json`` prints it) and
``MANIFEST.json`` with the sha256 of each of those files.

**Freeze at publication.** The input files are written when a period is published
(:func:`freeze`, called by :func:`kiosk.services.publishing.publish` in the same
transaction) and kept, zlib-compressed, in the append-only ``published_files`` table.
Reconstruction from the records was not chosen: corrections void punches, hall settings,
rosters, windows and ratings' reviews are updated in place, so what stood at an earlier
publication cannot be read back exactly. A frozen bundle never changes: the zip is
built from the stored bytes with fixed timestamps, so every download of a revision is
byte for byte the same.

:func:`read_bundle` opens a bundle as hostile input (a zip bomb, path traversal names,
missing files, not a zip are refused with :class:`BundleError`), and :func:`verify`
re-computes it from the bundle alone in a fresh in-memory SQLite database, with the
normal importer and the bundle's own rule file.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateIndex, CreateTable

from kiosk.extensions import db
from kiosk.interchange import ImportFailed, export_rows, import_file, write_csv
from kiosk.interchange.hallfile import write_hall_file
from kiosk.localtime import hall_zone, to_aware
from kiosk.models import Hall, PublishedFile, PublishedPeriod, Unit, Window
from kiosk.rules.calendar import Period
from kiosk.rules.ruleset import RuleSet, parse_rules
from kiosk.rules.scoring import AsOfBeforePeriod, score_period, to_spec_json
from kiosk.services.errors import BundleError, PublishError
from kiosk.services.halls import resolve_hall
from kiosk.services.scoring import load_period_data
from kiosk.services.texts import _

__all__ = [
    "BUNDLE_FILES",
    "INPUT_FILES",
    "MANIFEST_FILE",
    "MAX_BUNDLE_BYTES",
    "MAX_BUNDLE_ENTRIES",
    "Verification",
    "bundle_name",
    "bundle_zip",
    "freeze",
    "frozen_files",
    "input_files",
    "read_bundle",
    "result_file",
    "verify",
    "verify_file",
]

INPUT_FILES: dict[str, str] = {
    "hall.toml": "hall",
    "roster.csv": "roster",
    "punches.csv": "punches",
    "ratings.csv": "ratings",
    "cases.csv": "cases",
    "absences.csv": "absences",
    "events.csv": "events",
}
"""The input files of a bundle and their import kinds, in the order they are imported."""
RULES_FILE = "rules.toml"
RESULT_FILE = "result.json"
MANIFEST_FILE = "MANIFEST.json"
BUNDLE_FILES: tuple[str, ...] = (*INPUT_FILES, RULES_FILE, RESULT_FILE)
"""Every file the manifest gives a sha256 for."""

MAX_BUNDLE_ENTRIES = 16
"""A bundle holds ten files; a zip with more entries is refused unread."""
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
"""Uncompressed bytes a bundle may hold in all (a 2,000-staff period is about 30 MB)."""
_CHUNK = 1024 * 1024
# Punches and absences are read one day beyond the period on each side, as the scorer does.
_MARGIN = dt.timedelta(days=1)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- freezing


@dataclass(frozen=True, slots=True)
class _Packed:
    """One file as it is stored: its sha256 and size, and its bytes compressed."""

    sha256: str
    size: int
    data: bytes


class _Packer:
    """Takes a file's text piece by piece: hashed and compressed as it comes, never whole."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0
        self.zip = zlib.compressobj(6)
        self.parts: list[bytes] = []
        self.pending: list[str] = []
        self.pending_chars = 0

    def write(self, text: str) -> int:
        self.pending.append(text)
        self.pending_chars += len(text)
        if self.pending_chars >= _CHUNK:
            self._flush()
        return len(text)

    def _flush(self) -> None:
        data = "".join(self.pending).encode("utf-8")
        self.pending, self.pending_chars = [], 0
        self.sha.update(data)
        self.size += len(data)
        self.parts.append(self.zip.compress(data))

    def packed(self) -> _Packed:
        self._flush()
        self.parts.append(self.zip.flush())
        return _Packed(self.sha.hexdigest(), self.size, b"".join(self.parts))


def _pack(data: bytes) -> _Packed:
    return _Packed(_sha(data), len(data), zlib.compress(data, 6))


def _hall_file(session: Session, hall: Hall) -> bytes:
    """hall.toml of the hall as it stands: every unit and window, the settings."""
    units = [
        (u.code, u.name)
        for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id).order_by(Unit.code))
    ]
    unit_code = {u.id: u.code for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id))}
    windows = [
        (w.code, w.name, unit_code[w.unit_id], bool(w.handles_cases))
        for w in session.scalars(
            select(Window).where(Window.hall_id == hall.id).order_by(Window.code)
        )
    ]
    org_codes = {
        u.code: u.org_code
        for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id))
        if u.org_code
    }
    text = write_hall_file(
        hall.code,
        hall.name,
        hall.timezone,
        dict(hall.settings or {}),
        units,
        windows,
        area_code=hall.area_code,
        org_codes=org_codes,
    )
    return text.encode("utf-8")


def _packed_inputs(session: Session, hall: Hall, period: Period) -> dict[str, _Packed]:
    """The period's inputs as the scorer reads them now, in their import format, packed.

    Importing them into an empty database gives the scorer the same rows: the hall with
    every unit and window, the hall's whole roster, the punches and absences of the
    period and a day either side, ratings, cases (by completion) and events of the period.
    """
    files = {"hall.toml": _pack(_hall_file(session, hall))}
    first, last = period.first_day, period.last_day
    wide_first, wide_last = first - _MARGIN, last + _MARGIN
    for name, kind in list(INPUT_FILES.items())[1:]:
        wide = kind in ("punches", "absences")
        packer = _Packer()
        rows = export_rows(
            session,
            kind,
            hall,
            wide_first if wide else first,
            wide_last if wide else last,
            scoring=True,
        )
        write_csv(rows, packer)
        files[name] = packer.packed()
    return files


def input_files(session: Session, hall: Hall, period: Period) -> dict[str, bytes]:
    """The files :func:`freeze` would store for ``period`` now, by name (uncompressed)."""
    return {
        name: zlib.decompress(packed.data)
        for name, packed in _packed_inputs(session, hall, period).items()
    }


def freeze(session: Session, row: PublishedPeriod, hall: Hall, rules: RuleSet) -> None:
    """Store the inputs and rule file of the just-flushed publication ``row`` (no commit).

    The CSV text is hashed and compressed as it is written, so a 2,000-staff period
    never holds its 30 MB of text at once.
    """
    if not rules.source:
        raise PublishError(_("规则文件内容不可用，无法保存发布数据。"))
    files = _packed_inputs(session, hall, Period.parse(row.period))
    files[RULES_FILE] = _pack(rules.source)
    for name, packed in files.items():
        session.add(
            PublishedFile(
                published_id=row.id,
                name=name,
                sha256=packed.sha256,
                size=packed.size,
                data=packed.data,
            )
        )
    session.flush()


def frozen_files(session: Session, row: PublishedPeriod) -> dict[str, bytes]:
    """The frozen input files and rule file of a publication, each checked by its sha256."""
    stored = list(
        session.scalars(select(PublishedFile).where(PublishedFile.published_id == row.id))
    )
    if not stored:
        raise BundleError(
            _(
                "%(period)s 第 %(rev)d 版发布时尚未保存输入数据，无法生成复核包。",
                period=row.period,
                rev=row.revision,
            ),
            "not_found",
        )
    files: dict[str, bytes] = {}
    for item in stored:
        data = zlib.decompress(item.data)
        if _sha(data) != item.sha256 or len(data) != item.size:
            raise BundleError(
                _("已保存的发布数据 %(name)s 校验失败。", name=item.name), "integrity"
            )
        files[item.name] = data
    return files


def result_file(result_json: str) -> bytes:
    """A stored SPEC 5.7 result as ``score --format json`` prints it (indent 2, newline)."""
    spec = json.loads(result_json)
    return (json.dumps(spec, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def bundle_name(hall: Hall, row: PublishedPeriod) -> str:
    """The file name a bundle is offered under."""
    return f"bundle-{hall.code}-{row.period}-r{row.revision}.zip"


def bundle_zip(session: Session, hall: Hall, row: PublishedPeriod) -> bytes:
    """The bundle of a publication: always the same bytes for the same revision."""
    if hashlib.sha256(row.result_json.encode("utf-8")).hexdigest() != row.sha256:
        raise BundleError(_("已发布的结果校验失败。"), "integrity")
    files = frozen_files(session, row)
    files[RESULT_FILE] = result_file(row.result_json)
    missing = [name for name in BUNDLE_FILES if name not in files]
    if missing:
        raise BundleError(
            _("已保存的发布数据缺少 %(names)s。", names="、".join(missing)), "integrity"
        )
    zone = hall_zone(hall.timezone)
    published = to_aware(row.published_at, zone).replace(microsecond=0)
    manifest = {
        "period": row.period,
        "hall": hall.code,
        "revision": row.revision,
        "as_of": to_aware(row.as_of, zone).isoformat(),
        "published_at": published.isoformat(),
        "files": {name: _sha(files[name]) for name in BUNDLE_FILES},
    }
    files[MANIFEST_FILE] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    out = io.BytesIO()
    stamp = published.timetuple()[:6]
    with zipfile.ZipFile(out, "w") as archive:
        for name in (MANIFEST_FILE, *BUNDLE_FILES):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return out.getvalue()


# --------------------------------------------------------------------------- reading


def _refuse(message: str) -> BundleError:
    return BundleError(message)


def _entries(archive: zipfile.ZipFile, limit: int) -> list[zipfile.ZipInfo]:
    """The entries of a bundle, refused before anything is decompressed when hostile."""
    infos = archive.infolist()
    if len(infos) > MAX_BUNDLE_ENTRIES:
        raise _refuse(_("复核包内文件过多（%(n)d 个）。", n=len(infos)))
    allowed = {MANIFEST_FILE, *BUNDLE_FILES}
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if "/" in name or "\\" in name or ".." in name or ":" in name or name.startswith("."):
            raise _refuse(_("复核包内文件名不安全：%(name)s", name=name[:80]))
        if name not in allowed:
            raise _refuse(_("复核包内有多余的文件：%(name)s", name=name[:80]))
        if name in seen:
            raise _refuse(_("复核包内文件重复：%(name)s", name=name))
        if info.flag_bits & 0x1:
            raise _refuse(_("复核包内文件已加密：%(name)s", name=name))
        seen.add(name)
    if sum(info.file_size for info in infos) > limit:
        raise _refuse(_("复核包解压后超过 %(mb)d MB。", mb=limit // (1024 * 1024)))
    missing = [name for name in (MANIFEST_FILE, *BUNDLE_FILES) if name not in seen]
    if missing:
        raise _refuse(_("复核包缺少文件：%(names)s", names="、".join(missing)))
    return infos


def read_bundle(
    source: bytes | str | Path | IO[bytes], limit: int | None = None
) -> dict[str, bytes]:
    """The files of a bundle by name; :class:`BundleError` when it is not a sound bundle.

    Hostile input is refused before it costs memory: a zip with more than
    :data:`MAX_BUNDLE_ENTRIES` entries, more than ``limit`` bytes uncompressed (as
    declared, and again as actually read), a name that is not one of the bundle's (path
    traversal included), an encrypted or duplicated entry, a missing file.
    """
    limit = MAX_BUNDLE_BYTES if limit is None else limit
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with zipfile.ZipFile(opened) as archive:
            infos = _entries(archive, limit)
            files: dict[str, bytes] = {}
            total = 0
            for info in infos:
                parts: list[bytes] = []
                with archive.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        total += len(chunk)
                        if total > limit:
                            raise _refuse(
                                _("复核包解压后超过 %(mb)d MB。", mb=limit // (1024 * 1024))
                            )
                        parts.append(chunk)
                files[info.filename] = b"".join(parts)
            return files
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
        raise _refuse(_("不是有效的复核包（zip 文件损坏或无法读取）。")) from None
    except OSError as exc:
        raise _refuse(_("无法读取复核包：%(why)s", why=exc.strerror or str(exc))) from None


def _manifest(files: dict[str, bytes]) -> dict[str, Any]:
    try:
        manifest = json.loads(files[MANIFEST_FILE].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _refuse(_("MANIFEST.json 不是有效的 JSON。")) from None
    if (
        not isinstance(manifest, dict)
        or not isinstance(manifest.get("files"), dict)
        or not isinstance(manifest.get("period"), str)
        or not isinstance(manifest.get("as_of"), str)
    ):
        raise _refuse(_("MANIFEST.json 缺少 period、as_of 或 files。"))
    return manifest


# --------------------------------------------------------------------------- verifying


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``score --verify`` found: empty tuples everywhere mean the bundle holds."""

    files: tuple[str, ...]
    """Files whose sha256 is not the manifest's (or that the manifest does not list)."""
    people: tuple[tuple[str, str], ...]
    """(staff_no, name) of each person whose recomputed result differs from result.json."""
    windows: tuple[tuple[str, str], ...]
    """(window, name) of each window whose recomputed result differs."""
    fields: tuple[str, ...]
    """Top-level keys of the result that differ (``rules``, ``warnings``, ``as_of``...)."""
    problems: tuple[str, ...]
    """Why the bundle could not be recomputed (a file that does not import, ...)."""

    @property
    def ok(self) -> bool:
        """Every sha256 matches and the recomputed result equals result.json."""
        return not (self.files or self.people or self.windows or self.fields or self.problems)


def _differing(
    expected: Iterable[dict[str, Any]], actual: Iterable[dict[str, Any]], key: str
) -> tuple[tuple[str, str], ...]:
    before = {str(r.get(key)): r for r in expected if isinstance(r, dict)}
    after = {str(r.get(key)): r for r in actual}
    return tuple(
        (code, str((after.get(code) or before[code]).get("name") or ""))
        for code in sorted(before.keys() | after.keys())
        if before.get(code) != after.get(code)
    )


def _release_memory() -> None:
    """Hand the importer's freed heap back to the system before the scoring allocates its
    own (glibc keeps freed fragments otherwise, and the peak is import + scoring)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _create_schema(engine: Engine) -> None:
    """Every table with its keys and checks (primary, unique, foreign keys, CHECKs), and
    only the unique indexes: the others speed up the running service's lookups, not an
    import and one scoring, and would cost the in-memory database about 40 MB of a
    2,000-staff period."""
    with engine.begin() as conn:
        for table in db.metadata.sorted_tables:
            conn.execute(CreateTable(table))
            for index in table.indexes:
                if index.unique:
                    conn.execute(CreateIndex(index))


def _recompute(
    files: dict[str, bytes], manifest: dict[str, Any], rules: RuleSet
) -> tuple[dict[str, Any] | None, list[str]]:
    """Import the bundle into a fresh in-memory SQLite database and score it there.

    Each file goes whole through :func:`import_file`, exactly as ``import`` takes it (the
    importer reads and writes a file in batches, so a 500,000-punch file costs no list of
    its rows); the scorer reads the rows from the database as it goes through them.
    """
    problems: list[str] = []
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        _create_schema(engine)
        with Session(engine) as session:
            for name, kind in INPUT_FILES.items():
                try:
                    # Popped: the bundle's bytes are let go as soon as they are in.
                    import_file(session, kind, files.pop(name), source_name=name, lock_wait=0)
                except ImportFailed as exc:
                    problems.append(f"{name}: " + "; ".join(exc.problems[:5]))
                    return None, problems
            _release_memory()
            hall = resolve_hall(session, None)
            zone = hall_zone(hall.timezone)
            try:
                period = Period.parse(manifest["period"])
                as_of = dt.datetime.fromisoformat(manifest["as_of"])
            except ValueError as exc:
                return None, [f"{MANIFEST_FILE}: {exc}"]
            as_of = (as_of if as_of.tzinfo else as_of.replace(tzinfo=zone)).astimezone(zone)
            if manifest.get("hall") != hall.code:
                problems.append(
                    f"{MANIFEST_FILE}: hall {manifest.get('hall')!r} is not {hall.code!r}"
                )
            data = load_period_data(session.connection(), hall.id, period, as_of, lazy=True)
            try:
                result = score_period(data, rules)
            except AsOfBeforePeriod as exc:
                return None, [*problems, f"{MANIFEST_FILE}: {exc}"]
            spec = to_spec_json(result)
    finally:
        engine.dispose()
    # Through JSON and back, so numbers and lists compare as result.json holds them.
    recomputed: dict[str, Any] = json.loads(json.dumps(spec, ensure_ascii=False))
    return recomputed, problems


def verify(files: dict[str, bytes]) -> Verification:
    """Re-compute a bundle (as :func:`read_bundle` returned it) from the bundle alone.

    The running database is never touched: the inputs are imported with the normal
    importer into a new in-memory SQLite database and scored with the bundle's
    ``rules.toml`` at the manifest's ``as_of``. Raises :class:`BundleError` only for a
    manifest that cannot be read; everything else that differs is in the result.
    ``files`` is left as it was (see :func:`verify_file` to spare the memory).
    """
    return _verify(dict(files))


def verify_file(source: str | Path | IO[bytes]) -> tuple[dict[str, Any], Verification]:
    """Read a bundle (:func:`read_bundle`) and verify it, holding each file only until it
    is imported; returns the manifest and what :func:`verify` found."""
    files = read_bundle(source)
    manifest = _manifest(files)
    return manifest, _verify(files)


def _verify(files: dict[str, bytes]) -> Verification:
    """:func:`verify`, taking ``files`` over (the input files are popped as imported)."""
    manifest = _manifest(files)
    listed: dict[str, Any] = manifest["files"]
    bad_files = [name for name in BUNDLE_FILES if listed.get(name) != _sha(files[name])]
    bad_files += sorted(str(name) for name in listed if name not in BUNDLE_FILES)
    problems: list[str] = []
    try:
        expected = json.loads(files[RESULT_FILE].decode("utf-8"))
        if not isinstance(expected, dict):
            raise ValueError("not an object")
    except (UnicodeDecodeError, ValueError) as exc:
        expected = {}
        problems.append(f"{RESULT_FILE}: not a JSON object ({exc})")
    rules_name = (
        expected.get("rules", {}).get("name") if isinstance(expected.get("rules"), dict) else None
    )
    try:
        rules = parse_rules(files[RULES_FILE], name=rules_name or "rules")
    except ValueError as exc:
        problems.append(f"{RULES_FILE}: {exc}")
        return Verification(tuple(bad_files), (), (), (), tuple(problems))
    recomputed, more = _recompute(files, manifest, rules)
    problems += more
    if recomputed is None:
        return Verification(tuple(bad_files), (), (), (), tuple(problems))
    people = _differing(expected.get("individuals") or [], recomputed["individuals"], "staff_no")
    windows = _differing(expected.get("windows") or [], recomputed["windows"], "window")
    fields = tuple(
        key
        for key in recomputed
        if key not in ("individuals", "windows") and expected.get(key) != recomputed[key]
    )
    fields += tuple(sorted(k for k in expected if k not in recomputed))
    return Verification(tuple(bad_files), people, windows, fields, tuple(problems))
