"""An emulated EF01 fingerprint module on a pseudo-terminal, with faults on demand.

Run ``python -m devices.emulator --link PATH [--templates N]``. The emulator creates a
pseudo-terminal, points the symlink PATH at its slave side and answers the module protocol
on it. Control lines on standard input are answered with exactly one line each (``ok ...``
or ``error ...``); ``help`` lists them. End of input or ``quit`` ends it.

``EmulatorProcess`` at the bottom runs one as a subprocess and talks to it, for tests,
benchmarks and demos.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import heapq
import itertools
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from devices import protocol as p
from devices.protocol import Confirmation as C
from devices.protocol import Instruction as I  # noqa: E741

CAPACITY = 300
UNKNOWN_FINGER = "finger:unknown"
MATCH_SCORE = 150

HELP = (
    "press PAGE|unknown; release; unplug; plug; repoint (fresh pty behind the link, old one "
    "left open but dead); noise [N]; badsum [N]; split [N]; short [N]; stray [N]; "
    "delay MS [N]; silence [N]; silent on|off; address HEX; password N; clear (cancel "
    "faults); status; help; quit"
)


def finger_of_page(page: int) -> str:
    """Identity of the finger whose template the emulator puts on ``page`` at start."""
    return f"finger:{page}"


TEMPLATE_MAGIC = b"EMU1"
RAW = "raw:"


def template_bytes(finger: str) -> bytes:
    """The 512-byte characteristics file UpChar sends for ``finger`` (deterministic, so the
    same finger gives the same bytes on every emulated reader); a ``raw:`` identity is a
    file some host sent with DownChar, given back as it came."""
    if finger.startswith(RAW):
        return bytes.fromhex(finger[len(RAW) :])
    name = finger.encode()
    head = TEMPLATE_MAGIC + len(name).to_bytes(2, "big") + name
    filler = b""
    block = hashlib.sha256(name).digest()
    while len(head) + len(filler) < p.TEMPLATE_SIZE:
        filler += block
        block = hashlib.sha256(block).digest()
    return (head + filler)[: p.TEMPLATE_SIZE]


def finger_of_template(data: bytes) -> str:
    """The finger a characteristics file from DownChar is of: the emulator's own files map
    back to their finger (a template copied from another emulated reader matches the same
    presses there), anything else is a finger of its own."""
    if data[:4] == TEMPLATE_MAGIC and len(data) >= 6:
        size = int.from_bytes(data[4:6], "big")
        with contextlib.suppress(UnicodeDecodeError):
            name = data[6 : 6 + size].decode()
            if not name.startswith(RAW) and template_bytes(name) == data:
                return name
    return RAW + data.hex()


@dataclass
class Faults:
    """Faults applied to the next replies; counts go down by one per reply sent."""

    noise: int = 0
    badsum: int = 0
    split: int = 0
    short: int = 0
    stray: int = 0
    silence: int = 0
    silent: bool = False
    delay: int = 0
    delay_ms: int = 0

    def pending(self) -> int:
        """How many replies still have a counted fault coming."""
        return (
            self.noise
            + self.badsum
            + self.split
            + self.short
            + self.stray
            + self.silence
            + self.delay
        )

    def clear(self) -> None:
        """Cancel every pending fault."""
        for name in ("noise", "badsum", "split", "short", "stray", "silence", "delay"):
            setattr(self, name, 0)
        self.silent = False
        self.delay_ms = 0


@dataclass
class Module:
    """The module's logic: flash, buffers, handshake. No I/O; ``handle`` maps a frame to replies."""

    address: int = p.DEFAULT_ADDRESS
    password: int = p.DEFAULT_PASSWORD
    capacity: int = CAPACITY
    templates: dict[int, str] = field(default_factory=dict)
    finger: str | None = None
    image: str | None = None
    char_buffers: dict[int, str | None] = field(default_factory=lambda: {1: None, 2: None})
    verified: bool = False
    gen_img_count: int = 0
    command_count: int = 0
    last_instruction: int | None = None
    searches: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(4))
    packet_size_code: int = 2  # 128-byte data packets, as the modules ship
    # A DownChar under way: the CharBuffer it fills and the data packets so far.
    receiving: tuple[int, p.DataAssembler] | None = None
    transfers_refused: int = 0

    @property
    def packet_size(self) -> int:
        """Payload bytes per data packet."""
        return p.PACKET_SIZES[self.packet_size_code]

    def power_cycle(self) -> None:
        """RAM is lost on power-up (buffers, handshake); flash (templates) survives."""
        self.image = None
        self.char_buffers = {1: None, 2: None}
        self.verified = False
        self.receiving = None

    def corrupt(self) -> bytes:
        """A packet for us with a bad checksum: refused; a DownChar under way is broken off
        and its CharBuffer left empty (a Store after it fails), never half-filled."""
        self._abort_transfer()
        return self._ack(C.PACKET_ERROR)

    def _abort_transfer(self) -> None:
        if self.receiving is not None:
            buffer_id, _ = self.receiving
            self.char_buffers[buffer_id] = None
            self.receiving = None
            self.transfers_refused += 1

    def _data(self, frame: p.Frame) -> bytes | None:
        """A data packet of the DownChar under way (silence: the host sends on)."""
        if self.receiving is None:
            return None  # data nobody announced: ignored, as the module does
        buffer_id, assembler = self.receiving
        try:
            if not assembler.add(frame):
                return None
        except p.ProtocolError:
            self._abort_transfer()
            return self._ack(C.PACKET_ERROR)
        self.receiving = None
        data = assembler.data
        if len(data) != p.TEMPLATE_SIZE:
            self.char_buffers[buffer_id] = None
            self.transfers_refused += 1
            return None
        self.char_buffers[buffer_id] = finger_of_template(data)
        return None

    def handle(self, frame: p.Frame) -> bytes | None:
        """The reply packet(s) to ``frame``, or None when the module stays silent."""
        if frame.address != self.address or not frame.payload:
            return None  # not for us: a module on a shared line keeps quiet
        if frame.pid in (p.PacketId.DATA, p.PacketId.END_DATA):
            return self._data(frame)
        if frame.pid != p.PacketId.COMMAND:
            return None
        # A command in the middle of a transfer ends it: the buffer is not half-filled.
        self._abort_transfer()
        self.command_count += 1
        ins, args = frame.payload[0], frame.payload[1:]
        self.last_instruction = ins
        if ins == I.VFY_PWD:
            if len(args) != 4:
                return self._ack(C.PACKET_ERROR)
            self.verified = struct.unpack(">I", args)[0] == self.password
            return self._ack(C.OK if self.verified else C.WRONG_PASSWORD)
        if self.password != p.DEFAULT_PASSWORD and not self.verified:
            return self._ack(C.PASSWORD_REQUIRED, bytes(p.REPLY_LENGTHS.get(ins, 1) - 1))
        try:
            return self._dispatch(ins, args)
        except struct.error:
            return self._ack(C.PACKET_ERROR, bytes(p.REPLY_LENGTHS.get(ins, 1) - 1))

    def _ack(self, code: int, data: bytes = b"") -> bytes:
        return p.ack(self.address, code, data)

    def _dispatch(self, ins: int, args: bytes) -> bytes:
        if ins == I.GEN_IMG:
            self.gen_img_count += 1
            if self.finger is None:
                return self._ack(C.NO_FINGER)
            self.image = self.finger
            return self._ack(C.OK)
        if ins == I.IMG2TZ:
            (buffer_id,) = struct.unpack(">B", args)
            if buffer_id not in (1, 2):
                return self._ack(C.PACKET_ERROR)
            if self.image is None:
                return self._ack(C.NO_VALID_IMAGE)
            self.char_buffers[buffer_id] = self.image
            return self._ack(C.OK)
        if ins == I.SEARCH:
            self.searches += 1
            buffer_id, start, count = struct.unpack(">BHH", args)
            wanted = self.char_buffers.get(buffer_id)
            if wanted is not None:
                for page in range(start, min(start + count, self.capacity)):
                    if self.templates.get(page) == wanted:
                        return self._ack(C.OK, struct.pack(">HH", page, MATCH_SCORE))
            return self._ack(C.NOT_FOUND, bytes(4))
        if ins == I.MATCH:
            one, two = self.char_buffers[1], self.char_buffers[2]
            if one is not None and one == two:
                return self._ack(C.OK, struct.pack(">H", MATCH_SCORE))
            return self._ack(C.NO_MATCH, bytes(2))
        if ins == I.REG_MODEL:
            one, two = self.char_buffers[1], self.char_buffers[2]
            if one is None or one != two:
                return self._ack(C.MERGE_FAILED)
            return self._ack(C.OK)
        if ins == I.STORE:
            buffer_id, page = struct.unpack(">BH", args)
            if page >= self.capacity or buffer_id not in (1, 2):
                return self._ack(C.BAD_LOCATION)
            char = self.char_buffers[buffer_id]
            if char is None:
                return self._ack(C.FLASH_ERROR)
            self.templates[page] = char
            return self._ack(C.OK)
        if ins == I.LOAD_CHAR:
            buffer_id, page = struct.unpack(">BH", args)
            if page >= self.capacity or buffer_id not in (1, 2):
                return self._ack(C.BAD_LOCATION)
            if page not in self.templates:
                return self._ack(C.READ_TEMPLATE_FAILED)
            self.char_buffers[buffer_id] = self.templates[page]
            return self._ack(C.OK)
        if ins == I.UP_CHAR:
            (buffer_id,) = struct.unpack(">B", args)
            if buffer_id not in (1, 2):
                return self._ack(C.PACKET_ERROR)
            char = self.char_buffers[buffer_id]
            if char is None:
                return self._ack(C.UPLOAD_CHAR_FAILED)
            data = p.data_packets(self.address, template_bytes(char), self.packet_size)
            return self._ack(C.OK) + data
        if ins == I.DOWN_CHAR:
            (buffer_id,) = struct.unpack(">B", args)
            if buffer_id not in (1, 2):
                return self._ack(C.PACKET_ERROR)
            self.receiving = (buffer_id, p.DataAssembler(self.address, self.packet_size))
            return self._ack(C.OK)
        if ins == I.DELETE_CHAR:
            page, count = struct.unpack(">HH", args)
            if page + count > self.capacity:
                return self._ack(C.BAD_LOCATION)
            for gone in range(page, page + count):
                self.templates.pop(gone, None)
            return self._ack(C.OK)
        if ins == I.EMPTY:
            self.templates.clear()
            return self._ack(C.OK)
        if ins == I.READ_SYS_PARA:
            params = p.SystemParameters(
                0, 0, self.capacity, 3, self.address, self.packet_size_code, 6
            )
            return self._ack(C.OK, params.encode())
        if ins == I.TEMPLATE_NUM:
            return self._ack(C.OK, struct.pack(">H", len(self.templates)))
        if ins == I.READ_INDEX_TABLE:
            (index_page,) = struct.unpack(">B", args)
            if index_page > 3:
                return self._ack(C.BAD_LOCATION, bytes(32))
            return self._ack(C.OK, p.index_table_bytes(set(self.templates), index_page))
        if ins == I.SET_PWD:
            (self.password,) = struct.unpack(">I", args)
            return self._ack(C.OK)
        if ins == I.SET_ADDER:
            (new_address,) = struct.unpack(">I", args)
            # The module answers the change from its new address.
            self.address = new_address
            return self._ack(C.OK)
        if ins == I.GET_RANDOM_CODE:
            return self._ack(C.OK, struct.pack(">I", self.rng.getrandbits(32)))
        if ins == I.SET_SYS_PARA:
            return self._ack(C.OK)
        # Image transfers are not emulated (the service never handles images).
        return self._ack(C.PACKET_ERROR)


