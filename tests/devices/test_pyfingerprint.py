"""A third-party EF01 client (pyfingerprint 1.5) talks to the emulator unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfingerprint.pyfingerprint import PyFingerprint

from devices.client import ModuleClient
from devices.emulator import EmulatorProcess, template_bytes
from devices.transport import SerialTransport


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


def test_pyfingerprint_moves_a_template_between_two_readers(tmp_path: Path) -> None:
    """UpChar (pyfingerprint's downloadCharacteristics), DownChar (its uploadCharacteristics,
    which reads the buffer back to check it), Store and DeleteChar, on two emulated readers."""
    with (
        EmulatorProcess(tmp_path / "a", templates=3) as a,
        EmulatorProcess(tmp_path / "b", templates=0) as b,
    ):
        source = PyFingerprint(str(a.link), 57600, 0xFFFFFFFF, 0x00000000)
        target = PyFingerprint(str(b.link), 57600, 0xFFFFFFFF, 0x00000000)
        assert source.getMaxPacketSize() == 128
        assert source.loadTemplate(2, 0x01)
        characteristics = source.downloadCharacteristics(0x01)
        assert len(characteristics) == 512
        assert bytes(characteristics) == template_bytes("finger:2")

        assert target.uploadCharacteristics(0x01, characteristics) is True
        assert target.storeTemplate(7, 0x01) == 7
        assert b.status()["fingers"] == {"7": "finger:2"}
        # The copied template matches the same finger on the second reader.
        b.ok("press 7")
        assert target.readImage()
        target.convertImage(0x01)
        assert target.searchTemplate() == (7, 150)
        # A template made elsewhere (not one of the emulator's) is kept byte for byte.
        foreign = list(range(256)) * 2
        assert target.uploadCharacteristics(0x02, foreign) is True
        assert target.storeTemplate(8, 0x02) == 8
        assert target.loadTemplate(8, 0x01)
        assert target.downloadCharacteristics(0x01) == foreign

        assert target.deleteTemplate(7)
        assert target.getTemplateCount() == 1
        assert b.status()["templates"] == [8]


def test_pyfingerprint_sees_empty_pages_refused(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "fp", templates=1) as emu:
        sensor = PyFingerprint(str(emu.link), 57600, 0xFFFFFFFF, 0x00000000)
        with pytest.raises(Exception, match="The template could not be read"):
            sensor.loadTemplate(5, 0x01)
        with pytest.raises(Exception, match="Could not download characteristics"):
            sensor.downloadCharacteristics(0x02)  # nothing in CharBuffer 2


def test_our_packets_are_what_pyfingerprint_sends(tmp_path: Path) -> None:
    """Byte for byte: our DownChar + data packets and pyfingerprint's, as the emulated
    module receives them, leave the same template; and each reads the other's UpChar."""
    with EmulatorProcess(tmp_path / "fp", templates=2) as emu:
        sensor = PyFingerprint(str(emu.link), 57600, 0xFFFFFFFF, 0x00000000)
        data = template_bytes("finger:theirs")
        assert sensor.uploadCharacteristics(0x01, list(data))
        assert sensor.storeTemplate(5, 0x01) == 5
        del sensor  # pyfingerprint closes the port in __del__
        transport = SerialTransport(str(emu.link))
        with transport:
            client = ModuleClient(transport)
            client.handshake()
            assert client.read_template(5) == data
            ours = template_bytes("finger:ours")
            client.download(ours, 2)
            assert client.store(6, 2) == 0
            assert client.delete(0) == 0
        assert emu.status()["fingers"] == {
            "1": "finger:1",
            "5": "finger:theirs",
            "6": "finger:ours",
        }
        sensor = PyFingerprint(str(emu.link), 57600, 0xFFFFFFFF, 0x00000000)
        assert sensor.loadTemplate(6, 0x02)
        assert bytes(sensor.downloadCharacteristics(0x02)) == ours
