"""Every setting of the service: its name, its default and what it means.

:data:`SETTINGS` is the one list: :func:`kiosk.app.create_app` takes its defaults from it
(then ``instance/config.py``, then ``FLASK_<KEY>`` environment variables override them),
the code reads each key as plain ``config["KEY"]`` (no second default anywhere), and the
README's configuration table is printed from it (``python -m kiosk.cli.settings
--markdown``;
a test keeps the two equal).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The interface languages; Simplified Chinese first (the default, SPEC: the hall's public
# screens speak Chinese unless English is picked explicitly).
LANGUAGES = ("zh_Hans_CN", "en")


@dataclass(frozen=True)
class Setting:
    """One configuration key.

    ``default`` is the value itself, or a function of the instance folder for a default
    that lives there (the SQLite file); ``shown`` is how the README writes such a default.
    """

    name: str
    default: Any
    meaning: str
    shown: str | None = None

    def value_for(self, instance_path: str) -> Any:
        """The default for an app whose instance folder is ``instance_path`` (a fresh copy)."""
        if callable(self.default):
            return self.default(instance_path)
        # A dict default must not be shared (and mutated) between two apps.
        return copy.deepcopy(self.default)

    def default_text(self) -> str:
        """The default as the README shows it: the Python value, as in ``instance/config.py``."""
        return self.shown if self.shown is not None else f"`{self.default!r}`"


def _sqlite_in_instance(instance_path: str) -> str:
    return "sqlite:///" + os.path.join(instance_path, "kiosk.sqlite")


SETTINGS: tuple[Setting, ...] = (
    # --- the instance --------------------------------------------------------------------
    Setting(
        "SECRET_KEY",
        None,
        "Signs sessions and rating tokens. None reads `instance/secret_key`, which `db upgrade` "
        "and `demo serve`/`demo load` create (random, mode 0600); the app refuses to start "
        "without a key, with a publicly known one (`dev-only-change-me`, `changeme`, ...) or "
        "one shorter than 16 characters (SPEC 8). Set it only to share one key between machines.",
    ),
    Setting(
        "SQLALCHEMY_DATABASE_URI",
        _sqlite_in_instance,
        "The database: SQLite in the instance folder for one machine, "
        "`postgresql+psycopg://user@host:5432/kiosk` for several processes.",
        shown="`sqlite:///<instance>/kiosk.sqlite`",
    ),
    Setting(
        "SQLALCHEMY_ENGINE_OPTIONS",
        {},
        "Extra SQLAlchemy engine arguments (e.g. `connect_args`).",
    ),
    Setting(
        "PUBLIC_BASE_URL",
        None,
        "The address the public reaches the service by; rating links and their QR codes are "
        "built on it (None: the request's host). An https address turns on Secure cookies.",
    ),
    Setting(
        "DEFAULT_HALL",
        None,
        "Hall code the clock screen and the public display show when the address names none "
        "(None: the only hall).",
    ),
    Setting(
        "SCORING_RULES",
        None,
        "Path of the rule file in force (TOML) until one is adopted in the back office "
        "(`/admin/rules`, stored in the database, then in force for every process); None "
        "uses the shipped default rules.",
    ),
    Setting(
        "IMPORT_LOCK_WAIT",
        10,
        "Seconds an import waits for one already running before it is refused.",
    ),
    Setting(
        "MAX_CONTENT_LENGTH",
        1024 * 1024,
        "Largest request body in bytes; a larger one is refused unread with 413 "
        "(a view raises it for itself with `kiosk.bodysize.allow_body`).",
    ),
    Setting(
        "IMPORT_MAX_CONTENT_LENGTH",
        32 * 1024 * 1024,
        "Largest upload in bytes on the back office's import page (`/admin/imports`); a "
        "larger file is refused unread, with the limit in the message.",
    ),
    # --- ratings ---------------------------------------------------------------------------
    Setting(
        "RATING_TOKEN_TTL",
        259200,
        "Seconds a QR rating link stays valid.",
    ),
    Setting(
        "RATING_RATE_LIMIT",
        "120 per minute",
        "Ratings per terminal key (counter) or per client address (phone), in the `limits` "
        "notation; `0` turns it off.",
    ),
    Setting(
        "RATELIMIT_STORAGE_URI",
        "memory://",
        "Where rate limits (ratings, sign-in) are counted, a `limits` storage URI: `memory://` "
        "for one process, `redis://127.0.0.1:6379/0` to share the counts between processes.",
    ),
    # --- the provincial push (`push run`, SPEC 11) ---------------------------------------
    Setting(
        "PUSH_URL",
        None,
        "Address of the provincial 好差评 platform that `push run` POSTs batches of ratings to "
        "(None: the push is off; `push run` refuses to start).",
    ),
    Setting(
        "PUSH_TOKEN",
        None,
        "Sent to the platform as `Authorization: Bearer <token>` (keep it in "
        "`instance/config.py` or `FLASK_PUSH_TOKEN`, never in the code).",
    ),
    Setting(
        "PUSH_PROFILE",
        "national",
        "The record profile: `national` (SPEC 11's table, GB/T 39046), or "
        "`package.module:function` for a province's own field names and codes.",
    ),
    Setting(
        "PUSH_TIMEOUT",
        10.0,
        "Seconds the platform has to answer a batch before it is retried.",
    ),
    Setting(
        "PUSH_RETRY_MIN",
        1.0,
        "First pause in seconds after a failed batch (doubles each time).",
    ),
    Setting(
        "PUSH_RETRY_MAX",
        300.0,
        "Longest pause in seconds between retries (SPEC 11: up to 5 minutes).",
    ),
    Setting(
        "PUSH_IDLE_SECONDS",
        10.0,
        "Seconds `push run` waits, once everything is delivered, before it looks for new or "
        "changed ratings again.",
    ),
    # --- sign-in and cookies -------------------------------------------------------------
    Setting(
        "LOGIN_MAX_FAILURES",
        5,
        "Wrong passwords in a row that lock an account.",
    ),
    Setting(
        "LOGIN_LOCKOUT_SECONDS",
        900,
        "How long a locked account stays locked, in seconds.",
    ),
    Setting(
        "LOGIN_RATE_LIMIT",
        "10 per minute",
        "Sign-in attempts per client address (`limits` notation); `0` turns it off.",
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        None,
        "`Secure` on the session, remember and language cookies; None follows "
        "`PUBLIC_BASE_URL` (https means on).",
    ),
    Setting(
        "REMEMBER_COOKIE_SECURE",
        None,
        "`Secure` on the remember-me cookie; None follows `SESSION_COOKIE_SECURE`.",
    ),
    Setting("SESSION_COOKIE_HTTPONLY", True, "Scripts cannot read the session cookie."),
    Setting("SESSION_COOKIE_SAMESITE", "Lax", "The session cookie stays on this site."),
    Setting("REMEMBER_COOKIE_HTTPONLY", True, "Scripts cannot read the remember-me cookie."),
    Setting("REMEMBER_COOKIE_SAMESITE", "Lax", "The remember-me cookie stays on this site."),
    Setting(
        "WTF_CSRF_ENABLED",
        True,
        "Forms and the counter page's cookie calls need a CSRF token (tests turn it off).",
    ),
    # --- language and time ---------------------------------------------------------------
    Setting("BABEL_DEFAULT_LOCALE", "zh_Hans_CN", "The interface language unless `?lang=en`."),
    Setting("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai", "The time zone dates are shown in."),
    Setting(
        "BABEL_TRANSLATION_DIRECTORIES",
        "translations",
        "Where the message catalogues are, relative to the `kiosk` package.",
    ),
    # --- the public clock screen ---------------------------------------------------------
    Setting(
        "CLOCK_FEED_MINUTES",
        10,
        "Minutes of today's punches the public clock screen and `/clock/events` show.",
    ),
    Setting(
        "CLOCK_REFRESH_SECONDS",
        1.5,
        "Seconds between the clock screen's polls of `/clock/events`.",
    ),
    Setting(
        "CLOCK_READER_STALE_SECONDS",
        15,
        "Seconds without news from a reader's listener before the clock screen says the "
        "reader is down (the listener reports every `DEVICE_STATUS_INTERVAL`).",
    ),
    # --- the fingerprint reader listener (`devices listen`) ------------------------------
    Setting(
        "DEVICE_POLL_INTERVAL",
        0.1,
        "Seconds between polls of a reader while no finger is on the sensor.",
    ),
    Setting("DEVICE_REPLY_TIMEOUT", 1.0, "Seconds a reader has to answer a command."),
    Setting(
        "DEVICE_CORRUPT_GRACE",
        0.05,
        "Seconds after a corrupt frame during which a valid one may still come.",
    ),
    Setting(
        "DEVICE_BACKOFF_MIN",
        0.2,
        "First pause in seconds before a lost port is opened again (doubles each time).",
    ),
    Setting("DEVICE_BACKOFF_MAX", 2.0, "Longest pause in seconds between reopening attempts."),
    Setting(
        "DEVICE_FAILURES_BEFORE_RECONNECT",
        3,
        "Timeouts in a row after which the port is reopened.",
    ),
    Setting(
        "DEVICE_STATUS_INTERVAL",
        5.0,
        "Seconds between the listener's status reports (`devices/status.json`, the clock "
        "screen's reader state).",
    ),
    Setting(
        "DEVICE_RELOAD_SECONDS",
        5.0,
        "How often, in seconds, a running listener re-reads the device rows (added, edited "
        "and removed readers are picked up without a restart).",
    ),
    Setting(
        "DEVICE_JOB_SECONDS",
        1.0,
        "How often, in seconds, a running listener asks for enrolment jobs and passes "
        "cancels on (`devices enroll` while the hall works).",
    ),
)


def defaults(instance_path: str) -> dict[str, Any]:
    """Every setting's default for an app with this instance folder."""
    return {setting.name: setting.value_for(instance_path) for setting in SETTINGS}


def markdown_table(settings: Iterable[Setting] = SETTINGS) -> str:
    """The README's configuration table."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{s.name}` | {s.default_text()} | {s.meaning} |" for s in settings]
    return "\n".join(lines) + "\n"
