"""Secrets and sessions (SPEC 8): the signing key, ending sessions, cookies and headers,
the sign-in lockout and throttle, redirects, and the reach of a hall's admin."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

import kiosk.services.accounts as accounts
from admin.auth import safe_redirect_path
from kiosk import create_app
from kiosk.extensions import db
from kiosk.models import AuditEntry, User
from kiosk.secret_key import SecretKeyError, ensure_key_file
from tests.admin.conftest import PASSWORD, csrf_token, sign_in
from tests.conftest import _base_config

ROOT = Path(__file__).resolve().parent.parent.parent
FAILED = "用户名或密码错误"


# --- the signing key -----------------------------------------------------------------


def _fresh_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: Any) -> Flask:
    """create_app() on an empty instance folder, as a new machine would run it."""
    monkeypatch.setenv("KIOSK_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.sqlite'}", **config})


def test_no_key_refuses_to_start_and_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SecretKeyError) as refused:
        _fresh_app(tmp_path, monkeypatch)
    message = str(refused.value)
    assert "flask --app kiosk db upgrade" in message and "SECRET_KEY" in message
    assert str(tmp_path / "instance" / "secret_key") in message
    # The factory itself creates nothing.
    assert not (tmp_path / "instance" / "secret_key").exists()


@pytest.mark.parametrize(
    "key",
    [
        "dev-only-change-me",
        "dev",
        "changeme",
        "secret",
        "change me to a long random string",
        " Dev-Only-Change-Me ",
        "",
        "short-key",
    ],
)
def test_a_known_empty_or_short_key_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    with pytest.raises(SecretKeyError, match="SECRET_KEY"):
        _fresh_app(tmp_path, monkeypatch, SECRET_KEY=key)
    monkeypatch.setenv("FLASK_SECRET_KEY", key)
    with pytest.raises(SecretKeyError):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.sqlite'}"})


def test_the_key_file_is_read_and_must_be_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, created = ensure_key_file(tmp_path / "instance")
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(path.read_text().strip())) >= 32
    assert ensure_key_file(tmp_path / "instance") == (path, False)  # never replaced
    app = _fresh_app(tmp_path, monkeypatch)
    assert app.config["SECRET_KEY"] == path.read_text().strip()
    assert _fresh_app(tmp_path, monkeypatch).config["SECRET_KEY"] == app.config["SECRET_KEY"]
    path.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        _fresh_app(tmp_path, monkeypatch)
    path.chmod(0o600)
    path.write_text("dev-only-change-me\n")
    with pytest.raises(SecretKeyError, match="publicly known"):
        _fresh_app(tmp_path, monkeypatch)


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "kiosk", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_creates_the_key_and_two_waitress_processes_share_it(tmp_path: Path) -> None:
    """A fresh instance: `db upgrade` makes the key; two processes accept each other's cookie."""
    import http.cookiejar
    import re
    import socket
    import time
    import urllib.parse
    import urllib.request

    instance = tmp_path / "instance"
    env = dict(
        os.environ,
        KIOSK_INSTANCE_PATH=str(instance),
        FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'hall.sqlite'}",
    )
    env.pop("FLASK_SECRET_KEY", None)
    env.pop("KIOSK_TEST_DB", None)
    upgraded = _flask(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    key_file = instance / "secret_key"
    assert f"created {key_file}" in upgraded.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    again = _flask(env, "db", "upgrade")
    assert again.returncode == 0 and "created" not in again.stderr
    assert key_file.read_text() == key
    added = _flask(env, "users", "add", "root", "--role", "admin", "--password", PASSWORD)
    assert added.returncode == 0, added.stderr

    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    waitress = str(Path(sys.executable).with_name("waitress-serve"))
    servers = [
        subprocess.Popen(
            [waitress, "--listen", f"127.0.0.1:{port}", "--call", "kiosk:create_app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        for port in ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)  # noqa: S310
                    break
                except OSError:
                    assert time.monotonic() < deadline, "waitress did not start"
                    time.sleep(0.2)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"http://127.0.0.1:{ports[0]}/admin/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        form = urllib.parse.urlencode(
            {"username": "root", "password": PASSWORD, "csrf_token": token.group(1)}
        ).encode()
        opener.open(f"http://127.0.0.1:{ports[0]}/admin/login", data=form)
        # The cookie jar is per host, not port: the second process gets the same cookie.
        other = opener.open(f"http://127.0.0.1:{ports[1]}/admin/")
        assert other.status == 200 and other.url.endswith("/admin/")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def test_on_a_fresh_instance_flask_run_refuses_but_other_commands_work(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        KIOSK_INSTANCE_PATH=str(tmp_path / "instance"),
        FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'hall.sqlite'}",
    )
    env.pop("FLASK_SECRET_KEY", None)
    env.pop("KIOSK_TEST_DB", None)
    served = _flask(env, "run", "--port", "1")
    assert served.returncode != 0
    assert "flask --app kiosk db upgrade" in served.stderr
    routes = _flask(env, "routes")
    assert routes.returncode == 0 and "/admin/login" in routes.stdout
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_an_app_loaded_by_a_command_serves_nothing_until_the_command_installs_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import click

    from kiosk.secret_key import install_key_file

    with click.Context(click.Command("load")):
        app = _fresh_app(tmp_path, monkeypatch)
    assert app.config["SECRET_KEY"] is None
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503 and "db upgrade" in answer.get_data(as_text=True)
    created = install_key_file(app)  # what db upgrade, demo serve and demo load do
    assert created == tmp_path / "instance" / "secret_key"
    assert app.config["SECRET_KEY"] == created.read_text().strip()
    assert app.test_client().get("/healthz").status_code == 200
    assert install_key_file(app) is None


def test_a_cookie_forged_with_the_old_default_key_opens_nothing(
    app: Flask, client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    user_id = make_user("root", "admin")
    for key in ("dev-only-change-me", "test-secret"):
        forged = URLSafeTimedSerializer(
            key,
            salt="cookie-session",
            signer_kwargs={"key_derivation": "hmac", "digest_method": "sha1"},
        )
        for payload in ({"_user_id": str(user_id)}, {"_user_id": f"{user_id}:0"}):
            client.set_cookie("session", forged.dumps(payload))
            response = client.get("/admin/users")
            assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


# --- sessions end ----------------------------------------------------------------------


def _replay(app: Flask, cookie: str) -> int:
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/admin/").status_code


def test_a_cookie_taken_before_sign_out_no_longer_opens_the_back_office(
    app: Flask, client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("duty1", "duty")
    assert sign_in(client, "duty1") == 302
    captured = client.get_cookie("session")
    assert captured is not None and _replay(app, captured.value) == 200
    second_device = app.test_client()
    assert sign_in(second_device, "duty1") == 302
    token = csrf_token(client, "/admin/")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert _replay(app, captured.value) == 302
    # Sign-out ends the account's sessions everywhere.
    assert second_device.get("/admin/").status_code == 302
    # Signing in again works and gives a new, working session.
    assert sign_in(client, "duty1") == 302
    assert client.get("/admin/").status_code == 200


def test_a_password_reset_ends_every_session(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    make_user: Callable[..., int],
    example_hall: Path,
) -> None:
    make_user("duty1", "duty")
    assert sign_in(client, "duty1") == 302
    captured = client.get_cookie("session")
    assert captured is not None
    result = runner.invoke(args=["users", "password", "duty1", "--password", "new-password-9"])
    assert result.exit_code == 0, result.output
    assert _replay(app, captured.value) == 302
    assert client.get("/admin/").status_code == 302
    assert sign_in(client, "duty1", "new-password-9") == 302


# --- cookies and headers ---------------------------------------------------------------


def _set_cookies(response: Any) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


@pytest.mark.parametrize(("base", "secure"), [("https://zwfw.example", True), (None, False)])
def test_cookies_are_httponly_lax_and_secure_behind_https(
    database_uri: str,
    tmp_path: Path,
    base: str | None,
    secure: bool,
) -> None:
    config = _base_config(database_uri, tmp_path)
    config["PUBLIC_BASE_URL"] = base
    app = create_app(config)
    try:
        with app.app_context():
            accounts.create_user(
                db.session, username="root", password=PASSWORD, role="admin", hall=None
            )
            db.session.commit()
        client = app.test_client()
        token = csrf_token(client, "/admin/login")
        response = client.post(
            "/admin/login", data={"username": "root", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302
        lang = client.get("/admin/lang/en?next=/admin/")
        for header in (_set_cookies(response)["session"], _set_cookies(lang)["lang"]):
            assert "HttpOnly" in header and "SameSite=Lax" in header
            assert ("Secure" in header) is secure
        assert app.config["REMEMBER_COOKIE_SECURE"] is secure
        assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
        assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/admin/login"), ("GET", "/healthz"), ("POST", "/api/v1/ratings"), ("GET", "/x")],
)
def test_security_headers_on_every_answer(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(path, method=method, json={} if method == "POST" else None)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


# --- lockout and throttle --------------------------------------------------------------


def _count_real_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count Argon2 verifications against a real hash and against the dummy."""
    counts = {"real": 0, "dummy": 0}
    original = accounts.verify_password
    lock = threading.Lock()

    def counting(stored_hash: str, password: str) -> bool:
        with lock:
            counts["dummy" if stored_hash == accounts._DUMMY_HASH else "real"] += 1
        return original(stored_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counting)
    return counts


def test_forty_parallel_wrong_passwords_get_at_most_the_allowed_checks(
    app: Flask, make_user: Callable[..., int], example_hall: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = make_user("duty1", "duty")
    app.config["WTF_CSRF_ENABLED"] = False  # 40 clients post at once without a page first
    counts = _count_real_checks(monkeypatch)
    start = threading.Barrier(40)
    statuses: list[int] = []

    def attempt(number: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post(
            "/admin/login",
            data={"username": "duty1", "password": f"wrong-{number}"},
            environ_base={"REMOTE_ADDR": f"10.0.{number}.1"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [401] * 40
    assert counts["real"] <= app.config["LOGIN_MAX_FAILURES"]
    assert counts["real"] + counts["dummy"] == 40  # every attempt costs one Argon2 verify
    client = app.test_client()
    response = client.post("/admin/login", data={"username": "duty1", "password": PASSWORD})
    assert response.status_code == 401 and FAILED in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None and user.locked_until is not None
        locks = db.session.scalar(select(func.count()).where(AuditEntry.action == "user.locked"))
        assert locks == 1


def test_unknown_wrong_and_locked_get_the_same_words_and_one_verify_each(
    app: Flask,
    client: FlaskClient,
    make_user: Callable[..., int],
    example_hall: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_user("duty1", "duty")
    app.config["LOGIN_MAX_FAILURES"] = 2
    counts = _count_real_checks(monkeypatch)

    def answer(username: str, password: str) -> tuple[int, str]:
        token = csrf_token(client, "/admin/login")
        response = client.post(
            "/admin/login",
            data={"username": username, "password": password, "csrf_token": token},
        )
        page = response.get_data(as_text=True)
        start = page.index('role="alert"')
        return response.status_code, page[start : page.index("</", start)]

    unknown = answer("nobody", "wrong-password")
    assert counts == {"real": 0, "dummy": 1}
    wrong = answer("duty1", "wrong-password")
    answer("duty1", "wrong-password")  # the second failure locks
    before = dict(counts)
    locked = answer("duty1", PASSWORD)
    assert counts == {"real": before["real"], "dummy": before["dummy"] + 1}
    assert unknown == wrong == locked
    assert unknown[0] == 401 and FAILED in unknown[1]


def test_sign_in_is_throttled_per_client_address(
    app: Flask, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("duty1", "duty")
    app.extensions["login_rate_limit"] = __import__("limits").parse("3 per minute")
    app.config["WTF_CSRF_ENABLED"] = False
    assert type(app.extensions["limits_storage"]).__name__ == "MemoryStorage"
    client = app.test_client()

    def post(password: str, address: str) -> int:
        return client.post(
            "/admin/login",
            data={"username": "duty1", "password": password},
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    assert [post("wrong-password", "10.1.1.1") for _ in range(2)] == [401, 401]
    assert post("wrong-other", "10.1.1.1") == 401
    refused = client.post(
        "/admin/login",
        data={"username": "duty1", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.1.1.1"},
    )
    assert refused.status_code == 429 and "过于频繁" in refused.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert post(PASSWORD, "10.1.1.2") == 302  # another address still signs in


def test_bad_login_rate_limit_stops_the_app(database_uri: str, tmp_path: Path) -> None:
    config = _base_config(database_uri, tmp_path)
    config["LOGIN_RATE_LIMIT"] = "lots"
    with pytest.raises(ValueError, match="LOGIN_RATE_LIMIT"):
        create_app(config)


# --- redirects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("/admin/", True),
        ("/admin/reports/weekly?week=2026-W41&hall=QJ", True),
        ("/admin/staff?q=%E5%BC%A0%20%E4%B8%89", True),
        ("/admin/#top", True),
        ("/", True),
        (None, False),
        ("", False),
        ("//evil.example", False),
        ("///evil.example", False),
        ("/\t/evil.example", False),
        ("/\n/evil.example", False),
        ("\t//evil.example", False),
        (" /admin/", False),
        ("/\\evil.example", False),
        ("\\\\evil.example", False),
        ("/\\/evil.example", False),
        ("/%2F/evil.example", False),
        ("/%2f%2fevil.example", False),
        ("/%5Cevil.example", False),
        ("/%09/evil.example", False),
        ("https://evil.example/", False),
        ("http:evil.example", False),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("evil.example", False),
        ("/\x00/evil.example", False),
        ("/\x7f/evil.example", False),
    ],
)
def test_safe_redirect_path(target: str | None, allowed: bool) -> None:
    assert safe_redirect_path(target) == (target if allowed else None)


@pytest.mark.parametrize(
    "query",
    ["/%09/evil.example", "//evil.example", "/%5Cevil.example", "https://evil.example", "/%0a/x"],
)
def test_language_switch_and_sign_in_stay_on_this_site(
    client: FlaskClient, make_user: Callable[..., int], example_hall: Path, query: str
) -> None:
    response = client.get(f"/admin/lang/en?next={query}")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    make_user("duty1", "duty")
    token = csrf_token(client, "/admin/login")
    signed_in = client.post(
        f"/admin/login?next={query}",
        data={"username": "duty1", "password": PASSWORD, "csrf_token": token},
    )
    assert signed_in.headers["Location"] == "/admin/"
    assert client.get("/admin/lang/zh_Hans_CN?next=/admin/today").headers["Location"] == (
        "/admin/today"
    )


# --- a hall's admin and the admin of all halls -------------------------------------------


@pytest.mark.parametrize("action", ["deactivate", "unlock", "activate"])
def test_a_hall_admin_cannot_change_the_all_halls_admin(
    app: Flask,
    client: FlaskClient,
    make_user: Callable[..., int],
    example_hall: Path,
    action: str,
) -> None:
    import datetime as dt

    make_user("hall-admin", "admin")  # belongs to the example hall
    with app.app_context():
        root = accounts.create_user(
            db.session, username="root", password=PASSWORD, role="admin", hall=None
        )
        root.locked_until = dt.datetime(2999, 1, 1)
        root.active = action != "activate"
        db.session.commit()
        root_id = root.id
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry))
    assert sign_in(client, "hall-admin") == 302
    token = csrf_token(client, "/admin/users")
    response = client.post(
        "/admin/users",
        data={
            "kind": "action",
            "act-user_id": str(root_id),
            "act-action": action,
            "act-reason": "taking over",
            "csrf_token": token,
            "confirmed": "1",
        },
    )
    assert response.status_code == 200
    assert "未做更改" in response.get_data(as_text=True)
    with app.app_context():
        root = db.session.get(User, root_id)
        assert root is not None
        assert root.active is (action != "activate")
        assert root.locked_until == dt.datetime(2999, 1, 1)
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audits


def test_the_all_halls_admin_may_still_manage_a_hall_admin(
    app: Flask, client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    hall_admin = make_user("hall-admin", "admin")
    with app.app_context():
        accounts.create_user(
            db.session, username="root", password=PASSWORD, role="admin", hall=None
        )
        db.session.commit()
    assert sign_in(client, "root") == 302
    token = csrf_token(client, "/admin/users")
    client.post(
        "/admin/users",
        data={
            "kind": "action",
            "act-user_id": str(hall_admin),
            "act-action": "deactivate",
            "act-reason": "left the hall",
            "csrf_token": token,
            "confirmed": "1",
        },
    )
    with app.app_context():
        user = db.session.get(User, hall_admin)
        assert user is not None and user.active is False
