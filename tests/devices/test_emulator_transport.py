"""The emulator's control channel and the transport's deadlines, directly."""

from __future__ import annotations

import os
import subprocess
import sys
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
