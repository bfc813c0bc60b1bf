"""Presses the listener holds in its journal because the database did not take them yet.

The listener writes ``devices/status.json`` in the instance folder (see
``devices.listener.Storer``); the web pages read it here to say "暂存N条打卡" while the database
is away or locked, since the database itself cannot tell. No Flask, no database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

STATUS_FILE = Path("devices") / "status.json"


@dataclass(frozen=True)
class Held:
    """``count`` presses of the named readers wait for the database, the oldest from
    ``since`` (ISO 8601, UTC); ``database_error`` is the listener's last error, if any."""

    count: int
    since: str | None
    database_error: str | None

    def message(self) -> str:
        """The notice for the screens (Chinese; the back office translates its own)."""
        return f"暂存{self.count}条打卡，数据库恢复后自动写入"


def read_status(instance_path: str | Path) -> dict[str, object] | None:
    """The listener's status file, or None (no listener ever ran here, or unreadable)."""
    try:
        data = json.loads((Path(instance_path) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def held(instance_path: str | Path, devices: Iterable[str] | None = None) -> Held | None:
    """What the listener holds for ``devices`` (default: every reader); None when nothing."""
    data = read_status(instance_path) or {}
    entries = data.get("devices")
    if not isinstance(entries, dict):
        return None
    wanted = set(devices) if devices is not None else None
    count = 0
    since: str | None = None
    for name, entry in entries.items():
        if wanted is not None and name not in wanted or not isinstance(entry, dict):
            continue
        n = entry.get("backlog")
        if isinstance(n, int) and n > 0:
            count += n
            first = entry.get("backlog_since")
            if isinstance(first, str) and (since is None or first < since):
                since = first
    if not count:
        return None
    database = data.get("database")
    error = database.get("error") if isinstance(database, dict) else None
    return Held(count, since, error if isinstance(error, str) else None)
