"""The listener against the emulator on a real pseudo-terminal, fault by fault."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.emulator import EmulatorProcess
from devices.listener import CONNECTED, DISCONNECTED, ERROR, DeviceSpec, Listener, MemorySink
from tests.devices.helpers import FAST, wait_for


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def listener(emu: EmulatorProcess, sink: MemorySink) -> Iterator[Listener]:
    with Listener([DeviceSpec("door", str(emu.link))], sink, FAST) as running:
        wait_for(lambda: running.workers[0].state == CONNECTED, what="connected")
        yield running


def press(emu: EmulatorProcess, listener: Listener, sink: MemorySink, target: str) -> None:
    """One whole press: finger on, wait for the listener to act on it, finger off, wait for
    the listener to see the sensor empty."""
    worker = listener.workers[0]
    before = len(sink.matches) + len(sink.misses)
    emu.ok(f"press {target}")
    wait_for(lambda: len(sink.matches) + len(sink.misses) > before, what=f"press {target}")
    emu.ok("release")
    wait_for(lambda: not worker.finger_down, what="release seen")


def pages(sink: MemorySink) -> list[int]:
    return [m.page for m in sink.matches]


def test_press_gives_exactly_one_match_with_host_time(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink
) -> None:
    before = time.time()
    press(emu, listener, sink, "2")
    # Keep a finger on the sensor for many polls: still one match per press.
    emu.ok("press 3")
    wait_for(lambda: len(sink.matches) == 2)
    gen_img = emu.status()["gen_img"]
    wait_for(lambda: emu.status()["gen_img"] > gen_img + 10, what="polls with finger held")
    emu.ok("release")
    wait_for(lambda: not listener.workers[0].finger_down)
    press(emu, listener, sink, "2")
    assert pages(sink) == [2, 3, 2]
    assert all(before <= m.at.timestamp() <= time.time() for m in sink.matches)
    assert sink.matches[0].at.tzinfo is not None
    assert sink.misses == []


def test_unknown_finger_is_a_miss_once_per_press(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink
) -> None:
    press(emu, listener, sink, "unknown")
    press(emu, listener, sink, "200")  # an empty page behaves as an unknown finger
    assert len(sink.misses) == 2 and sink.matches == []


FAULTS = ["noise 6", "badsum 3", "split 6", "short 2", "stray 4", "delay 60 6", "silence 3"]


def faults_used_up(emu: EmulatorProcess) -> bool:
    return emu.status()["faults_pending"] == 0


@pytest.mark.parametrize("fault", [*FAULTS, "delay 400 2"])
def test_faults_before_and_during_a_press_lose_nothing_and_double_nothing(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink, fault: str
) -> None:
    for page in (0, 1, 4):
        emu.ok(fault)
        press(emu, listener, sink, str(page))
    # The same fault while a finger is held must not produce a second match.
    emu.ok("press 2")
    wait_for(lambda: len(sink.matches) == 4)
    emu.ok(fault)
    wait_for(lambda: faults_used_up(emu), what=f"{fault} used up")
    gen_img = emu.status()["gen_img"]
    wait_for(lambda: emu.status()["gen_img"] > gen_img + 3, what="polls after the fault")
    emu.ok("release")
    wait_for(lambda: not listener.workers[0].finger_down)
    assert pages(sink) == [0, 1, 4, 2]
    assert sink.misses == []
    wait_for(lambda: listener.workers[0].state == CONNECTED)


def test_every_fault_in_a_row_on_a_held_finger(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink
) -> None:
    emu.ok("press 1")
    wait_for(lambda: len(sink.matches) == 1)
    for fault in FAULTS:
        emu.ok(fault)
    wait_for(lambda: faults_used_up(emu), timeout=10, what="faults used up")
    emu.ok("release")
    wait_for(lambda: not listener.workers[0].finger_down)
    press(emu, listener, sink, "3")
    assert pages(sink) == [1, 3]


def test_silent_module_is_reported_and_recovers(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink
) -> None:
    emu.ok("silent on")
    wait_for(lambda: sink.last_status("door") and sink.last_status("door").state == ERROR)
    assert "no reply" in (sink.last_status("door").last_error or "")
    emu.ok("silent off")
    wait_for(lambda: listener.workers[0].state == CONNECTED, what="back")
    press(emu, listener, sink, "3")
    assert pages(sink) == [3]


def test_unplug_and_plug(emu: EmulatorProcess, listener: Listener, sink: MemorySink) -> None:
    press(emu, listener, sink, "0")
    emu.ok("unplug")
    assert not os.path.lexists(emu.link)
    wait_for(lambda: listener.workers[0].state == DISCONNECTED, what="disconnected")
    emu.ok("plug")
    wait_for(lambda: listener.workers[0].state == CONNECTED, what="reconnected")
    press(emu, listener, sink, "1")
    assert pages(sink) == [0, 1]


def test_unplug_while_finger_held_does_not_double(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink
) -> None:
    emu.ok("press 2")
    wait_for(lambda: len(sink.matches) == 1)
    reconnects = listener.workers[0].reconnects
    emu.ok("unplug")
    emu.ok("plug")
    wait_for(lambda: listener.workers[0].reconnects > reconnects, what="reconnected")
    gen_img = emu.status()["gen_img"]
    wait_for(lambda: emu.status()["gen_img"] > gen_img + 5, what="polls after replug")
    emu.ok("release")
    wait_for(lambda: not listener.workers[0].finger_down)
    press(emu, listener, sink, "2")
    assert pages(sink) == [2, 2]


def test_repointed_symlink_is_followed(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink
) -> None:
    press(emu, listener, sink, "0")
    old = os.readlink(emu.link)
    reconnects = listener.workers[0].reconnects
    emu.ok("repoint")  # the old pty stays open but is no longer served
    assert os.readlink(emu.link) != old
    wait_for(lambda: listener.workers[0].reconnects > reconnects, what="followed the link")
    press(emu, listener, sink, "1")
    assert pages(sink) == [0, 1]


def test_wrong_address_then_right(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink
) -> None:
    emu.ok("address 12345678")
    emu.ok("press 1")
    wait_for(lambda: listener.workers[0].state == ERROR, what="error state")
    time.sleep(0.3)
    assert sink.matches == []
    assert "wrong address" in (listener.workers[0].last_error or "") or "no reply" in (
        listener.workers[0].last_error or ""
    )
    emu.ok("address FFFFFFFF")
    wait_for(lambda: len(sink.matches) == 1, what="match after address fixed")
    emu.ok("release")
    wait_for(lambda: not listener.workers[0].finger_down)
    assert pages(sink) == [1]


def test_listener_with_the_device_address(tmp_path: Path, sink: MemorySink) -> None:
    with EmulatorProcess(tmp_path / "fpA", templates=3) as emu:
        emu.ok("address 0000ABCD")
        spec = DeviceSpec("a", str(emu.link), address=0xABCD)
        with Listener([spec], sink, FAST) as running:
            wait_for(lambda: running.workers[0].state == CONNECTED)
            press(emu, running, sink, "2")
    assert pages(sink) == [2]


def test_password(tmp_path: Path, sink: MemorySink) -> None:
    with EmulatorProcess(tmp_path / "fpP", templates=3) as emu:
        emu.ok("password 4321")
        wrong = Listener([DeviceSpec("p", str(emu.link), password=1)], sink, FAST)
        with wrong:
            wait_for(lambda: wrong.workers[0].state == ERROR)
            assert "口令不正确" in (wrong.workers[0].last_error or "")
        right = Listener([DeviceSpec("p", str(emu.link), password=4321)], sink, FAST)
        with right:
            wait_for(lambda: right.workers[0].state == CONNECTED)
            press(emu, right, sink, "1")
            # The module forgets the handshake (as after a power cycle): the listener must
            # verify again and keep going.
            emu.ok("password 4321")
            press(emu, right, sink, "2")
    assert pages(sink) == [1, 2]


def test_sink_failure_is_retried_not_lost(
    emu: EmulatorProcess, listener: Listener, sink: MemorySink
) -> None:
    sink.fail_next = 3
    press(emu, listener, sink, "4")
    assert pages(sink) == [4]


def test_stop_is_clean(emu: EmulatorProcess, sink: MemorySink) -> None:
    running = Listener([DeviceSpec("door", str(emu.link))], sink, FAST)
    running.start()
    wait_for(lambda: running.workers[0].state == CONNECTED)
    started = time.monotonic()
    running.stop()
    assert time.monotonic() - started < 1
    assert not running.threads[0].is_alive()
    assert sink.last_status("door").state == DISCONNECTED
