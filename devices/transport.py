"""Serial transport for EF01 modules: one command, one reply, each within a deadline.

The port path is opened exactly as given: if it is a symlink we do not resolve it, so when
the link is re-pointed (a USB adapter re-enumerated, an emulator re-plugged) the next
``open`` follows it. ``link_changed`` tells whether the path now names another device than
the one we hold open.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import time
from dataclasses import dataclass

import serial

from devices import protocol as p


class TransportError(Exception):
    """Base class of line failures."""


class LinkDown(TransportError):
    """The port is gone or dead (unplugged, removed, I/O error): reconnect."""


class ReplyTimeout(TransportError):
    """No valid reply before the deadline (silent module, wrong address, lost bytes)."""


class ChecksumError(ReplyTimeout):
    """Only corrupt replies arrived before the deadline."""


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds; tests shorten them."""

    reply: float = 1.0  # ordinary command
    corrupt_grace: float = 0.05  # after a corrupt frame, how long a valid one may still come


class SerialTransport:
    """A pyserial port speaking EF01 to one module address."""

    def __init__(
        self,
        port: str,
        baud: int = p.DEFAULT_BAUD,
        address: int = p.DEFAULT_ADDRESS,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.port = port
        self.baud = baud
        self.address = address
        self.timeouts = timeouts or Timeouts()
        self.parser = p.FrameParser()
        self.serial: serial.Serial | None = None
        self._fd = -1  # the open port's descriptor: the hot path reads and writes it directly
        self._identity: tuple[int, int] | None = None
        self.corrupt_seen = 0
        self.foreign_seen = 0

    # --- connection -----------------------------------------------------------------------

    def open(self) -> None:
        """Open the port path as given; raises ``LinkDown`` when it cannot be opened."""
        self.close()
        try:
            # exclusive: a second program on the same reader (an enrolment while the listener
            # runs) would steal replies; refuse it instead.
            port = serial.Serial(self.port, self.baud, timeout=0, exclusive=True)
            fd = port.fileno()
            st = os.fstat(fd)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkDown(f"cannot open {self.port}: {exc}") from exc
        self.serial = port
        self._fd = fd
        self._identity = (st.st_rdev, st.st_ino)
        self.parser.reset()

    def close(self) -> None:
        """Close the port if open."""
        if self.serial is not None:
            with contextlib.suppress(Exception):
                self.serial.close()
        self.serial = None
        self._fd = -1
        self._identity = None

    @property
    def is_open(self) -> bool:
        """Whether a port is held."""
        return self.serial is not None

    def link_changed(self) -> bool:
        """Whether the path now leads elsewhere than the device we hold (or nowhere)."""
        if self._identity is None:
            return True
        try:
            st = os.stat(self.port)
        except OSError:
            return True
        return (st.st_rdev, st.st_ino) != self._identity

    # --- exchange -------------------------------------------------------------------------

    def command(self, packet: bytes, timeout: float | None = None) -> p.Frame:
        """Send one command packet and return the module's matching reply frame.

        Input pending before the command is discarded: it can only be a late reply to an
        earlier command. A reply is accepted only from our address, as an ack, with the
        payload length this instruction's reply has, so that a stray frame is never taken
        for the answer.

        Written for the usual exchange, an idle reader's GenImg ten times a second whose
        code is cold each time (every call saved shows in the listener's CPU): a read that
        finds nothing to flush, one write, then select and read until the reply is whole.
        Pending input and a line slow to take the packet go the long way.
        """
        fd = self._fd
        if fd < 0:
            raise LinkDown("port not open")
        instruction = packet[p.HEADER_LEN]
        expected_len = p.REPLY_LENGTHS.get(instruction)
        self._send(fd, packet)
        deadline = time.monotonic() + (self.timeouts.reply if timeout is None else timeout)
        corrupt = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if corrupt:
                    raise ChecksumError("reply had a bad checksum")
                raise ReplyTimeout(f"no reply within the deadline to 0x{instruction:02X}")
            try:
                ready = select.select([fd], [], [], remaining)[0]
            except (OSError, ValueError) as exc:
                raise LinkDown(str(exc)) from exc
            if not ready:
                continue  # the deadline has passed: said above
            for event in self.parser.feed(self._read_ready(fd)):
                if isinstance(event, p.CorruptFrame):
                    self.corrupt_seen += 1
                    if not corrupt:
                        corrupt = True
                        deadline = min(deadline, time.monotonic() + self.timeouts.corrupt_grace)
                    continue
                if (
                    event.address != self.address
                    or event.pid != p.PacketId.ACK
                    or (expected_len is not None and len(event.payload) != expected_len)
                ):
                    self.foreign_seen += 1
                    continue
                return event

    def command_data(
        self, packet: bytes, packet_size: int, timeout: float | None = None
    ) -> tuple[int, bytes]:
        """Send a command whose OK ack the module follows with a data transfer (UpChar);
        return the confirmation code and the bytes of the transfer (none unless OK).

        The whole transfer has one deadline. A data packet with a bad checksum, from another
        address or out of order breaks it (``ChecksumError`` / ``ReplyTimeout``): the
        template is refused whole, never patched up from what did arrive.
        """
        if self.serial is None:
            raise LinkDown("port not open")
        instruction = packet[p.HEADER_LEN]
        self._send(self._fd, packet)
        deadline = time.monotonic() + (self.timeouts.reply if timeout is None else timeout)
        assembler: p.DataAssembler | None = None
        code = 0
        corrupt_until: float | None = None  # before the ack: noise may look like a packet
        while True:
            now = time.monotonic()
            if assembler is None and corrupt_until is not None and now > corrupt_until:
                raise ChecksumError("reply had a bad checksum")
            remaining = deadline - now
            if remaining <= 0:
                raise ReplyTimeout(
                    f"no complete reply within the deadline to 0x{instruction:02X}"
                    + (f" ({len(assembler.data)} data bytes came)" if assembler else "")
                )
            for event in self.parser.feed(self._read(remaining)):
                if assembler is None:
                    if isinstance(event, p.CorruptFrame):
                        # As for any reply: the real ack may still follow (noise before it
                        # that looked like a header), within the grace.
                        self.corrupt_seen += 1
                        if corrupt_until is None:
                            corrupt_until = time.monotonic() + self.timeouts.corrupt_grace
                        continue
                    if (
                        event.address != self.address
                        or event.pid != p.PacketId.ACK
                        or len(event.payload) != 1
                    ):
                        self.foreign_seen += 1
                        continue
                    code = event.payload[0]
                    if code != p.Confirmation.OK:
                        return code, b""
                    assembler = p.DataAssembler(self.address, packet_size)
                    continue
                try:
                    done = assembler.add(event)
                except p.ProtocolError as exc:
                    if isinstance(event, p.CorruptFrame):
                        self.corrupt_seen += 1
                        raise ChecksumError(str(exc)) from exc
                    raise ReplyTimeout(f"data transfer broken: {exc}") from exc
                if done:
                    self.parser.reset()
                    return code, assembler.data

    def send(self, data: bytes) -> None:
        """Write bytes that get no reply of their own (the data packets after DownChar)."""
        if self.serial is None:
            raise LinkDown("port not open")
        self._write(data)
        try:
            self.serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkDown(f"write failed: {exc}") from exc

    def ack_code(self, packet: bytes, timeout: float | None = None) -> tuple[int, bytes]:
        """Send a command; return its confirmation code and the data after it."""
        frame = self.command(packet, timeout)
        return frame.payload[0], frame.payload[1:]

    def _send(self, fd: int, packet: bytes) -> None:
        """Discard pending input, then write ``packet``: usually one read that finds
        nothing and one write that takes it all; else the general ways below."""
        try:
            stale = os.read(fd, 4096)
        except BlockingIOError:
            stale = b""
        except OSError as exc:
            raise LinkDown(f"read failed: {errno.errorcode.get(exc.errno or 0, exc)}") from exc
        if stale:
            self._flush_input()  # more may be on its way: drain it, within a bound
        self.parser.reset()
        try:
            written = os.write(fd, packet)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            raise LinkDown(f"write failed: {exc}") from exc
        if written < len(packet):
            self._write(packet[written:])

    def _flush_input(self) -> None:
        assert self.serial is not None
        # A plain read, no select first: this runs before every command, ten times a second
        # per idle reader, and the port is non-blocking (it answers "nothing" at once). Empty
        # says nothing pending; a dead line shows in the select for the reply that follows.
        # Bounded: a line streaming garbage without pause must not keep us here forever.
        ends: float | None = None
        while True:
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                break
            except OSError as exc:
                raise LinkDown(f"read failed: {errno.errorcode.get(exc.errno or 0, exc)}") from exc
            if not data:
                break
            now = time.monotonic()
            ends = ends or now + self.timeouts.reply
            if now >= ends:
                break
        self.parser.reset()

    def _write(self, data: bytes) -> None:
        """Write all of ``data`` to the port.

        Straight to the descriptor, not through pyserial's ``write``, which follows every
        write with a select for writability: a command packet is a few bytes that the line
        takes at once, and this runs ten times a second per reader. Only when the output
        buffer is full (a template at a low baud rate) does it wait until the line drains,
        within the reply deadline.
        """
        assert self.serial is not None
        pending = memoryview(data)
        deadline: float | None = None
        while pending:
            try:
                pending = pending[os.write(self._fd, pending) :]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                raise LinkDown(f"write failed: {exc}") from exc
            now = time.monotonic()
            deadline = deadline or now + self.timeouts.reply
            if now >= deadline:
                raise ReplyTimeout(f"the line took no output within {self.timeouts.reply:g} s")
            try:
                select.select([], [self._fd], [], deadline - now)
            except (OSError, ValueError) as exc:
                raise LinkDown(str(exc)) from exc

    def _read(self, timeout: float) -> bytes:
        assert self.serial is not None
        fd = self._fd
        try:
            ready, _, _ = select.select([fd], [], [], timeout)
        except (OSError, ValueError) as exc:
            raise LinkDown(str(exc)) from exc
        if not ready:
            return b""
        return self._read_ready(fd)

    def _read_ready(self, fd: int) -> bytes:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            # EIO is what a pty slave gives once its master is gone: the line is dead.
            raise LinkDown(f"read failed: {errno.errorcode.get(exc.errno or 0, exc)}") from exc
        if not data:
            raise LinkDown("port reports readiness but returned no data (disconnected)")
        return data

    def __enter__(self) -> SerialTransport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
