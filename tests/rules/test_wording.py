"""Periods as people say them, and reader faults in plain words (table tests)."""

from __future__ import annotations

import pytest

from kiosk.rules.wording import DEVICE_FAULTS, device_fault, period_label, schedule_label


@pytest.mark.parametrize(
    ("code", "language", "expected"),
    [
        ("2026-B5", "zh", "2026年第5期（9—10月）"),
        ("2026-B1", "zh", "2026年第1期（1—2月）"),
        ("2026-B6", "zh_Hans_CN", "2026年第6期（11—12月）"),
        (" 2027-B3 ", "zh", "2027年第3期（5—6月）"),
        ("2026-B5", "en", "2026 period 5 (Sep–Oct)"),
        ("2026-B1", "en", "2026 period 1 (Jan–Feb)"),
        ("2026-B6", "en_US", "2026 period 6 (Nov–Dec)"),
        ("2026-B7", "zh", "2026-B7"),  # not a period: shown as it is
        ("", "zh", ""),
    ],
)
def test_period_label(code: str, language: str, expected: str) -> None:
    assert period_label(code, language) == expected


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (None, None),
        ("", None),
        (
            "cannot open /dev/ttyUSB0: [Errno 2] No such file or directory: '/dev/ttyUSB0'",
            "not_connected",
        ),
        ("read failed: EIO", "not_connected"),
        ("[Errno 5] Input/output error", "not_connected"),
        ("port reports readiness but returned no data (disconnected)", "not_connected"),
        ("/tmp/reader now leads to another device or nowhere", "not_connected"),
        ("port not open", "not_connected"),
        ("[Errno 16] Device or resource busy: '/dev/ttyUSB0'", "busy"),
        ("no reply within the deadline to 0x01", "no_response"),
        ("no reply within the deadline to 0x01 (3 times); reconnecting", "no_response"),
        (
            "handshake failed: no reply (module silent: wrong address FFFFFFFF, baud or wiring?)",
            "no_response",
        ),
        ("reply had a bad checksum", "checksum"),
        ("not exactly one frame: ef 01", "protocol"),
        ("listener stopped", "stopped"),
        ("something nobody foresaw", "unknown"),
    ],
)
def test_device_fault(error: str | None, kind: str | None) -> None:
    assert device_fault(error) == kind
    assert kind is None or kind in DEVICE_FAULTS


@pytest.mark.parametrize(
    ("name", "language", "expected"),
    [
        ("winter", "zh", "冬季作息"),
        ("Summer", "zh", "夏季作息"),
        ("winter", "en", "Winter hours"),
        ("冬季作息", "zh", "冬季作息"),
        ("冬季", "zh", "冬季作息"),
        ("夏令时间", "zh", "夏令时间"),
        ("冬季", "en", "冬季"),
    ],
)
def test_schedule_label(name: str, language: str, expected: str) -> None:
    assert schedule_label(name, language) == expected
