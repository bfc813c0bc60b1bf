"""The listener's journal of presses on local disk (SPEC 7: it survives its own death).

One JSON object per line, appended, flushed and fsync'ed before the listener does anything
else with a hit:

* ``{"k": "hit", "id", "device", "page", "score", "at"}`` a Search reply with a hit was
  received at ``at`` (ISO 8601, UTC); ``id`` is the press id, unique, stored with the punch
  so that storing is idempotent;
* ``{"k": "end", "id"}`` the finger of that press was lifted (the module said "no finger");
* ``{"k": "done", "id"}`` the database holds the press.

A hit without ``done`` is in the backlog: on start it is stored (again: the database tells
by the press id whether it has it). A hit without ``end`` is an open press: if, after a
restart, the same finger is still on the sensor of that reader, it is the same press.
Entries the database holds and presses that ended are trimmed by rewriting the file
(temporary file, fsync, rename). A torn last line (the process died mid-write) was never
acknowledged and is cut off when the journal is opened.

Nothing here imports Flask or the database.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TRIM_AFTER = 2000  # lines; trimming rewrites the file, so not on every press


@dataclass(frozen=True)
class Press:
    """A journaled hit."""

    id: str
    device: str
    page: int
    score: int
    at: dt.datetime  # aware, UTC


def new_press_id() -> str:
    """A unique press id (32 hex digits)."""
    return uuid.uuid4().hex


class Journal:
    """Append-only press journal; ``path=None`` keeps it in memory (tests, benchmarks)."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self.lock = threading.Lock()
        self.hits: dict[str, Press] = {}  # every hit not yet trimmed, in journal order
        self.ended: set[str] = set()
        self.done: set[str] = set()
        self.lines = 0
        self.torn = False
        self._fd: int | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._load()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self.trim()

    # --- reading ----------------------------------------------------------------------------

    def _load(self) -> None:
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            # The last write did not complete: it was never acknowledged. Cut it off so that
            # the next line starts clean.
            self.torn = True
            log.warning(
                "journal %s: torn last line (%d bytes) dropped", self.path, len(data) - keep
            )
            with open(self.path, "r+b") as handle:
                handle.truncate(keep)
                handle.flush()
                os.fsync(handle.fileno())
        for number, raw in enumerate(data[:keep].splitlines(), 1):
            if not raw.strip():
                continue
            try:
                self._apply(json.loads(raw))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("journal %s line %d unreadable (%s); skipped", self.path, number, exc)

    def _apply(self, entry: dict[str, object]) -> None:
        self.lines += 1
        kind = entry["k"]
        press_id = str(entry["id"])
        if kind == "hit":
            self.hits[press_id] = Press(
                press_id,
                str(entry["device"]),
                int(entry["page"]),  # type: ignore[call-overload]
                int(entry.get("score", 0)),  # type: ignore[call-overload]
                dt.datetime.fromisoformat(str(entry["at"])),
            )
        elif kind == "end":
            self.ended.add(press_id)
        elif kind == "done":
            self.done.add(press_id)

    def pending(self) -> list[Press]:
        """Hits the database does not hold yet (as far as the journal knows), oldest first."""
        with self.lock:
            return [p for i, p in self.hits.items() if i not in self.done]

    def open_press(self, device: str) -> Press | None:
        """The latest press on ``device`` whose finger was not seen lifted, if any."""
        with self.lock:
            latest = None
            for press in self.hits.values():
                if press.device == device:
                    latest = press
            if latest is None or latest.id in self.ended:
                return None
            return latest

    # --- writing ----------------------------------------------------------------------------

    def _write(self, entry: dict[str, object]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if self._fd is not None:
            # One write() of a whole line on an O_APPEND descriptor, then fsync: after this the
            # line is on disk, whatever happens to the process (or the power).
            os.write(self._fd, line)
            os.fsync(self._fd)
        self.lines += 1

    def hit(self, press: Press) -> None:
        """Journal a hit, durably, before anything else is done with it."""
        entry = {
            "k": "hit",
            "id": press.id,
            "device": press.device,
            "page": press.page,
            "score": press.score,
            "at": press.at.astimezone(dt.UTC).isoformat(),
        }
        with self.lock:
            self._write(entry)
            self.hits[press.id] = press

    def end(self, press_id: str) -> None:
        """The finger of ``press_id`` was lifted."""
        with self.lock:
            if press_id in self.ended:
                return
            self._write({"k": "end", "id": press_id})
            self.ended.add(press_id)
        self._maybe_trim()

    def stored(self, press_id: str) -> None:
        """The database holds ``press_id``."""
        with self.lock:
            if press_id in self.done:
                return
            self._write({"k": "done", "id": press_id})
            self.done.add(press_id)
        self._maybe_trim()

    def _maybe_trim(self) -> None:
        if self.lines > TRIM_AFTER:
            self.trim()

    def trim(self) -> None:
        """Drop entries that are both stored and ended: rewrite the file atomically."""
        with self.lock:
            keep = {i: p for i, p in self.hits.items() if i not in self.done or i not in self.ended}
            # Of the ended-but-unstored and the stored-but-open presses, keep the marks too.
            entries: list[dict[str, object]] = []
            for press in keep.values():
                entries.append(
                    {
                        "k": "hit",
                        "id": press.id,
                        "device": press.device,
                        "page": press.page,
                        "score": press.score,
                        "at": press.at.astimezone(dt.UTC).isoformat(),
                    }
                )
                if press.id in self.ended:
                    entries.append({"k": "end", "id": press.id})
                if press.id in self.done:
                    entries.append({"k": "done", "id": press.id})
            self.hits = keep
            self.ended &= set(keep)
            self.done &= set(keep)
            self.lines = len(entries)
            if self.path is None or self._fd is None:
                return
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            payload = "".join(
                json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries
            ).encode()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                os.write(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def close(self) -> None:
        """Close the file."""
        with self.lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
