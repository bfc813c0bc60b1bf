"""Attack the terminal API as a hostile client would, against real waitress processes.

Usage: ``.venv/bin/python bench/attack_api.py [--redis redis://127.0.0.1:6379/14]``

Starts waitress processes (``python -m waitress --call kiosk:create_app``, as deployed) on
one SQLite database in a temporary directory, bound to 127.0.0.1, and tries: oversized
bodies (streamed, chunked, declared but never sent), JSON that is no object of the
documented fields, replaying a session's token without the terminal key, rating with
another terminal's key, guessing keys, and outrunning the rate limit by spreading calls
over two processes (with the shared Redis storage, and with per-process memory for
comparison). Prints what was tried and what was refused. Bounded: a few hundred requests.
The rate-limit keys it makes in Redis are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ratings.servers import (  # noqa: E402  (after the path is set)
    Server,
    delete_keys,
    request,
    waitress_process,
)
from tests.ratings.test_processes import partial_request, post_streamed  # noqa: E402

MIB = 1024 * 1024
ROWS: list[tuple[str, int, int, str]] = []


def report(attack: str, tried: int, refused: int, note: str = "") -> None:
    ROWS.append((attack, tried, refused, note))
    print(f"{attack:<58} tried {tried:>4}  refused {refused:>4}  {note}", flush=True)


def prepare(workdir: Path) -> tuple[str, str, str, str]:
    """Migrate a SQLite database, import the example hall, a second hall, three terminals."""
    from flask_migrate import upgrade

    from kiosk import create_app

    uri = f"sqlite:///{workdir / 'kiosk.sqlite'}"
    app = create_app(
        {"SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": uri, "TESTING": True}
    )
    runner = app.test_cli_runner()
    with app.app_context():
        upgrade()
    data = ROOT / "tests" / "data" / "small"
    other = (data / "hall.toml").read_text("utf-8").replace('code = "QJ"', 'code = "XT"', 1)
    (workdir / "xt.toml").write_text(other, "utf-8")
    for args in (
        ["import", "hall", str(data / "hall.toml")],
        ["import", "roster", str(data / "roster.csv")],
        ["import", "hall", str(workdir / "xt.toml")],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    keys = []
    for args in (
        ["terminals", "add", "柜台1", "--window", "W01", "--hall", "QJ"],
        ["terminals", "add", "柜台2", "--window", "W02", "--hall", "QJ"],
        ["terminals", "add", "XT柜台", "--window", "W01", "--hall", "XT"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        keys.append(result.output.strip().splitlines()[-1])
    with app.app_context():
        from kiosk.extensions import db

        db.engine.dispose()
    return uri, keys[0], keys[1], keys[2]


def ratings_stored(uri: str) -> list[tuple[str, bool]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(uri)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT channel, misuse FROM ratings ORDER BY id")).all()
    engine.dispose()
    return [(row[0], bool(row[1])) for row in rows]


def open_session(server: Server, key: str) -> str:
    status, body = request(server.port, "POST", "/api/v1/sessions", {"staff_no": "S001"}, key)
    assert status == 201, body
    return str(body["token"])


def attack_sizes(server: Server, capped: Server) -> None:
    before = server.peak_rss_kib()
    began = time.monotonic()
    results = [
        post_streamed(server, "/api/v1/ratings", 200 * MIB)[0],
        post_streamed(server, "/api/v1/ratings", 200 * MIB, chunked=True)[0],
    ]
    results += [post_streamed(server, "/api/v1/ratings", 2 * MIB)[0] for _ in range(20)]
    elapsed = time.monotonic() - began
    grown = (server.peak_rss_kib() - before) / 1024
    report(
        "oversized bodies (2 x 200 MB, 20 x 2 MiB) to /ratings",
        len(results),
        results.count(413),
        f"{elapsed:.1f} s, server peak memory +{grown:.1f} MiB",
    )
    answers = []
    for _ in range(5):
        sock = partial_request(capped.port, 200 * MIB)
        began = time.monotonic()
        answer = sock.recv(4096)
        answers.append((answer.startswith(b"HTTP/1.1 413"), time.monotonic() - began))
        sock.close()
    slowest = max(t for _ok, t in answers)
    report(
        "declared 200 MB, 1 KiB sent (--max-request-body-size)",
        len(answers),
        sum(ok for ok, _t in answers),
        f"413 after at most {slowest * 1000:.0f} ms",
    )
    socks = [partial_request(server.port, 200 * MIB) for _ in range(16)]
    began = time.monotonic()
    healthy = request(server.port, "GET", "/healthz")[0] == 200
    waited = time.monotonic() - began
    for sock in socks:
        sock.close()
    report(
        "16 unfinished 200 MB bodies held open (4 threads)",
        16,
        16 if healthy else 0,
        f"/healthz answered in {waited * 1000:.0f} ms meanwhile",
    )


def attack_json(server: Server, key: str) -> None:
    deep = b"[" * 10000 + b"]" * 10000
    payloads = [
        b"[]",
        b'"x"',
        b"5",
        b"null",
        b"true",
        b"",
        b"{",
        b"\xff\xfe",
        deep,
        b'{"token":' * 10000 + b"1" + b"}" * 10000,
        b'{"token": ' + deep + b', "level": 5}',
        b'{"token": "T", "level": 5, "admin": true}',
        b'{"token": "T", "level": "5"}',
        b'{"token": "T", "level": 5.5}',
        b'{"token": "T", "level": NaN}',
        b'{"token": "T", "level": ' + b"9" * 5000 + b"}",
        b'{"token": "T", "level": 1, "reasons": "x"}',
        b'{"token": "T\\u0000", "level": 5}',
        b'{"token": "\\ud800", "level": 5}',
        b'{"token": "T", "level": 5, "comment": "\\u0000"}',
    ]
    statuses = []
    for path in ("/api/v1/ratings", "/api/v1/sessions"):
        for raw in payloads:
            statuses.append(request(server.port, "POST", path, raw, key)[0])
    report(
        "JSON that is no object of the documented fields",
        len(statuses),
        statuses.count(400),
        f"500s: {statuses.count(500)}",
    )


def attack_replay(server: Server, uri: str, key: str) -> None:
    before = len(ratings_stored(uri))
    for _ in range(20):
        token = open_session(server, key)
        request(server.port, "POST", "/api/v1/ratings", {"token": token, "level": 5})
    new = ratings_stored(uri)[before:]
    flagged = sum(misuse for _channel, misuse in new)
    report(
        "20 self-ratings: the terminal's token posted without key",
        len(new),
        flagged,
        f"flagged misuse, {len(new) - flagged} counted",
    )


def attack_other_keys(server: Server, key: str, other_window: str, other_hall: str) -> None:
    statuses = []
    for other in (other_window, other_hall):
        for _ in range(10):
            token = open_session(server, key)
            statuses.append(
                request(
                    server.port, "POST", "/api/v1/ratings", {"token": token, "level": 5}, other
                )[0]
            )
    report(
        "counter ratings with another window's / hall's key",
        len(statuses),
        statuses.count(403),
        "403 wrong_terminal",
    )


def attack_guessing(server: Server) -> None:
    source = f"127.{secrets.randbelow(200) + 20}.0.{secrets.randbelow(250) + 2}"
    statuses = [
        request(
            server.port,
            "POST",
            "/api/v1/ratings",
            {"token": "x", "level": 5},
            f"kt_{secrets.token_hex(8)}.{secrets.token_urlsafe(32)}",
            source=source,
        )[0]
        for _ in range(60)
    ]
    report(
        "60 guessed keys from one address (limit 30/min)",
        len(statuses),
        statuses.count(401) + statuses.count(429),
        f"401: {statuses.count(401)}, 429: {statuses.count(429)}",
    )


def attack_two_processes(servers: tuple[Server, Server], key: str, label: str) -> list[str]:
    tokens = [open_session(servers[n % 2], key) for n in range(60)]
    counter = [
        request(servers[n % 2].port, "POST", "/api/v1/ratings", {"token": t, "level": 5}, key)[0]
        for n, t in enumerate(tokens[:30])
    ]
    # Phone calls from one address of their own, alternating likewise.
    source = f"127.{secrets.randbelow(200) + 20}.1.{secrets.randbelow(250) + 2}"
    phone = [
        request(
            servers[n % 2].port, "POST", "/api/v1/ratings", {"token": t, "level": 5}, source=source
        )[0]
        for n, t in enumerate(tokens[30:])
    ]
    report(
        f"30 counter ratings over 2 processes, limit 15/min ({label})",
        len(counter),
        counter.count(429),
        f"accepted {counter.count(201)}",
    )
    report(
        f"30 phone ratings over 2 processes, limit 15/min ({label})",
        len(phone),
        phone.count(429),
        f"accepted {phone.count(201)}",
    )
    return [key[3:].split(".")[0], source]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attack-api-") as tmp:
        workdir = Path(tmp)
        uri, key, other_window, other_hall = prepare(workdir)
        base: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": uri,
            "RATING_RATE_LIMIT": "30 per minute",
        }
        with (
            waitress_process(workdir / "plain", base) as plain,
            waitress_process(workdir / "capped", base, "--max-request-body-size=2097152") as capped,
        ):
            attack_sizes(plain, capped)
            attack_json(plain, key)
            attack_replay(plain, uri, key)
            attack_other_keys(plain, key, other_window, other_hall)
            attack_guessing(plain)
        limited = {**base, "RATING_RATE_LIMIT": "15 per minute"}
        made: list[str] = []
        shared = {**limited, "RATELIMIT_STORAGE_URI": args.redis}
        try:
            with (
                waitress_process(workdir / "r1", shared) as first,
                waitress_process(workdir / "r2", shared) as second,
            ):
                made = attack_two_processes((first, second), key, "Redis")
        finally:
            if made:
                delete_keys(args.redis, *made)
        with (
            waitress_process(workdir / "m1", limited) as first,
            waitress_process(workdir / "m2", limited) as second,
        ):
            attack_two_processes((first, second), other_window, "memory://, for comparison")
    tried = sum(row[1] for row in ROWS)
    print(json.dumps({"attacks": len(ROWS), "requests tried": tried}))


if __name__ == "__main__":
    main()