def _atomic_symlink(target: str, link: Path) -> None:
    """Point ``link`` at ``target`` in one step, so a reader never sees it missing."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


class Emulator:
    """The pseudo-terminal, the control channel and the fault pipeline around a ``Module``."""

    def __init__(self, link: Path, templates: int, seed: int = 4) -> None:
        self.link = link
        self.module = Module(templates={i: finger_of_page(i) for i in range(templates)})
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.parser = p.FrameParser()
        self.master: int | None = None
        self.slave: int | None = None
        self.pty_name: str | None = None
        self.dead_ptys: list[tuple[int, int]] = []
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.timer_seq = itertools.count()
        self.epoch = 0  # bumped on unplug/plug so that scheduled writes to an old pty are dropped
        self.last_hit_sent: float | None = None
        self.hits_sent = 0
        self.running = True

    # --- the line -------------------------------------------------------------------------

    def plug(self) -> str:
        """Fresh pseudo-terminal behind the link; the old one (if any) is closed."""
        self._close_pty()
        self._open_pty()
        return f"ok plugged {self.pty_name}"

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        # Raw mode so that no byte of the binary protocol is echoed or translated.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self.slave = master, slave
        self.pty_name = os.ttyname(slave)
        self.parser.reset()
        self.epoch += 1
        self.module.power_cycle()
        # The emulator keeps the slave open too, so the master never sees a hang-up while the
        # client reconnects.
        _atomic_symlink(self.pty_name, self.link)

    def _close_pty(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = None
        self.pty_name = None
        self.epoch += 1

    def unplug(self) -> str:
        """The line goes dead and the link disappears."""
        if self.master is None:
            return "ok already unplugged"
        self._close_pty()
        self._remove_link()
        return "ok unplugged"

    def repoint(self) -> str:
        """Re-point the link at a fresh pty, leaving the old one open but unanswered."""
        if self.master is not None and self.slave is not None:
            self.dead_ptys.append((self.master, self.slave))
        self.master = self.slave = None
        self._open_pty()
        return f"ok repointed {self.pty_name}"

    def _remove_link(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.link.is_symlink():
                self.link.unlink()

    # --- replies --------------------------------------------------------------------------

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self.timer_seq), action))

    def _write(self, data: bytes, epoch: int, hit: bool = False) -> None:
        if epoch != self.epoch or self.master is None:
            return
        with contextlib.suppress(BlockingIOError):
            os.write(self.master, data)
        if hit:
            self.last_hit_sent = time.monotonic()
            self.hits_sent += 1

    def _noise(self) -> bytes:
        # Garbage with stray start bytes and a fake header, the hardest kind to resync after.
        junk = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(3, 12)))
        return junk + b"\xef" + b"\xef\x01\xff\xff\xff\xff\x07\x00"

    def send_reply(self, reply: bytes, hit: bool) -> None:
        """Send ``reply`` through whatever faults are pending."""
        f = self.faults
        if f.silent:
            return
        if f.silence:
            f.silence -= 1
            return
        if f.badsum:
            f.badsum -= 1
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
            hit = False
        if f.short:
            f.short -= 1
            reply = reply[: max(2, len(reply) // 2)]
            hit = False
        if f.stray:
            f.stray -= 1
            other = (self.module.address + 1) & 0xFFFFFFFF
            reply = p.ack(other, C.OK, struct.pack(">HH", 0, MATCH_SCORE)) + reply
        if f.noise:
            f.noise -= 1
            reply = self._noise() + reply
        delay = 0.0
        if f.delay:
            f.delay -= 1
            delay = f.delay_ms / 1000
        epoch = self.epoch
        if f.split:
            f.split -= 1
            cuts = sorted(self.rng.sample(range(1, len(reply)), min(3, len(reply) - 1)))
            pieces = [reply[a:b] for a, b in zip([0, *cuts], [*cuts, len(reply)], strict=True)]
            for n, piece in enumerate(pieces):
                last = n == len(pieces) - 1
                self._schedule(
                    delay + 0.015 * n,
                    lambda piece=piece, last=last: self._write(piece, epoch, hit and last),
                )
            return
        if delay:
            self._schedule(delay, lambda: self._write(reply, epoch, hit))
        else:
            self._write(reply, epoch, hit)

    def on_serial(self) -> None:
        """Handle bytes the host wrote."""
        assert self.master is not None
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:
            return
        for event in self.parser.feed(data):
            if isinstance(event, p.CorruptFrame):
                if int.from_bytes(event.raw[2:6], "big") == self.module.address:
                    self.send_reply(self.module.corrupt(), False)
                continue
            reply = self.module.handle(event)
            if reply is not None:
                hit = (
                    event.pid == p.PacketId.COMMAND
                    and event.payload[0] == I.SEARCH
                    and reply[9] == C.OK
                )
                self.send_reply(reply, hit)

    # --- control --------------------------------------------------------------------------

    def control(self, line: str) -> str:
        """Execute one control line; the answer is one line."""
        words = line.split()
        if not words:
            return "error empty command; try help"
        cmd, args = words[0].lower(), words[1:]
        try:
            return self._control(cmd, args)
        except (ValueError, IndexError) as exc:
            return f"error {cmd}: {exc}"

    def _count(self, args: list[str], at: int = 0) -> int:
        n = int(args[at]) if len(args) > at else 1
        if n < 0:
            raise ValueError("count must not be negative")
        return n

    def _control(self, cmd: str, args: list[str]) -> str:
        m, f = self.module, self.faults
        if cmd == "help":
            return "ok " + HELP
        if cmd == "press":
            target = args[0]
            if target == "unknown":
                m.finger = UNKNOWN_FINGER
            else:
                page = int(target)
                if not 0 <= page < m.capacity:
                    raise ValueError(f"page must be 0..{m.capacity - 1}")
                # An empty page behaves as a finger no template matches (its own finger).
                m.finger = m.templates.get(page, finger_of_page(page))
            return f"ok finger on sensor ({target})"
        if cmd == "release":
            m.finger = None
            return "ok no finger"
        if cmd == "unplug":
            return self.unplug()
        if cmd == "plug":
            return self.plug()
        if cmd == "repoint":
            return self.repoint()
        if cmd in ("noise", "badsum", "split", "short", "stray", "silence"):
            setattr(f, cmd, self._count(args))
            return f"ok {cmd} on the next {getattr(f, cmd)} replies"
        if cmd == "delay":
            f.delay_ms = int(args[0])
            if f.delay_ms < 0:
                raise ValueError("delay must not be negative")
            f.delay = self._count(args, 1)
            return f"ok next {f.delay} replies delayed by {f.delay_ms} ms"
        if cmd == "silent":
            if args[0] not in ("on", "off"):
                raise ValueError("say on or off")
            f.silent = args[0] == "on"
            return f"ok silent {args[0]}"
        if cmd == "address":
            value = int(args[0], 16)
            if not 0 <= value <= 0xFFFFFFFF:
                raise ValueError("address is 8 hex digits")
            m.address = value
            return f"ok address {value:08X}"
        if cmd == "password":
            value = int(args[0], 0)
            if not 0 <= value <= 0xFFFFFFFF:
                raise ValueError("password is 0..4294967295")
            m.password = value
            m.verified = False  # as after a power cycle with the new password in flash
            return f"ok password {value}"
        if cmd == "clear":
            f.clear()
            return "ok faults cleared"
        if cmd == "status":
            return "ok " + json.dumps(self.status(), separators=(",", ":"))
        if cmd == "quit":
            self.running = False
            return "ok bye"
        return f"error unknown command {cmd!r}; try help"

    def status(self) -> dict[str, object]:
        """What the emulator holds, for tests and benchmarks."""
        m = self.module
        return {
            "link": str(self.link),
            "pty": self.pty_name,
            "plugged": self.master is not None,
            "finger": m.finger,
            "templates": sorted(m.templates),
            "fingers": {str(page): m.templates[page] for page in sorted(m.templates)},
            "transfers_refused": m.transfers_refused,
            "address": f"{m.address:08X}",
            "password_set": m.password != p.DEFAULT_PASSWORD,
            "gen_img": m.gen_img_count,
            "commands": m.command_count,
            "last_instruction": m.last_instruction,
            "searches": m.searches,
            "hits_sent": self.hits_sent,
            "faults_pending": self.faults.pending(),
            "last_hit_sent": self.last_hit_sent,
        }

    # --- main loop ------------------------------------------------------------------------

    def run(self, stdin: int, stdout: Callable[[str], None]) -> None:
        """Serve the line and the control channel until ``quit`` or end of input."""
        pending = b""
        while self.running:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, action = heapq.heappop(self.timers)
                action()
            timeout = max(0.0, self.timers[0][0] - now) if self.timers else None
            fds = [stdin] + ([self.master] if self.master is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except InterruptedError:
                continue
            if self.master is not None and self.master in ready:
                self.on_serial()
            if stdin in ready:
                chunk = os.read(stdin, 4096)
                if not chunk:
                    break
                pending += chunk
                while b"\n" in pending and self.running:
                    line, pending = pending.split(b"\n", 1)
                    stdout(self.control(line.decode("utf-8", "replace")))

    def close(self) -> None:
        """Close every pty and remove the link if it still points at one of ours."""
        self._close_pty()
        for master, slave in self.dead_ptys:
            for fd in (master, slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._remove_link()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m devices.emulator", description=__doc__)
    parser.add_argument("--link", required=True, type=Path, help="symlink to point at the pty")
    parser.add_argument("--templates", type=int, default=0, help="templates on pages 0..N-1")
    args = parser.parse_args(argv)
    if not 0 <= args.templates <= CAPACITY:
        parser.error(f"--templates must be 0..{CAPACITY}")
    if args.link.exists() and not args.link.is_symlink():
        parser.error(f"{args.link} exists and is not a symlink; refusing to replace it")
    emulator = Emulator(args.link, args.templates)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)

    def answer(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:
        emulator.plug()
        emulator.run(sys.stdin.fileno(), answer)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.close()
    return 0


class EmulatorProcess:
    """Run the emulator as a subprocess and talk to its control channel."""

    def __init__(self, link: Path | str, templates: int = 0, python: str | None = None) -> None:
        self.link = Path(link)
        self.proc = subprocess.Popen(
            [python or sys.executable, "-m", "devices.emulator", "--link", str(self.link)]
            + ["--templates", str(templates)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=Path(__file__).resolve().parent.parent,
        )
        self.status()  # answered only once the pty and the link exist

    def send(self, line: str) -> str:
        """Send one control line and return its one-line answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"emulator exited (status {self.proc.poll()})")
        return answer.rstrip("\n")

    def ok(self, line: str) -> str:
        """Send a control line that must succeed."""
        answer = self.send(line)
        if not answer.startswith("ok"):
            raise RuntimeError(f"emulator refused {line!r}: {answer}")
        return answer

    def status(self) -> dict[str, Any]:
        """The emulator's status as a dict."""
        return json.loads(self.ok("status")[3:])

    def close(self) -> None:
        """Quit the emulator and wait for it."""
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, RuntimeError):
                self.send("quit")
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    raise SystemExit(main())
