"""Try the back office's sign-in defences as an attacker would, against a real waitress.

Prints tried / refused figures: 40 parallel wrong passwords on one account (with and
without the per-address throttle), the right password after that, a cookie forged with
the old built-in key, a cookie replayed after sign-out, open-redirect probes, and the
answer times of unknown, wrong and locked accounts. Loopback only; about a minute.
"""

from __future__ import annotations

import http.client
import logging
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from itsdangerous import URLSafeTimedSerializer  # noqa: E402
from waitress.server import create_server  # noqa: E402

import kiosk.services.accounts as accounts  # noqa: E402
from kiosk import create_app  # noqa: E402
from kiosk.extensions import db  # noqa: E402
from kiosk.secret_key import SecretKeyError  # noqa: E402

PASSWORD = "correct-horse-42"
logging.getLogger("waitress").setLevel(logging.ERROR)  # queue-depth warnings of the burst


@contextmanager
def serve(app: Flask) -> Iterator[int]:
    """The app on waitress (16 threads) on a free loopback port."""
    server = create_server(app, host="127.0.0.1", port=0, threads=16)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)  # type: ignore[union-attr]
    finally:
        server.close()


def request(
    port: int, method: str, path: str, body: dict[str, str] | None = None, cookie: str = ""
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": cookie} if cookie else {}
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    text = response.read().decode("utf-8", "replace")
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, text


def session_cookie(headers: dict[str, str]) -> str:
    match = re.search(r"session=([^;]+)", headers.get("set-cookie", ""))
    return f"session={match.group(1)}" if match else ""


def login_page(port: int) -> tuple[str, str]:
    """(cookie, csrf token) of a fresh sign-in page."""
    _status, headers, page = request(port, "GET", "/admin/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    return session_cookie(headers), token.group(1)


def sign_in(port: int, username: str, password: str, query: str = "") -> tuple[int, dict, str]:
    cookie, token = login_page(port)
    return request(
        port,
        "POST",
        f"/admin/login{query}",
        {"username": username, "password": password, "csrf_token": token},
        cookie,
    )


def make_app(root: Path, login_limit: str) -> Flask:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'attack.sqlite'}",
            "SECRET_KEY": secrets.token_hex(32),
            "LOGIN_RATE_LIMIT": login_limit,
        }
    )
    app.instance_path = str(root)
    return app


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="attack-"))
    # 1. The old built-in key cannot even start the app.
    try:
        create_app({"SECRET_KEY": "dev-only-change-me"})
        print("start with SECRET_KEY=dev-only-change-me: STARTED (bad)")
    except SecretKeyError:
        print("start with SECRET_KEY=dev-only-change-me: refused")

    app = make_app(root, "0")
    with app.app_context():
        upgrade()
        accounts.create_user(
            db.session, username="root", password=PASSWORD, role="admin", hall=None
        )
        accounts.create_user(
            db.session, username="victim", password=PASSWORD, role="admin", hall=None
        )
        db.session.commit()
        root_id = accounts.select(accounts.User.id).where(accounts.User.username == "root")
        root_id = db.session.scalar(root_id)

    checks = {"real": 0}
    original = accounts.verify_password

    def counting(stored: str, password: str) -> bool:
        if stored != accounts._DUMMY_HASH:
            checks["real"] += 1
        return original(stored, password)

    accounts.verify_password = counting  # type: ignore[assignment]

    with serve(app) as port:
        # 2. Forged cookies with the old default key.
        forged_open = 0
        for key in ("dev-only-change-me", "dev", "changeme", "secret"):
            signer = URLSafeTimedSerializer(
                key,
                salt="cookie-session",
                signer_kwargs={"key_derivation": "hmac", "digest_method": "sha1"},
            )
            for payload in ({"_user_id": str(root_id)}, {"_user_id": f"{root_id}:0"}):
                status, _h, _t = request(
                    port, "GET", "/admin/users", cookie=f"session={signer.dumps(payload)}"
                )
                forged_open += status == 200
        print(f"forged cookies: tried 8, opened /admin/users {forged_open}")

        # 3. 40 parallel wrong passwords on one account (address throttle off).
        pages = [login_page(port) for _ in range(40)]
        barrier = threading.Barrier(40)
        statuses: list[int] = []

        def guess(number: int) -> None:
            cookie, token = pages[number]
            barrier.wait()
            status, _h, _t = request(
                port,
                "POST",
                "/admin/login",
                {"username": "victim", "password": f"guess-{number}", "csrf_token": token},
                cookie,
            )
            statuses.append(status)

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(
            f"40 parallel wrong passwords: {checks['real']} checked against the real hash "
            f"(LOGIN_MAX_FAILURES={app.config['LOGIN_MAX_FAILURES']}), "
            f"{statuses.count(401)} answered 401"
        )
        status, headers, _t = sign_in(port, "victim", PASSWORD)
        print(
            f"right password after the burst: {status} ({'signed in' if status == 302 else 'refused'})"
        )

        # 4. Same wording and similar time for unknown, wrong and locked accounts.
        times: dict[str, list[float]] = {"unknown": [], "wrong": [], "locked": []}
        words: dict[str, set[str]] = {key: set() for key in times}
        for _ in range(6):
            for kind, username, password in (
                ("unknown", "nobody", "x-wrong-password"),
                ("locked", "victim", PASSWORD),
            ):
                cookie, token = login_page(port)
                started = time.perf_counter()
                _s, _h, page = request(
                    port,
                    "POST",
                    "/admin/login",
                    {"username": username, "password": password, "csrf_token": token},
                    cookie,
                )
                times[kind].append(time.perf_counter() - started)
                words[kind].add(re.findall(r'role="alert">([^<]+)<', page)[0])
        for _ in range(6):
            with app.app_context():
                accounts.unlock_user(
                    db.session,
                    db.session.scalar(
                        accounts.select(accounts.User).where(accounts.User.username == "root")
                    ),
                    actor_id=None,
                    reason="bench",
                )
                db.session.commit()
            cookie, token = login_page(port)
            started = time.perf_counter()
            _s, _h, page = request(
                port,
                "POST",
                "/admin/login",
                {"username": "root", "password": "x-wrong-password", "csrf_token": token},
                cookie,
            )
            times["wrong"].append(time.perf_counter() - started)
            words["wrong"].add(re.findall(r'role="alert">([^<]+)<', page)[0])
        same = len(set().union(*words.values())) == 1
        print(
            "answer time, median ms: "
            + ", ".join(f"{k} {statistics.median(v) * 1000:.0f}" for k, v in times.items())
            + f"; one wording for all three: {same}"
        )

        # 5. A cookie replayed after sign-out.
        with app.app_context():
            accounts.unlock_user(
                db.session,
                db.session.scalar(
                    accounts.select(accounts.User).where(accounts.User.username == "root")
                ),
                actor_id=None,
                reason="bench",
            )
            db.session.commit()
        status, headers, _t = sign_in(port, "root", PASSWORD)
        cookie = session_cookie(headers)
        before = request(port, "GET", "/admin/", cookie=cookie)[0]
        _s, _h, page = request(port, "GET", "/admin/", cookie=cookie)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        request(port, "POST", "/admin/logout", {"csrf_token": token.group(1)}, cookie)
        after = request(port, "GET", "/admin/", cookie=cookie)[0]
        print(f"cookie replay: before sign-out {before}, after sign-out {after}")

        # 6. Open-redirect probes on the language switch and the sign-in next=.
        probes = [
            "/%09/evil.example",
            "/%0a/evil.example",
            "/%0d/evil.example",
            "//evil.example",
            "///evil.example",
            "/%5Cevil.example",
            "%5C%5Cevil.example",
            "/%5C/evil.example",
            "/%252F%252Fevil.example",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "%20//evil.example",
            "/%00/evil.example",
        ]
        off_site = 0
        tried = 0
        for probe in probes:
            for kind in ("lang", "login"):
                tried += 1
                if kind == "lang":
                    _s, headers, _t = request(port, "GET", f"/admin/lang/en?next={probe}")
                else:
                    _s, headers, _t = sign_in(port, "root", PASSWORD, f"?next={probe}")
                location = headers.get("location", "")
                cleaned = re.sub(r"[\x00-\x20\\]", "/", location)
                if not location.startswith("/") or cleaned.startswith("//"):
                    off_site += 1
                    print(f"  OFF-SITE: {kind} {probe} -> {location!r}")
        print(f"open-redirect probes: tried {tried}, went off-site {off_site}")

    # 7. The per-address throttle with the default limit.
    accounts.verify_password = original  # type: ignore[assignment]
    app = make_app(root, "10 per minute")
    with serve(app) as port:
        answers = [sign_in(port, "root", f"guess-{n}")[0] for n in range(40)]
        print(
            f"40 guesses from one address at LOGIN_RATE_LIMIT=10 per minute: "
            f"{answers.count(401)} checked (401), {answers.count(429)} throttled (429)"
        )


if __name__ == "__main__":
    main()
