"""The hall attendance and window evaluation service.

``create_app()`` is the application factory: configuration comes from the defaults
in :mod:`kiosk.config`, then ``instance/config.py``, then ``FLASK_<KEY>`` environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click
import limits
import limits.storage
from flask import Flask, Request, Response, abort, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from limits.errors import ConfigurationError
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from sqlalchemy import event
from sqlalchemy.engine import Engine

from kiosk.bodysize import init_app as init_body_limit
from kiosk.config import LANGUAGES, defaults
from kiosk.extensions import babel, csrf, db, login_manager, migrate
from kiosk.secret_key import FIX_HINT, SecretKeyError, check_key, key_file, read_key_file


def _select_locale() -> str:
    """Simplified Chinese unless English is chosen explicitly (``?lang=en`` or the cookie).

    The browser's Accept-Language is deliberately not followed: the hall's screens
    (clock, counter, public display) run on PCs of any system language and must show
    Chinese to the public; English is for the visitor who picks it.
    """
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return "zh_Hans_CN"


class HallSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, skipped for terminal API calls with a bearer key.

    A terminal that sends ``Authorization: Bearer`` never uses the session, and the rating
    POST is the hot path: reading and verifying the cookie there is wasted work. The
    counter page's own calls carry no bearer key and keep their session as usual.
    Such a call gets Flask's null session, so that saving it is skipped as well (nothing
    may be written to it: a write would raise rather than pass silently).
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/") and request.headers.get("Authorization", "").startswith(
            "Bearer "
        ):
            return self.make_null_session(app)
        return super().open_session(app, request)


class HallFlask(Flask):
    """Flask, remembering for each view and hook whether it must be wrapped to run.

    Flask asks :func:`inspect.iscoroutinefunction` of every hook and view on every
    request (seven times on the rating POST, the hot path); the answer for a function
    never changes. Functions made per request (``after_this_request``) are not kept
    beyond the first few hundred, so the memory stays bounded.
    """

    _SYNC_KEPT = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._synced[func]
        except KeyError:
            made = super().ensure_sync(func)
            if len(self._synced) < self._SYNC_KEPT:
                self._synced[func] = made
            return made
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the Flask application."""
    # KIOSK_INSTANCE_PATH puts the instance folder (config.py, the SQLite file, demo files)
    # outside the code, e.g. on a data partition; by default it is ./instance.
    instance_path = os.environ.get("KIOSK_INSTANCE_PATH") or None
    if instance_path:
        instance_path = os.path.abspath(instance_path)
    app = HallFlask("kiosk", instance_relative_config=True, instance_path=instance_path)
    app.session_interface = HallSessionInterface()
    os.makedirs(app.instance_path, exist_ok=True)
    # Every key and its meaning: kiosk/config.py.
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)
    _install_secret_key(app)
    _secure_cookies(app)

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(__file__), "..", "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    init_body_limit(app)  # ahead of CSRF: an oversized body is refused before a form parse
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    # Rate-limit counts (the `limits` package) live in RATELIMIT_STORAGE_URI's storage, which
    # all processes of a hall share when it is a Redis URI. Only the rating endpoints consult
    # the rating limiter, so no other request pays for rate limiting.
    try:
        app.extensions["limits_storage"] = limits.storage.storage_from_string(
            app.config["RATELIMIT_STORAGE_URI"]
        )
    except ConfigurationError as error:
        raise ValueError(
            f"RATELIMIT_STORAGE_URI = {app.config['RATELIMIT_STORAGE_URI']!r}: {error} "
            "(use memory:// for one process, redis://HOST:6379/N for several)"
        ) from None
    app.extensions["rating_limiter"] = FixedWindowRateLimiter(app.extensions["limits_storage"])
    _login_rate_limit(app)
    app.after_request(_security_headers)

    from kiosk import models  # noqa: F401  (registers the tables with the metadata)
    from kiosk.cli import register_cli

    register_cli(app)
    _register_blueprints(app)
    return app


def _install_secret_key(app: Flask) -> None:
    """Put the configured or stored signing key in place, or refuse to start (SPEC 8).

    The factory never creates the key file: the commands that prepare an instance do
    (``db upgrade``, ``demo serve``, ``demo load``). So that they can run on a fresh
    instance, a command-line invocation other than ``flask run`` gets an app without a
    key that refuses every request until a command installs one.
    """
    path = key_file(app.instance_path)
    configured = app.config["SECRET_KEY"]
    if configured is not None:
        app.config["SECRET_KEY"] = check_key(configured, "SECRET_KEY", path)
        return
    stored = read_key_file(path)
    if stored is not None:
        app.config["SECRET_KEY"] = stored
        return
    message = f"No SECRET_KEY is configured and {path} does not exist: " + FIX_HINT.format(
        path=path
    )
    context = click.get_current_context(silent=True)
    if context is None or context.command.name == "run":
        raise SecretKeyError(message)
    app.extensions["secret_key_missing"] = message

    def refuse_without_key() -> None:
        if not app.config["SECRET_KEY"]:
            abort(503, description=message)

    app.before_request(refuse_without_key)


def _login_rate_limit(app: Flask) -> None:
    """Parse ``LOGIN_RATE_LIMIT`` once (a bad value stops the app) and set up its limiter."""
    raw = str(app.config["LOGIN_RATE_LIMIT"]).strip()
    try:
        app.extensions["login_rate_limit"] = None if raw == "0" else limits.parse(raw)
    except ValueError:
        raise ValueError(
            f'LOGIN_RATE_LIMIT "{raw}" is not a rate such as "10 per minute" ("0" turns it off)'
        ) from None
    app.extensions["login_limiter"] = MovingWindowRateLimiter(app.extensions["limits_storage"])


def _secure_cookies(app: Flask) -> None:
    """``Secure`` on the session and remember cookies when the service is reached by https."""
    if app.config["SESSION_COOKIE_SECURE"] is None:
        base = str(app.config["PUBLIC_BASE_URL"] or "")
        app.config["SESSION_COOKIE_SECURE"] = base.lower().startswith("https://")
    if app.config["REMEMBER_COOKIE_SECURE"] is None:
        app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]


# Sent with every response (static values: the rating POST is the hot path). Other sites
# may not frame any page (clickjacking of the back office's buttons); the browser may not
# guess content types; a rating link's token never travels in a Referer to other sites.
_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
)


def _security_headers(response: Response) -> Response:
    """Add the static security headers (a page that set its own keeps it)."""
    headers = response.headers
    # One pass over the response's few headers, then appends: Werkzeug's ``in`` and item
    # assignment each scan the list again, a measurable share of the rating POST.
    present = {name.lower() for name, _value in headers.items()}
    for name, value in _SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    return response


def _register_blueprints(app: Flask) -> None:
    """Attach the service's pages and APIs."""
    from kiosk.webinput import refuse_control_characters

    # A NUL in a query string or form would reach PostgreSQL and give a 500 (issue 9).
    app.before_request(refuse_control_characters)
    from kiosk.clock import bp as clock_bp

    app.register_blueprint(clock_bp)
    from kiosk.pages import bp as pages_bp

    app.register_blueprint(pages_bp)
    from kiosk.pages.indicators import bp as indicators_bp

    app.register_blueprint(indicators_bp)
    from admin import bp as admin_bp

    app.register_blueprint(admin_bp)
    from kiosk.display import bp as display_bp

    app.register_blueprint(display_bp)
    from kiosk.api import bp as api_bp
    from kiosk.counter import bp as counter_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(counter_bp)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL, a busy timeout and foreign keys, so the listener and the web server write side by side."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
