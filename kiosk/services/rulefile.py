"""The rule file in force (SPEC 5.3): the one source of the rules' numbers everywhere.

The rule file adopted last in the back office (``/admin/rules``; the newest row of
``rule_adoptions``, its bytes in ``rule_files``) is in force, for every process that
shares the database. Before any adoption, ``SCORING_RULES`` (a path; unset means the
shipped ``default_rules.toml``) names it.
Scoring, publishing, the display, the notices, the rating API's bad levels and misuse
seconds, the work-order list and the rectification deadlines all take their
:class:`~kiosk.rules.ruleset.RuleSet` from :func:`rules_in_force`, so they cannot
disagree.

The rating POST is a hot path: a rule file is parsed once and kept, keyed by its path,
and re-read only when the file's modification time or size changes. The ``stat`` that
tells is made at most once per :data:`RECHECK_SECONDS`, so a call costs a dictionary
look-up, and an adopted rule file takes effect within a second, without a restart.
The database is asked the same way: which adoption is newest, at most once per
:data:`RECHECK_SECONDS` per application, on a connection of its own (never the
request's transaction), and the adopted file is parsed once per adoption.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from kiosk.extensions import db
from kiosk.models_rules import RuleAdoption, RuleFile
from kiosk.rules.ruleset import RuleSet, default_rules, load_rules, parse_rules

__all__ = [
    "RECHECK_SECONDS",
    "RULES_KEY",
    "adopted_rules",
    "forget_adopted",
    "rules_for",
    "rules_in_force",
]

RULES_KEY = "SCORING_RULES"
"""The config key naming the rule file in force."""

RECHECK_SECONDS = 1.0
"""How long a parsed rule file is used before its modification time is looked at again."""

# path -> (file version (mtime_ns, size), its rules, monotonic time of the last stat)
_cache: dict[str, tuple[tuple[int, int], RuleSet, float]] = {}
_lock = threading.Lock()


def rules_for(path: str | Path | None) -> RuleSet:
    """The rule set of the file at ``path`` (parsed once per file version), or the default.

    Raises ``OSError`` for a missing file and ``ValueError`` for a malformed one.
    """
    if not path:
        return default_rules()
    key = os.fspath(path)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and now - cached[2] < RECHECK_SECONDS:
        return cached[1]
    status = os.stat(key)
    stamp = (status.st_mtime_ns, status.st_size)
    if cached is not None and cached[0] == stamp:
        _cache[key] = (stamp, cached[1], now)
        return cached[1]
    with _lock:
        rules = load_rules(key)
        _cache[key] = (stamp, rules, now)
    return rules


# app.extensions key: (monotonic time of the last look, adoption id or None, its rules)
_ADOPTED_KEY = "kiosk_adopted_rules"
_ADOPTED_LOCK_KEY = "kiosk_adopted_rules_lock"


def _newest_adoption(app: Flask) -> tuple[int, str, bytes] | None:
    """(adoption id, name, bytes) of the newest adoption, on a connection of its own."""
    with db.engine.connect() as conn:
        row = conn.execute(
            select(RuleAdoption.id, RuleFile.name, RuleFile.content)
            .join(RuleFile, RuleFile.id == RuleAdoption.rule_file_id)
            .order_by(RuleAdoption.adopted_at.desc(), RuleAdoption.id.desc())
            .limit(1)
        ).first()
    return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))


def adopted_rules(app: Flask) -> RuleSet | None:
    """The rule set adopted last in the back office, or None before any adoption.

    Asked of the database at most once per :data:`RECHECK_SECONDS`; when the database
    cannot answer (a listener while it is away, a database not migrated yet) the last
    answer stands.
    """
    cached = app.extensions.get(_ADOPTED_KEY)
    if cached is not None and time.monotonic() - cached[0] < RECHECK_SECONDS:
        return cached[2]
    # One thread asks at a time. The others keep the last answer (at most a second old)
    # rather than each take a second pool connection while holding their first: on the
    # rating POST that would need two connections per thread at once, every second.
    refreshing = app.extensions.setdefault(_ADOPTED_LOCK_KEY, threading.Lock())
    if not refreshing.acquire(blocking=cached is None):
        return cached[2]  # type: ignore[index]
    try:
        return _refresh_adopted(app)
    finally:
        refreshing.release()


def _refresh_adopted(app: Flask) -> RuleSet | None:
    """Ask the database for the newest adoption unless another thread just did."""
    now = time.monotonic()
    cached = app.extensions.get(_ADOPTED_KEY)
    if cached is not None and now - cached[0] < RECHECK_SECONDS:
        return cached[2]
    try:
        newest = _newest_adoption(app)
    except SQLAlchemyError:
        rules = cached[2] if cached is not None else None
        app.extensions[_ADOPTED_KEY] = (now, cached[1] if cached else None, rules)
        return rules
    if newest is None:
        rules = None
    elif cached is not None and cached[1] == newest[0]:
        rules = cached[2]
    else:
        rules = parse_rules(newest[2], name=newest[1])
    app.extensions[_ADOPTED_KEY] = (now, None if newest is None else newest[0], rules)
    return rules


def forget_adopted(app: Flask | None = None) -> None:
    """Ask the database again at the next call (the process that adopted a file)."""
    (app or current_app).extensions.pop(_ADOPTED_KEY, None)


def rules_in_force(config: Mapping[str, Any] | None = None) -> RuleSet:
    """The rule file in force: the one adopted last in the back office, else the app's
    ``SCORING_RULES`` file (``app.config``), else the default.

    Without ``config`` the running app's configuration is read: this is the one place a
    service reads it for the rules, so every service sees the same rule file in force.
    """
    if has_app_context():
        adopted = adopted_rules(current_app._get_current_object())  # type: ignore[attr-defined]
        if adopted is not None:
            return adopted
    if config is None:
        config = current_app.config
    return rules_for(config.get(RULES_KEY))
