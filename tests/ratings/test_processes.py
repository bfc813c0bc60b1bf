"""Hostile clients against real waitress processes (``waitress-serve --call kiosk:create_app``).

An oversized body costs the server neither memory nor a worker thread, and the rating
limit holds across two processes that share one database and one Redis.
"""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Rating
from tests.ratings.conftest import add_terminal, setup_hall
from tests.ratings.servers import Server, delete_keys, redis_url, request, waitress_process

MIB = 1024 * 1024
HUGE = 200 * MIB


def stream(total: int, chunk: int = MIB) -> Iterator[bytes]:
    """``total`` bytes of a JSON-looking body, made as they are sent (never all in memory)."""
    yield b'{"token": "'
    sent = 11
    block = b"x" * chunk
    while sent < total - 2:
        piece = block[: min(chunk, total - 2 - sent)]
        sent += len(piece)
        yield piece
    yield b'"}'


def post_streamed(server: Server, path: str, total: int, chunked: bool = False) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    headers = {"Content-Type": "application/json"}
    if not chunked:
        headers["Content-Length"] = str(total)
    try:
        conn.request("POST", path, body=stream(total), headers=headers, encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def partial_request(port: int, declared: int) -> socket.socket:
    """A connection that declares a body of ``declared`` bytes and sends only 1 KiB of it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /api/v1/ratings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n"
        + f"Content-Length: {declared}\r\n\r\n".encode()
        + b"{" * 1024
    )
    return sock


@pytest.fixture
def server_config(database_uri: str) -> dict[str, object]:
    return {"SQLALCHEMY_DATABASE_URI": database_uri, "RATING_RATE_LIMIT": "0"}


def test_a_200_mb_body_is_refused_without_the_memory(
    server_config: dict[str, object], tmp_path: Path
) -> None:
    with waitress_process(tmp_path / "instance", server_config) as server:
        # Warm the paths up, so the peak below is what the big bodies add.
        assert request(server.port, "POST", "/api/v1/ratings", {"token": "x", "level": 5})[0] == 404
        before = server.peak_rss_kib()
        began = time.monotonic()
        status, body = post_streamed(server, "/api/v1/ratings", HUGE)
        assert (status, body["error"]) == (413, "too_large")
        status, body = post_streamed(server, "/api/v1/ratings", HUGE, chunked=True)
        assert (status, body["error"]) == (413, "too_large")
        status, body = post_streamed(server, "/api/v1/sessions", 20 * MIB)
        assert (status, body["error"]) == (413, "too_large")
        elapsed = time.monotonic() - began
        grown = server.peak_rss_kib() - before
        print(f"2 x 200 MB and 20 MB refused in {elapsed:.1f} s; peak memory grew {grown} KiB")
        # Reading one such body into memory costs several hundred MiB; waitress spools it to
        # a temporary file and the app never reads it.
        assert grown < 32 * 1024, f"peak memory grew by {grown} KiB"
        # The server is still fine.
        assert request(server.port, "GET", "/healthz")[0] == 200


def test_a_declared_200_mb_body_is_refused_before_it_is_sent(
    server_config: dict[str, object], tmp_path: Path
) -> None:
    # The deployment the README gives: waitress cuts what no view may take as soon as the
    # headers arrive; between MAX_CONTENT_LENGTH and that cap the app answers JSON 413.
    cap = "--max-request-body-size=2097152"
    with waitress_process(tmp_path / "instance", server_config, cap) as server:
        sock = partial_request(server.port, HUGE)
        try:
            began = time.monotonic()
            answer = sock.recv(4096)
            elapsed = time.monotonic() - began
        finally:
            sock.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert elapsed < 2, elapsed
        status, body = post_streamed(server, "/api/v1/ratings", MIB + MIB // 2)
        assert (status, body["error"]) == (413, "too_large")


def test_unfinished_bodies_hold_no_worker_thread(
    server_config: dict[str, object], tmp_path: Path
) -> None:
    with waitress_process(tmp_path / "instance", server_config, threads=2) as server:
        socks = [partial_request(server.port, HUGE) for _ in range(8)]
        try:
            began = time.monotonic()
            assert request(server.port, "GET", "/healthz")[0] == 200
            status, body = request(
                server.port, "POST", "/api/v1/ratings", {"token": "x", "level": 5}
            )
            elapsed = time.monotonic() - began
            assert (status, body["error"]) == (404, "unknown_token")
            assert elapsed < 1, f"{elapsed:.2f} s with 8 unfinished bodies on 2 threads"
        finally:
            for sock in socks:
                sock.close()


def test_the_rate_limit_holds_across_two_processes_on_redis(
    database_uri: str, tmp_path: Path, app: Flask, runner: FlaskCliRunner
) -> None:
    setup_hall(runner)
    key = add_terminal(runner)
    key_id = key[3:].split(".")[0]
    # A loopback address of this test's own, so no other run's phone calls share its count.
    phone = (
        f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 2}"
    )
    with redis_url() as uri:
        config = {
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "RATING_RATE_LIMIT": "6 per hour",
            "RATELIMIT_STORAGE_URI": uri,
        }
        try:
            with (
                waitress_process(tmp_path / "a", config) as first,
                waitress_process(tmp_path / "b", config) as second,
            ):
                servers = (first, second)
                tokens = []
                for n in range(24):
                    status, body = request(
                        servers[n % 2].port, "POST", "/api/v1/sessions", {"staff_no": "S001"}, key
                    )
                    assert status == 201, body
                    tokens.append(body["token"])
                # Counter calls with the key, alternating between the two processes.
                counter = [
                    request(
                        servers[n % 2].port,
                        "POST",
                        "/api/v1/ratings",
                        {"token": t, "level": 5},
                        key,
                    )[0]
                    for n, t in enumerate(tokens[:12])
                ]
                # Phone calls from one address, alternating likewise.
                phones = [
                    request(
                        servers[n % 2].port,
                        "POST",
                        "/api/v1/ratings",
                        {"token": t, "level": 5},
                        source=phone,
                    )[0]
                    for n, t in enumerate(tokens[12:])
                ]
        finally:
            removed = delete_keys(uri, key_id, phone)
    print(f"counter: {counter}; phone: {phones}; {removed} Redis keys removed")
    assert sorted(counter) == [201] * 6 + [429] * 6
    assert counter[:6] == [201] * 6  # the first six, whichever process took them
    assert sorted(phones) == [201] * 6 + [429] * 6
    assert removed == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Rating)) == 12
