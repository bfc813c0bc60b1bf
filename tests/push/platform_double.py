"""A double of the provincial 好差评 platform over real HTTP (SPEC 11), for tests and bench.

It holds records by id, as the platform would: a new id (or a known id with a changed
record) is accepted, a known id with the same record is a duplicate, an id in ``reject``
is rejected with its reason. ``script`` says how each next request is answered, one
action per request (then ``"ok"``):

* ``"ok"``    answer 200 with accepted / duplicates / rejected;
* ``"503"``   answer 503 and store nothing;
* ``"hang"``  store nothing and say nothing for ``hang_seconds``, then close;
* ``"drop"``  store the records, then close the connection without an answer (the
  worst case for the client: the platform has them, the client never heard so);
* ``"partial"`` answer 200 naming only the first record (the others unanswered).

``python -m tests.push.platform_double`` serves one on a port and prints
``listening on http://127.0.0.1:PORT/records`` (the benchmark runs it so).
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/records"


@dataclass
class PlatformState:
    """What the double holds and how it will answer; shared by its request threads."""

    token: str | None = None
    store: dict[str, dict[str, Any]] = field(default_factory=dict)
    reject: dict[str, str] = field(default_factory=dict)
    script: list[str] = field(default_factory=list)
    hang_seconds: float = 2.0
    delay: float = 0.0  # seconds before each answer (the SIGKILL test's window)
    keep_records: bool = True  # False: remember ids only (the benchmark)
    requests: list[dict[str, Any]] = field(default_factory=list)  # what came, in order
    answered_delivered: set[str] = field(default_factory=set)  # ids answered accepted/dup
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)

    def next_action(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"

    def take(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Store a batch; the answer the platform gives for it."""
        accepted, duplicates, rejected = [], [], []
        with self.lock:
            for record in records:
                rid = record["id"]
                if rid in self.reject:
                    rejected.append({"id": rid, "reason": self.reject[rid]})
                    continue
                held = self.store.get(rid)
                if held is not None and (not self.keep_records or held == record):
                    duplicates.append(rid)
                else:
                    self.store[rid] = record if self.keep_records else {}
                    accepted.append(rid)
            self.answered_delivered.update(accepted, duplicates)
        return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


def _handler(state: PlatformState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real platform

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without TCP_NODELAY, Nagle's
            # algorithm and the client's delayed ACK stall each answer by 40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet in tests

        def _answer(self, status: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            records = body["records"]
            action = state.next_action()
            with state.lock:
                state.requests.append(
                    {
                        "action": action,
                        "authorization": self.headers.get("Authorization"),
                        "ids": [r["id"] for r in records] if state.keep_records else len(records),
                        "records": records if state.keep_records else None,
                    }
                )
            state.arrived.set()
            if state.token is not None and self.headers.get("Authorization") != (
                f"Bearer {state.token}"
            ):
                self._answer(401, {"error": "unauthorized"})
                return
            if action == "503":
                self._answer(503, {"error": "busy"})
                return
            if action == "hang":
                time.sleep(state.hang_seconds)
                self.close_connection = True
                return
            answer = state.take(records)
            if action == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if action == "partial":
                named = records[0]["id"]
                answer = {
                    "accepted": [i for i in answer["accepted"] if i == named],
                    "duplicates": [i for i in answer["duplicates"] if i == named],
                    "rejected": [r for r in answer["rejected"] if r["id"] == named],
                }
            if state.delay:
                time.sleep(state.delay)
            self._answer(200, answer)

    return Handler


@contextmanager
def platform_double(state: PlatformState | None = None) -> Iterator[tuple[str, PlatformState]]:
    """A running double on 127.0.0.1 (random port): its ``PUSH_URL`` and its state."""
    state = state or PlatformState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="platform-double", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PATH}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def main() -> None:
    """Serve a double that accepts at once (ids only kept) until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    with platform_double(PlatformState(token=args.token, keep_records=False)) as (url, _state):
        print(f"listening on {url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
