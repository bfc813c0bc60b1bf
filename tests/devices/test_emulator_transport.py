"""The emulator's control channel and the transport's deadlines, directly."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devices import protocol as p
from devices.client import ModuleClient
from devices.emulator import EmulatorProcess
from devices.transport import ChecksumError, LinkDown, ReplyTimeout, SerialTransport, Timeouts

ROOT = Path(__file__).resolve().parents[2]
QUICK = Timeouts(reply=0.2, corrupt_grace=0.03)


def test_control_lines_each_get_one_answer(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "fp", templates=2) as emu:
        assert emu.send("help").startswith("ok ")
        for fault in (
            "noise",
            "badsum",
            "split",
            "delay",
            "silence",
            "address",
            "password",
            "repoint",
        ):
            assert fault in emu.send("help")
        assert emu.send("frobnicate").startswith("error unknown command")
        assert emu.send("").startswith("error")
        assert emu.send("press 300").startswith("error press")
        assert emu.send("press x").startswith("error press")
        assert emu.send("address XYZ").startswith("error address")
        assert emu.send("delay -5").startswith("error delay")
        assert emu.send("silent maybe").startswith("error silent")
        assert emu.status()["templates"] == [0, 1]


def test_unplug_plug_keeps_templates_and_removes_the_link(tmp_path: Path) -> None:
    link = tmp_path / "fp"
    with EmulatorProcess(link, templates=3) as emu:
        first = os.readlink(link)
        with SerialTransport(str(link), timeouts=QUICK) as transport:
            client = ModuleClient(transport)
            client.handshake()
            assert client.store(7, 1) == p.Confirmation.FLASH_ERROR  # empty CharBuffer
            emu.ok("unplug")
            assert not os.path.lexists(link)
            with pytest.raises(LinkDown):
                client.template_count()
        emu.ok("plug")
        assert os.path.islink(link)
        with SerialTransport(str(link), timeouts=QUICK) as transport:
            assert ModuleClient(transport).template_count() == 3
        assert first  # a pty path, e.g. /dev/pts/N


def test_end_of_input_ends_the_emulator_and_removes_the_link(tmp_path: Path) -> None:
    link = tmp_path / "fp"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devices.emulator", "--link", str(link)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("status\n")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith("ok {")
    assert os.path.islink(link)
    proc.stdin.close()
    assert proc.wait(timeout=5) == 0
    proc.stdout.close()
    assert not os.path.lexists(link)


def test_refuses_to_replace_a_regular_file(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    result = subprocess.run(
        [sys.executable, "-m", "devices.emulator", "--link", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input="",
        timeout=10,
    )
    assert result.returncode == 2 and "not a symlink" in result.stderr
    assert target.read_text() == "keep me"


def test_transport_deadlines_and_faults(tmp_path: Path) -> None:
    with (
        EmulatorProcess(tmp_path / "fp", templates=1) as emu,
        SerialTransport(str(emu.link), timeouts=QUICK) as transport,
    ):
        client = ModuleClient(transport)
        client.handshake()
        emu.ok("silence 1")
        started = time.monotonic()
        with pytest.raises(ReplyTimeout):
            client.capture()
        assert 0.15 < time.monotonic() - started < 1.0
        emu.ok("badsum 1")
        started = time.monotonic()
        with pytest.raises(ChecksumError):
            client.capture()
        assert time.monotonic() - started < 0.15  # no need to wait the whole deadline
        emu.ok("stray 1")
        emu.ok("noise 1")
        emu.ok("split 1")
        assert client.capture() == p.Confirmation.NO_FINGER
        assert transport.foreign_seen >= 1
        # A reply too late for its command is not taken for the next command's.
        emu.ok("delay 300 1")
        emu.ok("press 0")
        with pytest.raises(ReplyTimeout):
            client.search()
        time.sleep(0.2)
        assert client.capture() == p.Confirmation.OK
        emu.ok("address 00000001")
        with pytest.raises(ReplyTimeout):
            client.capture()
        emu.ok("address FFFFFFFF")
        assert client.capture() == p.Confirmation.OK


def test_transport_follows_a_repointed_link(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "fp", templates=1) as emu:
        transport = SerialTransport(str(emu.link), timeouts=QUICK)
        transport.open()
        assert not transport.link_changed()
        emu.ok("repoint")
        assert transport.link_changed()
        transport.open()  # the path as given, now leading to the new pty
        assert not transport.link_changed()
        assert ModuleClient(transport).template_count() == 1
        transport.close()


def test_port_is_exclusive(tmp_path: Path) -> None:
    with (
        EmulatorProcess(tmp_path / "fp") as emu,
        SerialTransport(str(emu.link)),
        pytest.raises(LinkDown, match="cannot open"),
    ):
        SerialTransport(str(emu.link)).open()


def test_missing_port(tmp_path: Path) -> None:
    with pytest.raises(LinkDown, match="cannot open"):
        SerialTransport(str(tmp_path / "nothing")).open()


def test_a_line_that_takes_no_output_is_a_timeout_not_a_hang() -> None:
    # A pty whose other end never reads: once its buffer is full the line takes nothing
    # more, as a serial line held by flow control. The transport writes to the port itself
    # (not through pyserial, which waits for such a line for ever) and gives up within
    # the reply deadline; the worker then counts a failure and reconnects.
    master, slave = os.openpty()
    transport = SerialTransport(os.ttyname(slave), timeouts=QUICK)
    outcome: list[BaseException | None] = []
    try:
        transport.open()

        def send() -> None:
            try:
                transport.send(b"\x00" * 1_000_000)
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                outcome.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(10 * QUICK.reply + 5)
        if sender.is_alive():
            assert transport.serial is not None
            transport.serial.cancel_write()  # pyserial's own wait; let the thread end
            sender.join(5)
        assert outcome and isinstance(outcome[0], ReplyTimeout), outcome
        # The port still works for what the line does take.
        while os.read(master, 65536):
            if not select.select([master], [], [], 0)[0]:
                break
        transport.send(b"\x01")
        assert os.read(master, 16) == b"\x01"
    finally:
        transport.close()
        os.close(master)
        os.close(slave)
