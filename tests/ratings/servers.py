"""Real server processes for the hostile-client tests: waitress and, when needed, Redis.

``waitress_process`` runs ``python -m waitress --call kiosk:create_app`` (the README's
deployment) in a subprocess configured by ``FLASK_*`` environment variables, so that
several processes share one database and one rate-limit storage as in a hall. Only
processes started here are stopped here, by their own pid.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("KIOSK_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# A Redis database number of the tests' own; every key they make there is removed after.
REDIS_DB = 13


@dataclass
class Server:
    """A running waitress process."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_kib(self) -> int:
        """The process's peak resident memory so far (Linux VmHWM), in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        assert match, status
        return int(match.group(1))


@contextmanager
def waitress_process(
    instance: Path, config: dict[str, Any], *waitress_args: str, threads: int = 4
) -> Iterator[Server]:
    """One waitress process serving ``kiosk:create_app`` with ``config`` as ``FLASK_*``."""
    instance.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "KIOSK_INSTANCE_PATH": str(instance),
            "FLASK_SECRET_KEY": secrets.token_hex(32),
        }
    )
    for key, value in config.items():
        env[f"FLASK_{key}"] = value if isinstance(value, str) else json.dumps(value)
    log = instance / f"waitress-{secrets.token_hex(4)}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "waitress",
                "--listen=127.0.0.1:0",
                f"--threads={threads}",
                *waitress_args,
                "--call",
                "kiosk:create_app",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        port = _wait_for_port(process, log)
        yield Server(process, port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"Serving on http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        if match:
            port = int(match.group(1))
            if request(port, "GET", "/healthz")[0] == 200:
                return port
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"waitress did not start:\n{log.read_text(errors='replace')}")


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = None,
    source: str | None = None,
) -> tuple[int, Any]:
    """One HTTP request to 127.0.0.1:port (from the loopback address ``source``, if given);
    returns the status and the JSON answer (or the text)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body))
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(source, 0) if source else None
    )
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except OSError:
        return 0, None
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode("utf-8", "replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_url() -> Iterator[str]:
    """A Redis URI for the tests: the server at ``KIOSK_TEST_REDIS_URL`` (127.0.0.1:6379) if it
    answers, else a private ``redis-server`` started here on a free port.

    Without either, the test fails when ``KIOSK_TEST_REDIS=required`` (as ``.ci/run`` sets)
    and is skipped otherwise, saying why.
    """
    import redis

    uri = f"{REDIS_URL}/{REDIS_DB}"
    try:
        redis.Redis.from_url(uri, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pass
    else:
        yield uri
        return
    binary = shutil.which("redis-server")
    if binary is None:
        message = f"no Redis answers at {REDIS_URL} and redis-server is not installed"
        if os.environ.get("KIOSK_TEST_REDIS") == "required":
            pytest.fail(message + " (KIOSK_TEST_REDIS=required)")
        pytest.skip(message + "; `bash .ci/setup` installs it")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        uri = f"redis://127.0.0.1:{port}/{REDIS_DB}"
        client = redis.Redis.from_url(uri, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("the private redis-server did not start") from None
                time.sleep(0.1)
        client.close()
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=10)


def delete_keys(uri: str, *parts: str) -> int:
    """Remove the rate-limit keys that contain any of ``parts``; how many were removed."""
    import redis

    client = redis.Redis.from_url(uri)
    try:
        keys = [key for part in parts for key in client.scan_iter(match=f"*{part}*")]
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()
