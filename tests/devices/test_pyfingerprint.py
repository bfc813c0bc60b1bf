"""A third-party EF01 client (pyfingerprint 1.5) talks to the emulator unchanged."""

from __future__ import annotations

from pathlib import Path

from pyfingerprint.pyfingerprint import PyFingerprint

from devices.emulator import EmulatorProcess


def test_pyfingerprint_identify_and_enroll(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "fp", templates=3) as emu:
        sensor = PyFingerprint(str(emu.link), 57600, 0xFFFFFFFF, 0x00000000)
        assert sensor.verifyPassword()
        assert sensor.getStorageCapacity() == 300
        assert sensor.getTemplateCount() == 3
        assert sensor.readImage() is False  # no finger yet

        emu.ok("press 1")
        assert sensor.readImage() is True
        sensor.convertImage(0x01)
        assert sensor.searchTemplate() == (1, 150)

        # Enrol the unknown finger the way pyfingerprint's own example does.
        emu.ok("press unknown")
        assert sensor.readImage()
        sensor.convertImage(0x01)
        assert sensor.searchTemplate() == (-1, -1)
        emu.ok("release")
        assert sensor.readImage() is False
        emu.ok("press unknown")
        assert sensor.readImage()
        sensor.convertImage(0x02)
        assert sensor.compareCharacteristics() > 0
        assert sensor.createTemplate()
        position = sensor.storeTemplate()
        assert position == 3
        assert sensor.getTemplateCount() == 4
        assert sensor.getTemplateIndex(0)[:5] == [True, True, True, True, False]

        assert sensor.readImage()
        sensor.convertImage(0x01)
        assert sensor.searchTemplate() == (3, 150)
        assert sensor.loadTemplate(3, 0x02)
        assert sensor.deleteTemplate(0)
        assert sensor.getTemplateCount() == 3
        assert emu.status()["templates"] == [1, 2, 3]


def test_pyfingerprint_sees_wrong_password(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "fp", templates=1) as emu:
        emu.ok("password 99")
        assert PyFingerprint(str(emu.link), 57600, 0xFFFFFFFF, 1).verifyPassword() is False
        assert PyFingerprint(str(emu.link), 57600, 0xFFFFFFFF, 99).verifyPassword() is True
