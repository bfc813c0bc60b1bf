"""The rule file in force (SPEC 5.3): the one source of the rules' numbers everywhere.

``SCORING_RULES`` (a path; unset means the shipped ``default_rules.toml``) names it.
Scoring, publishing, the display, the notices, the rating API's bad levels and misuse
seconds, the work-order list and the rectification deadlines all take their
:class:`~kiosk.rules.ruleset.RuleSet` from :func:`rules_in_force`, so they cannot
disagree.

The rating POST is a hot path: a rule file is parsed once and kept, keyed by its path,
and re-read only when the file's modification time or size changes. The ``stat`` that
tells is made at most once per :data:`RECHECK_SECONDS`, so a call costs a dictionary
look-up, and an adopted rule file takes effect within a second, without a restart.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app

from kiosk.rules.ruleset import RuleSet, default_rules, load_rules

__all__ = ["RECHECK_SECONDS", "RULES_KEY", "rules_for", "rules_in_force"]

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


def rules_in_force(config: Mapping[str, Any] | None = None) -> RuleSet:
    """The rule set of the app's ``SCORING_RULES`` file (``app.config``), or the default.

    Without ``config`` the running app's configuration is read: this is the one place a
    service reads it for the rules, so every service sees the same rule file in force.
    """
    if config is None:
        config = current_app.config
    return rules_for(config.get(RULES_KEY))
