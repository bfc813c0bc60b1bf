"""The hall attendance and window evaluation service.

``create_app()`` is the application factory: configuration comes from the defaults
below, then ``instance/config.py``, then ``FLASK_<KEY>`` environment variables.
"""

from __future__ import annotations

import os
from typing import Any

import limits.storage
from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from limits.errors import ConfigurationError
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import event
from sqlalchemy.engine import Engine

from kiosk.bodysize import init_app as init_body_limit
from kiosk.extensions import babel, csrf, db, login_manager, migrate

LANGUAGES = ("zh_Hans_CN", "en")


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
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/") and request.headers.get("Authorization", "").startswith(
            "Bearer "
        ):
            return self.session_class()
        return super().open_session(app, request)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the Flask application."""
    # KIOSK_INSTANCE_PATH puts the instance folder (config.py, the SQLite file, demo files)
    # outside the code, e.g. on a data partition; by default it is ./instance.
    instance_path = os.environ.get("KIOSK_INSTANCE_PATH") or None
    if instance_path:
        instance_path = os.path.abspath(instance_path)
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    app.session_interface = HallSessionInterface()
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SECRET_KEY="dev-only-change-me",
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(app.instance_path, "kiosk.sqlite"),
        SQLALCHEMY_ENGINE_OPTIONS={},
        RATING_TOKEN_TTL=259200,
        RATING_RATE_LIMIT="120 per minute",
        # Where rate-limit counts live (`limits` storage URI); one Redis for several processes.
        RATELIMIT_STORAGE_URI="memory://",
        # Largest request body in bytes, refused unread above (kiosk.bodysize.allow_body raises it).
        MAX_CONTENT_LENGTH=1024 * 1024,
        PUBLIC_BASE_URL=None,
        DEFAULT_HALL=None,
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES="translations",
        LOGIN_MAX_FAILURES=5,
        LOGIN_LOCKOUT_SECONDS=900,
    )
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)

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

    from kiosk import models  # noqa: F401  (registers the tables with the metadata)
    from kiosk.cli import register_cli

    register_cli(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """Attach the service's pages and APIs."""
    from kiosk.clock import bp as clock_bp

    app.register_blueprint(clock_bp)
    from kiosk.pages import bp as pages_bp

    app.register_blueprint(pages_bp)
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
